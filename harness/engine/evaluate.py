"""Evaluate one task: rows → records → embeddings → rankings → metrics → files.

A query with no relevant candidate (a qrels task whose qrels name none for it) cannot be
scored: it is left out of the embeddings, rankings and files, counted as ``num_excluded`` in
the score file and the leaderboard, and reported in one warning line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.data import DataSourceMode, TaskData, load_task_data
from harness.distributed import SINGLE_PROCESS, World
from harness.encoder_metadata import encoder_metadata
from harness.engine.embedding_cache import EncodeCounts, RunCache
from harness.engine.embeddings import Embeddings
from harness.engine.encode import BatchOptions, ProgressHook, encode_distinct, unique_inputs
from harness.engine.encoding import Encoding, Workers, encoding_for
from harness.engine.finite import NonFiniteEmbeddingError
from harness.engine.grade_pairing import MetricsCompat, scores_with_pairing
from harness.engine.rank import Rankings
from harness.engine.sanity import (
    duplicate_candidate_rows,
    duplicate_warning,
    missing_images_warning,
    non_finite_error,
    unmatched_warning,
)
from harness.engine.timing import StageClock
from harness.errors import DataError, MediaError, ModelError
from harness.inputs import EncodeInput, Side
from harness.media.audio import audio_name
from harness.media.image import image_name
from harness.models.base import Encoder, accepts_audio, accepts_image_lists
from harness.models.late_interaction.protocol import MultiVectorEncoder
from harness.results.files import task_paths, write_json, write_jsonl
from harness.results.run_file import SideEncoding, StageSeconds, TaskScore
from harness.taskspec.index import LoadedTask


@dataclass(frozen=True)
class EvalOptions:
    """Run-wide settings that every task uses."""

    data_basedir: Path
    output_dir: Path
    batch_size: int = 16
    limit: int | None = None
    data_source: DataSourceMode = "auto"
    predictions: Literal["topk", "full"] = "topk"
    top_k: int = 10
    """Ranked candidates kept per query in ``{task}_pred.jsonl`` (at least the largest metric k)."""
    max_batch_tokens: int | None = None
    """Cap on a batch's padded tokens (``--max_batch_tokens``); None: ``batch_size`` alone decides."""
    workers: Workers = field(default_factory=Workers)
    """Preprocessing workers (``--num_workers``) and pinned memory."""
    metrics_compat: MetricsCompat = "harness"
    """How graded qrels pair grades with documents (``--metrics_compat``, see :mod:`harness.engine.grade_pairing`)."""
    audio_max_seconds: float | None = None
    """The run's ``--audio_max_seconds``, already applied to the audio tasks' specs; kept to be recorded."""

    def batching(self) -> BatchOptions:
        """The batching options of every side."""
        return BatchOptions(self.batch_size, self.max_batch_tokens, self.workers)


class EncodingProgress(Protocol):
    """Receives progress of the two encoding stages of a task."""

    def __call__(self, task: str, side: Side, total: int) -> ProgressHook: ...


