"""The run file ``leaderboard.json`` (schema version 1.0), rewritten after every task of a run.

It holds what makes the run's numbers reproducible (model, revision, adapter settings, harness
version and commit, task versions, dataset provenance, dtype, device, date), every task's full
metric dict and main score, and the aggregates by the MMEB convention: group scores by each
group's own rule, modality means over tasks, and the overall mean over tasks (not over
modalities; the rules are :mod:`harness.results.aggregation`'s). Scores are fractions in [0, 1],
as in the reference's score files. The leaderboard entry (schema 2.0) is made from it by
:mod:`harness.leaderboard.migrate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from harness.encoder_metadata import EncoderMetadata, metadata_from_dict
from harness.errors import ModelError
from harness.results.aggregation import TaskMain

RUN_FILE_SCHEMA_VERSION = "1.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class SideEncoding(_Strict):
    """How one side (queries or candidates) of a task was encoded."""

    inputs: int
    """Queries or candidates of the side, duplicates included."""
    unique: int
    """Distinct inputs among them (each encoded or looked up once)."""
    cache_hits: int
    """Distinct inputs whose embedding came from the embedding cache."""
    forward_rows: int
    """Distinct inputs the model encoded (summed over the ranks of a distributed run)."""
    tokens: int = 0
    """Sequence lengths of the encoded inputs, summed."""
    padded_tokens: int = 0
    """Tokens the model ran on: each batch padded to its longest input (``1 - tokens/padded_tokens``
    is the padding share)."""
    exact_lengths: bool = False
    """True when the lengths are the adapter's exact counts (text and visual tokens); else estimates."""


class StageSeconds(_Strict):
    """Seconds a task spent in each stage (this process; the encode stages summed over both sides)."""

    load_data: float = 0.0
    """Reading rows, rendering templates, sampling videos."""
    plan: float = 0.0
    """Sequence lengths (tokenising, image headers) and the batch plan."""
    cache: float = 0.0
    """Embedding-cache keys (media hashes), lookups and commits."""
    preprocess: float = 0.0
    """Decoding, resizing and the processor, summed over the processes that did it (workers' time
    overlaps the forward, so it can exceed the wall); for an adapter that prepares and embeds in one
    call, included in ``forward``."""
    wait: float = 0.0
    """Time the model waited for a prepared batch: the preprocessing not hidden behind the forward."""
    forward: float = 0.0
    """The model's forward passes, embeddings read back to the host included."""
    score: float = 0.0
    """Ranking and metrics."""
    write: float = 0.0
    """Writing the task's files."""


class TaskScore(_Strict):
    """One task's result."""

    version: str
    """Version of the task definition that produced the score."""
    modality: str
    """The task file's modality: image, video, visdoc, text or tool."""
    meta_task: str | None = None
    """Meta-task label, e.g. I-CLS."""
    main_metric: str
    """Name of the main metric, e.g. hit@1."""
    main_score: float
    """Value of the main metric (0–1)."""
    metrics: dict[str, float]
    """Every metric computed (0–1)."""
    num_queries: int
    """Queries scored."""
    num_excluded: int = 0
    """Queries left out of scoring because no candidate is relevant to them (qrels tasks)."""
    num_candidates: int
    """Distinct candidates encoded."""
    dataset: dict[str, Any]
    """Where the rows came from: local files or hub path, config, split, revision."""
    source_file: str
    """The task file, as loaded."""
    degenerate_sides: list[Literal["query", "candidate"]] = Field(default_factory=list)
    """Sides whose distinct inputs all got the same embedding: the scores say nothing about the
    model (ties rank candidates in file order), so the run is not a leaderboard entry."""
    num_duplicate_candidate_rows: int = 0
    """Rows listing one candidate id more than once (scored as the reference does, which can
    push nDCG above 1)."""
    num_unmatched_positive_rows: int = 0
    """Rows whose positive is none of their candidates, scored 0 as the reference does (only for
    tasks that declare ``relevance.unmatched: score_zero``)."""
    warnings: list[str] = Field(default_factory=list)
    """Warnings about what the scores mean (input-independent embeddings, duplicate candidate
    ids, unmatched positives), as printed; also in the task's score file."""
    encoding: dict[Literal["query", "candidate"], SideEncoding] = Field(default_factory=dict)
    """Per side: inputs, distinct inputs, embedding-cache hits and forward rows, in this run (empty
    for a task kept from an earlier run)."""
    kept_from: str | None = None
    """The run id of the earlier run of the same settings whose finished task this is (kept, not
    computed again); None when this run computed it."""
    seconds: StageSeconds | None = None
    """Where the task's time went, when this run computed it."""


