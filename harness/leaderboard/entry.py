"""The leaderboard entry standard (schema 2.0): one model on one benchmark version.

Scores are nested modality -> task -> metric and fractions in [0, 1]. Every field that makes a
number reproducible sits beside it: the model and its revision and adapter settings, how the
entry was produced (a harness run or an imported published score file), and each task's
version and dataset revision. ``harness leaderboard schema`` prints the JSON Schema generated
from these models; ``leaderboard/entry.schema.json`` is that output, kept in sync by a test.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ENTRY_SCHEMA_VERSION = "2.0"
"""Version of the entry format written by this harness."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"

_KEY_SEGMENT = r"[A-Za-z0-9]([A-Za-z0-9._+ -]*[A-Za-z0-9._+-])?"
KEY_PATTERN = rf"^{_KEY_SEGMENT}(/{_KEY_SEGMENT})*$"
"""Modality, task and meta-task names: letters, digits and ``._+-``, inner spaces allowed, in
segments separated by ``/`` (MMEB-V3 keys such as ``text/BRIGHT/aops``)."""
METRIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+@-]*$"
"""Metric names, e.g. ``hit@1`` or ``ndcg_linear@5``."""
MAX_KEY_LENGTH = 128
"""Longest modality, task, meta-task or metric name."""
MAX_NAME_LENGTH = 200
"""Longest model display name."""
MAX_COUNT = 2**53
"""Largest count (queries, parameters): the largest integer a JSON reader in a browser keeps exact."""

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=MAX_KEY_LENGTH)]
"""A modality, task or meta-task name."""
MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN, max_length=MAX_KEY_LENGTH)]
"""A metric name."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite JSON number: integers are accepted, NaN, infinities, booleans and strings are not."""
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
"""A non-negative JSON integer (not a boolean, not a float)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Benchmark(_Strict):
    """Which benchmark, in which version, the entry's tasks belong to."""

    name: str = Field(pattern=_NAME)
    """Benchmark (or harness group) name, e.g. mmeb_v2."""
    version: str = Field(pattern=_NAME)
    """Benchmark version, e.g. v2.0.1 for a published score set or a group's version for a run."""

    def key(self) -> str:
        """``name@version``, the form the CLI accepts."""
        return f"{self.name}@{self.version}"


class ModelCard(_Strict):
    """The model that produced the scores."""

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    """Display name (any text with a visible character; cleaned and escaped wherever it is shown)."""
    revision: str | None = None
    """Checkpoint revision (commit) when known."""
    adapter: str | None = None
    """Harness adapter that ran it (null for imported scores)."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """Adapter settings as given (pooling, pixels, dtype request ...)."""
    dtype: str | None = None
    """Compute dtype actually used."""
    num_parameters: Count | None = None
    """Parameter count when the adapter reports it."""


class Provenance(_Strict):
    """How and when the scores were produced."""

    kind: Literal["harness_run", "reference_import"]
    """A run of this harness, or a published score file imported verbatim."""
    date: str
    """When the scores were produced (ISO 8601)."""
    harness_version: str | None = None
    """Harness version of the run (null for imports)."""
    harness_commit: str | None = None
    """Git commit of the harness checkout of the run, when known."""
    python: str | None = None
    """Python version of the run."""
    packages: dict[str, str] = Field(default_factory=dict)
    """Key package versions of the run."""
    hardware: str | None = None
    """Device the run used (cpu, cuda ...)."""
    command: list[str] = Field(default_factory=list)
    """The command line of the run."""
    data_source: str | None = None
    """local, hub or auto (runs only)."""
    source: str | None = None
    """For imports: where the published numbers come from (project, path)."""
    source_sha256: str | None = None
    """For imports: SHA-256 of the imported score file."""


class TaskResult(_Strict):
    """One task's scores."""

    task_version: str = Field(min_length=1)
    """Version of the task definition (or published score set) that produced the scores."""
    meta_task: Key | None = None
    """Meta-task label, e.g. I-CLS."""
    main_metric: MetricName
    """Name of the main metric, e.g. hit@1."""
    main_score: Number = Field(ge=0.0, le=1.0)
    """Value of the main metric; must equal ``metrics[main_metric]``."""
    metrics: dict[MetricName, Number]
    """Every metric reported (fractions in [0, 1])."""
    num_queries: Count | None = None
    """Queries scored, when known."""
    dataset_revision: str | None = None
    """Revision of the dataset the rows came from, when known."""
    dataset: dict[str, Any] = Field(default_factory=dict)
    """Where the rows came from (kind, hub path or files, split)."""


class Aggregates(_Strict):
    """Unweighted means of main scores, recomputed and checked on every read and write."""

    overall: Number | None
    """Mean over all tasks of the entry (the MMEB "All" rule, not a mean of modality means)."""
    modalities: dict[Key, Number]
    """Mean over each modality's tasks."""
    meta_tasks: dict[Key, Number]
    """Mean over each meta-task's tasks."""


class LeaderboardEntry(_Strict):
    """One model on one benchmark version."""

    schema_version: Literal["2.0"] = "2.0"
    """Version of this file format."""
    benchmark: Benchmark
    model: ModelCard
    provenance: Provenance
    scores: dict[Key, dict[Key, TaskResult]]
    """modality (image, video, visdoc, text) -> task -> result."""
    aggregates: Aggregates

    def tasks(self) -> dict[str, tuple[str, TaskResult]]:
        """Every task as ``{task: (modality, result)}``."""
        return {task: (modality, result) for modality, tasks in self.scores.items() for task, result in tasks.items()}


def entry_json_schema() -> str:
    """The JSON Schema of an entry, as the text committed in ``leaderboard/entry.schema.json``."""
    schema = _names_as_property_names(LeaderboardEntry.model_json_schema())
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"mmeb-harness/leaderboard-entry/{ENTRY_SCHEMA_VERSION}",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _names_as_property_names(schema: Any) -> Any:
    """Pydantic writes a dict with patterned keys as ``patternProperties``, which lets any other key
    through; as ``propertyNames`` + ``additionalProperties`` every key must match, as on read."""
    if isinstance(schema, list):
        return [_names_as_property_names(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _names_as_property_names(value) for key, value in schema.items()}
    patterns = converted.pop("patternProperties", None)
    if patterns is not None:
        ((pattern, values),) = patterns.items()
        converted["propertyNames"] = {**converted.get("propertyNames", {}), "pattern": pattern}
        converted["additionalProperties"] = values
    return converted