def evaluate_task(
    loaded: LoadedTask,
    encoder: Encoder | MultiVectorEncoder,
    options: EvalOptions,
    progress: EncodingProgress | None = None,
    world: World = SINGLE_PROCESS,
    cache: RunCache | None = None,
) -> TaskScore | None:
    """Evaluate ``loaded`` with ``encoder``, write its five files, and return its score.

    With ``cache``, embeddings found there are not encoded again and new ones are stored. In a
    distributed run every rank encodes its share; rank 0 alone ranks, scores and writes, and the
    other ranks return ``None``.
    """
    spec = loaded.spec
    clock = StageClock()
    with clock.measure("load_data"):
        loaded_data = load_task_data(spec, options.data_basedir, options.data_source, options.limit)
    data = loaded_data.data
    _check_media_accepted(spec.task, encoder, data)
    warnings: list[str] = []
    keep_all = getattr(spec.relevance, "no_relevant", "exclude") == "score_zero"
    num_excluded = _exclude_unscorable(spec.task, data, keep_all)
    duplicates, unmatched = _row_warnings(spec.task, data, warnings)
    encode = _SideEncoder(encoding_for(encoder), spec.task, data, options, progress, world, cache, clock)
    candidate_ids = list(data.candidates)
    with ExitStack() as held:  # the embeddings (token files) are released however the task ends
        queries = encode(held, [q.input for q in data.queries], "query")
        candidates = encode(held, [data.candidates[i] for i in candidate_ids], "candidate")
        if queries is None or candidates is None:  # not rank 0: its share is sent
            return None
        degenerate = _degenerate_sides(spec.task, (("query", queries), ("candidate", candidates)), warnings)
        notes = {
            "warnings": warnings,
            "num_duplicate_candidate_rows": duplicates,
            "num_unmatched_positive_rows": unmatched,
        }
        metrics = _score_and_write(
            loaded, data, (queries, candidates), candidate_ids, options, num_excluded, notes, clock
        )
    return TaskScore(
        version=spec.version,
        modality=spec.modality,
        meta_task=loaded.meta_task,
        main_metric=spec.metrics.main,
        main_score=metrics[spec.metrics.main],
        metrics=metrics,
        num_queries=len(data.queries),
        num_excluded=num_excluded,
        num_candidates=len(candidate_ids),
        dataset={
            **loaded_data.rows.provenance,
            "split": spec.dataset.split,
            "revision": spec.dataset.revision,
            **data.sources,
        },
        source_file=str(loaded.source),
        degenerate_sides=degenerate,
        num_duplicate_candidate_rows=duplicates,
        num_unmatched_positive_rows=unmatched,
        warnings=warnings,
        encoding={side: SideEncoding(**vars(counts)) for side, counts in encode.counts.items()},
        seconds=StageSeconds(**clock.rounded()),
    )


def _check_media_accepted(task: str, encoder: Encoder | MultiVectorEncoder, data: TaskData) -> None:
    """A ``ModelError`` before anything is encoded when the task has audio or image lists the
    adapter cannot take."""
    kinds = (
        ("audio", "audio", accepts_audio, lambda item: item.audio is not None),
        ("image lists", "image lists (several images, or a slot without one)", accepts_image_lists, _has_list),
    )
    for kind, has, accepts, carries in kinds:
        if accepts(encoder):
            continue
        first = next((q.location for q in data.queries if carries(q.input)), None)
        side = "queries"
        if first is None:
            side = "candidates"
            first = next((data.candidate_locations[i] for i, c in data.candidates.items() if carries(c)), None)
        if first is None:
            continue
        adapter = encoder_metadata(encoder).adapter or type(encoder).__name__
        raise ModelError(
            f"task '{task}': adapter '{adapter}' does not encode {kind}, but the task's {side} have {has} "
            f"(first: {first}); run it with an adapter that takes {kind}"
        )


def _has_list(item: EncodeInput) -> bool:
    return bool(item.images)


def _row_warnings(task: str, data: TaskData, warnings: list[str]) -> tuple[int, int]:
    """Warn about rows with duplicate candidate ids and rows whose positive is no candidate; their counts."""
    duplicates = duplicate_candidate_rows(data)
    if duplicates:
        _warn(warnings, duplicate_warning(task, duplicates, len(data.queries)))
    unmatched = len(data.unmatched_positive_rows)
    if unmatched:
        _warn(warnings, unmatched_warning(task, data.unmatched_positive_rows, len(data.queries)))
    if data.missing_images:
        _warn(warnings, missing_images_warning(task, data.missing_images))
    return duplicates, unmatched