class GroupScore(_Strict):
    """A group's aggregate."""

    version: str
    """Version of the group definition."""
    aggregate: Literal["mean_of_tasks", "mean_of_children"]
    """How the score was computed from its members."""
    score: float | None
    """The aggregate (0–1); null when a member task is missing from the run."""
    tasks: list[str]
    """Leaf tasks under the group."""
    complete: bool
    """True when every leaf task was evaluated in this run."""


def _as_encoder_metadata(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, EncoderMetadata):
        try:
            return metadata_from_dict(value, source="run file model.adapter_metadata")
        except ModelError as error:  # pydantic reports ValueErrors with the field's location
            raise ValueError(str(error)) from None
    return value


class ModelInfo(_Strict):
    """The model as the adapter describes it (free-form beyond the named keys)."""

    model_config = ConfigDict(extra="allow")

    name: str
    """Registry name given as --model."""
    adapter_metadata: Annotated[EncoderMetadata, BeforeValidator(_as_encoder_metadata)]
    """What the adapter reported (checkpoint, revision, settings, dtype, device, attention,
    parameter count ...): :class:`harness.encoder_metadata.EncoderMetadata`. A plain mapping (an
    older run file, a plugin) is read as one, its unknown keys under ``details``."""


class HarnessInfo(_Strict):
    """The harness build that produced the entry."""

    version: str
    git_commit: str | None
    python: str
    packages: dict[str, str]


class RunInfo(_Strict):
    """How the run was invoked."""

    command: list[str]
    batch_size: int
    limit: int | None
    """Rows per task were capped at this number (a partial run) when set."""
    data_source: str
    data_basedir: str
    started_at: str
    finished_at: str | None = None
    world_size: int = 1
    """Processes that shared the encoding (torchrun ranks); 1 for a single-process run."""
    run_id: str | None = None
    """Id of the run, as in the output folder's marker (``harness_run.json``)."""
    max_batch_tokens: int | None = None
    """Cap on a batch's padded tokens, when one was set."""
    num_workers: int = 0
    """Preprocessing worker processes per rank (0: batches prepared in the model's process)."""
    model_threads: int | None = None
    """Torch threads of the model's process while workers ran on a CPU (None: torch's default). A
    different thread count changes float rounding (embeddings within ~1e-7), never more."""
    metrics_compat: Literal["harness", "reference"] = "harness"
    """How graded qrels paired grades with documents: ``harness`` (each grade with its document) or
    ``reference`` (the reference's ``set()`` pairing, ``--metrics_compat reference``)."""
    audio_max_seconds: float | None = None
    """The run-wide audio head crop (``--audio_max_seconds``) that replaced the audio tasks'
    ``audio.max_seconds``, when one was given."""


class RunFile(_Strict):
    """The run file (``leaderboard.json``): one run of one model over a set of tasks."""

    schema_version: str = RUN_FILE_SCHEMA_VERSION
    """Version of this file format."""
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    model: ModelInfo
    harness: HarnessInfo
    run: RunInfo
    tasks: dict[str, TaskScore] = Field(default_factory=dict)
    groups: dict[str, GroupScore] = Field(default_factory=dict)
    meta_tasks: dict[str, float] = Field(default_factory=dict)
    """Unweighted mean of main scores over the run's tasks of each meta-task (e.g. I-CLS)."""
    modalities: dict[str, float] = Field(default_factory=dict)
    """Unweighted mean of main scores over the run's tasks of each modality."""
    overall: float | None = None
    """Unweighted mean of main scores over all tasks of the run (the MMEB "All" rule)."""


def task_mains(tasks: Mapping[str, TaskScore]) -> dict[str, TaskMain]:
    """The run's tasks as aggregation sees them."""
    return {name: TaskMain(score.modality, score.meta_task, score.main_score) for name, score in tasks.items()}