def _degenerate_sides(task: str, sides: Sequence[tuple[Side, Embeddings]], warnings: list[str]) -> list[Side]:
    """The sides whose distinct inputs all got one embedding, each warned about (token matrices are not checked)."""
    degenerate: list[Side] = []
    for side, embeddings in sides:
        message = embeddings.degenerate_warning(task, side)
        if message is not None:
            degenerate.append(side)
            _warn(warnings, message)
    return degenerate


def _score_and_write(
    loaded: LoadedTask,
    data: TaskData,
    embeddings: tuple[Embeddings, Embeddings],
    candidate_ids: list[str],
    options: EvalOptions,
    num_excluded: int,
    notes: Mapping[str, object],
    clock: StageClock,
) -> dict[str, float]:
    """Rank, score and write the task's five files; return its metrics.

    ``notes`` (warnings, duplicate-candidate rows) join the score file when they say something,
    so a clean task's score file keeps exactly the reference's keys.
    """
    spec = loaded.spec
    depth = None if options.predictions == "full" else max(options.top_k, *spec.metrics.k)
    with clock.measure("score"):
        relevances = [dict(q.relevance) for q in data.queries]
        uncut_mrr = "mrr" in spec.metrics.families and spec.metrics.definitions == "vlm2vec-44f991d"
        rankings = _rank(
            spec.ranking, embeddings[0], embeddings[1], candidate_ids, data, depth, relevances if uncut_mrr else None
        )
        scored = scores_with_pairing(spec, data, rankings, relevances, options.metrics_compat)
        metrics = scored.metrics
    counts = {"num_pred": len(rankings.ids), "num_data": len(data.queries)}
    if spec.relevance.kind == "qrels":
        counts["num_excluded"] = num_excluded
    extra = {key: value for key, value in notes.items() if value} | scored.extra
    with clock.measure("write"):
        _write_task_files(options.output_dir, spec.task, data, embeddings, candidate_ids, rankings, spec.relevance.kind)
        write_json(task_paths(options.output_dir, spec.task)["score"], {**metrics, **counts, **extra})
    return metrics


def _exclude_unscorable(task: str, data: TaskData, keep_all: bool = False) -> int:
    """Drop the queries that have no relevant candidate (unless ``keep_all``: they score 0); warn with their count."""
    scorable = [q for q in data.queries if q.relevance]
    if not scorable:
        raise DataError(f"task '{task}': no query has a relevant candidate (check the qrels and query ids)")
    if keep_all:
        return 0
    excluded = len(data.queries) - len(scorable)
    if excluded:  # counted in the score file as num_excluded, as the reference's visdoc files
        print(
            f"warning: task '{task}': {excluded} of {len(data.queries)} queries have no relevant document "
            f"and are not scored (first: {next(q.location for q in data.queries if not q.relevance)})",
            file=sys.stderr,
        )
    data.queries = scorable
    return excluded


def _warn(warnings: list[str], message: str) -> None:
    """Print a warning line on stderr and keep it for the results."""
    print(f"warning: {message}", file=sys.stderr)
    warnings.append(message)


class _SideEncoder:
    """Encodes one side of a task: its distinct inputs, with progress, errors explained for people."""

    def __init__(
        self,
        encoding: Encoding[Any],
        task: str,
        data: TaskData,
        options: EvalOptions,
        progress: EncodingProgress | None,
        world: World,
        cache: RunCache | None = None,
        clock: StageClock | None = None,
    ) -> None:
        self.clock = clock if clock is not None else StageClock()
        self.encoding = encoding
        self.task = task
        self.data = data
        self.options = options
        self.progress = progress
        self.world = world
        self.cache = cache
        self.counts: dict[Side, EncodeCounts] = {}
        """What each side took to encode, filled in as the sides are encoded."""

    def __call__(self, held: ExitStack, inputs: Sequence[EncodeInput], side: Side) -> Embeddings | None:
        """The embeddings of ``inputs`` (released when ``held`` closes); ``None`` off rank 0."""
        distinct, inverse = unique_inputs(inputs)
        hook = self.progress(self.task, side, len(distinct)) if self.progress is not None else None

        def explain(error: Exception) -> Exception:
            if isinstance(error, MediaError):
                return DataError(f"task '{self.task}', {_row_of_media(self.data, error.path)}: {error}")
            if isinstance(error, NonFiniteEmbeddingError):
                return non_finite_error(error, self.task, side, distinct, self.data)
            return error

        stage = f"encoding the {side} inputs of task '{self.task}'"
        counts = self.counts.setdefault(side, EncodeCounts(inputs=len(inputs), unique=len(distinct)))
        table = encode_distinct(
            self.encoding,
            distinct,
            side,
            self.options.batching(),
            self.world,
            hook,
            stage,
            explain,
            cache=self.cache,
            counts=counts,
            clock=self.clock,
        )
        return None if table is None else held.enter_context(self.encoding.embeddings(table, inverse))


def _row_of_media(data: TaskData, name: str) -> str:
    """The first row using the media named in a ``MediaError`` (image path, bytes digest, video)."""
    for query in data.queries:
        if name in _media_names(query.input):
            return query.location
    for candidate_id, candidate in data.candidates.items():
        if name in _media_names(candidate):
            return data.candidate_locations[candidate_id]
    return "unknown row"


def _media_names(item: EncodeInput) -> set[str]:
    names = {image_name(image) for image in item.all_images()}
    if item.video is not None:
        names.add(str(item.video.source))
    if item.audio is not None:
        names.add(audio_name(item.audio.source))
    return names


def _rank(
    mode: str,
    queries: Embeddings,
    candidates: Embeddings,
    candidate_ids: list[str],
    data: TaskData,
    depth: int | None,
    relevant: Sequence[Collection[str]] | None = None,
) -> Rankings:
    if mode == "local":
        lists = [q.candidate_ids for q in data.queries]
        return queries.rank_local(candidates, candidate_ids, lists, depth, relevant=relevant)
    return queries.rank_global(candidates, candidate_ids, depth, relevant=relevant)


def _write_task_files(
    output_dir: Path,
    task: str,
    data: TaskData,
    embeddings: tuple[Embeddings, Embeddings],
    candidate_ids: list[str],
    rankings: Rankings,
    relevance_kind: str,
) -> None:
    graded = relevance_kind == "qrels"
    paths = task_paths(output_dir, task)
    query_ids = [str(i) for i in range(len(data.queries))]
    embeddings[0].write(paths["qry"], query_ids)
    embeddings[1].write(paths["tgt"], candidate_ids)
    write_jsonl(paths["info"], (_info_row(q.candidate_ids, q.relevance, relevance_kind) for q in data.queries))
    write_jsonl(
        paths["pred"],
        (
            {
                "prediction": ids,
                "label": list(query.relevance),
                "rel_scores": _grades(query.relevance) if graded else None,
                "scores": ranked_scores,
            }
            for query, ids, ranked_scores in zip(data.queries, rankings.ids, rankings.scores, strict=True)
        ),
    )


def _info_row(candidate_ids: Sequence[str], relevance: Mapping[str, float], relevance_kind: str) -> dict[str, object]:
    labels = list(relevance)
    if relevance_kind == "ids_template":  # several positives: always a list, as the reference
        return {"cand_names": list(candidate_ids), "label_name": labels}
    if relevance_kind == "qrels":
        # As the reference's visdoc rows: the positives are the query's own candidates, label_name
        # is a list and rel_scores its grades (carried as one mapping here, so never mis-paired).
        return {"cand_names": list(candidate_ids) or labels, "label_name": labels, "rel_scores": _grades(relevance)}
    return {"cand_names": list(candidate_ids), "label_name": labels[0] if len(labels) == 1 else labels}


def _grades(relevance: Mapping[str, float]) -> list[float | int]:
    """Grades in label order; whole numbers as integers, as the reference writes them."""
    return [int(g) if float(g).is_integer() else g for g in relevance.values()]
