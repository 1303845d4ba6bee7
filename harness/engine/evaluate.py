"""Evaluate one task: rows → records → embeddings → rankings → metrics → files.

A query with no relevant candidate (a qrels task whose qrels name none for it) cannot be
scored: it is left out of the embeddings, rankings and files, counted as ``num_excluded`` in
the score file and the leaderboard, and reported in one warning line on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from harness.data import DataSourceMode, TaskData, build_task_data, load_rows, resolve_inside
from harness.distributed import World
from harness.engine.encode import Embeddings, NonFiniteEmbeddingError, ProgressHook, encode_unique, unique_inputs
from harness.engine.maxsim import rank_global_maxsim, rank_local_maxsim
from harness.engine.rank import Rankings, rank_global, rank_local
from harness.engine.sanity import (
    degenerate_warning,
    duplicate_candidate_rows,
    duplicate_warning,
    non_finite_error,
    unmatched_warning,
)
from harness.engine.tokens import TokenStore
from harness.errors import DataError, MediaError
from harness.inputs import EncodeInput, Side
from harness.media.image import image_name
from harness.metrics import score_rankings
from harness.models.base import Encoder
from harness.results.files import task_paths, write_embeddings, write_json, write_jsonl
from harness.results.run_file import TaskScore
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


class EncodingProgress(Protocol):
    """Receives progress of the two encoding stages of a task."""

    def __call__(self, task: str, side: Side, total: int) -> ProgressHook: ...


def evaluate_task(
    loaded: LoadedTask,
    encoder: Encoder,
    options: EvalOptions,
    progress: EncodingProgress | None = None,
    world: World | None = None,
) -> TaskScore | None:
    """Evaluate ``loaded`` with ``encoder``, write its five files, and return its score.

    In a distributed run every rank encodes its share; rank 0 alone ranks, scores and writes,
    and the other ranks return ``None``.
    """
    spec = loaded.spec
    limit = min(x for x in (spec.num_rows, options.limit, 2**63) if x is not None)
    rows = load_rows(spec.dataset, options.data_basedir, options.data_source, limit=limit)
    if not rows.rows:
        raise DataError(f"task '{spec.task}': the dataset has no rows")
    media_root = (
        resolve_inside(options.data_basedir, spec.media_root, "media_root") if spec.media_root else options.data_basedir
    )
    data = build_task_data(spec, rows, media_root, data_basedir=options.data_basedir, data_source=options.data_source)
    warnings: list[str] = []
    num_excluded = _exclude_unscorable(spec.task, data)
    duplicates = duplicate_candidate_rows(data)
    if duplicates:
        _warn(warnings, duplicate_warning(spec.task, duplicates, len(data.queries)))
    unmatched = len(data.unmatched_positive_rows)
    if unmatched:
        _warn(warnings, unmatched_warning(spec.task, data.unmatched_positive_rows, len(data.queries)))

    queries = _encode_side(encoder, [q.input for q in data.queries], "query", spec.task, data, options, progress, world)
    candidate_ids = list(data.candidates)
    candidates = _encode_side(
        encoder, [data.candidates[i] for i in candidate_ids], "candidate", spec.task, data, options, progress, world
    )
    if queries is None or candidates is None:  # not rank 0: its share is sent
        return None
    degenerate: list[Side] = []
    sides: tuple[tuple[Side, EncodedSide], ...] = (("query", queries), ("candidate", candidates))
    for side, encoded in sides:
        if isinstance(encoded.embeddings, np.ndarray):  # token matrices are not checked
            message = degenerate_warning(spec.task, side, encoded.embeddings)
            if message is not None:
                degenerate.append(side)
                _warn(warnings, message)

    notes = {
        "warnings": warnings,
        "num_duplicate_candidate_rows": duplicates,
        "num_unmatched_positive_rows": unmatched,
    }
    try:
        metrics = _score_and_write(loaded, data, (queries, candidates), candidate_ids, options, num_excluded, notes)
    finally:
        for encoded in (queries, candidates):
            if isinstance(encoded.embeddings, TokenStore):
                encoded.embeddings.close()
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
        dataset={**rows.provenance, "split": spec.dataset.split, "revision": spec.dataset.revision, **data.sources},
        source_file=str(loaded.source),
        degenerate_sides=degenerate,
        num_duplicate_candidate_rows=duplicates,
        num_unmatched_positive_rows=unmatched,
        warnings=warnings,
    )


def _score_and_write(
    loaded: LoadedTask,
    data: TaskData,
    embeddings: tuple[EncodedSide, EncodedSide],
    candidate_ids: list[str],
    options: EvalOptions,
    num_excluded: int,
    notes: Mapping[str, object],
) -> dict[str, float]:
    """Rank, score and write the task's five files; return its metrics.

    ``notes`` (warnings, duplicate-candidate rows) join the score file when they say something,
    so a clean task's score file keeps exactly the reference's keys.
    """
    spec = loaded.spec
    depth = None if options.predictions == "full" else max(options.top_k, *spec.metrics.k)
    rankings = _rank(spec.ranking, embeddings[0], embeddings[1], candidate_ids, data, depth)
    relevances = [dict(q.relevance) for q in data.queries]
    metrics = score_rankings(rankings.ids, relevances, spec.metrics.families, spec.metrics.k)
    counts = {"num_pred": len(rankings.ids), "num_data": len(data.queries)}
    if spec.relevance.kind == "qrels":
        counts["num_excluded"] = num_excluded
    extra = {key: value for key, value in notes.items() if value}
    _write_task_files(options.output_dir, spec.task, data, embeddings, candidate_ids, rankings, spec.relevance.kind)
    write_json(task_paths(options.output_dir, spec.task)["score"], {**metrics, **counts, **extra})
    return metrics


def _exclude_unscorable(task: str, data: TaskData) -> int:
    """Drop the queries that have no relevant candidate; warn with their count."""
    scorable = [q for q in data.queries if q.relevance]
    excluded = len(data.queries) - len(scorable)
    if not scorable:
        raise DataError(f"task '{task}': no query has a relevant candidate (check the qrels and query ids)")
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


@dataclass
class EncodedSide:
    """The embeddings of one side's distinct inputs and, per query or candidate, its row among them."""

    embeddings: Embeddings
    rows: np.ndarray

    def dense(self) -> np.ndarray:
        """One embedding per query or candidate (single-vector encoders only)."""
        if isinstance(self.embeddings, TokenStore):
            raise TypeError("token-matrix embeddings have no dense form")
        return self.embeddings[self.rows]


def _encode_side(
    encoder: Encoder,
    inputs: Sequence[EncodeInput],
    side: Side,
    task: str,
    data: TaskData,
    options: EvalOptions,
    progress: EncodingProgress | None,
    world: World | None,
) -> EncodedSide | None:
    distinct, inverse = unique_inputs(inputs)
    hook: ProgressHook | None = progress(task, side, len(distinct)) if progress is not None else None

    def explain(error: Exception) -> Exception:
        if isinstance(error, MediaError):
            return DataError(f"task '{task}', {_row_of_media(data, error.path)}: {error}")
        if isinstance(error, NonFiniteEmbeddingError):
            return non_finite_error(error, task, side, distinct, data)
        return error

    stage = f"encoding the {side} inputs of task '{task}'"
    try:
        embeddings = encode_unique(encoder, distinct, side, options.batch_size, hook, world, stage, explain)
    except (MediaError, NonFiniteEmbeddingError) as error:
        raise explain(error) from None
    return None if embeddings is None else EncodedSide(embeddings, inverse)


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
    names = {image_name(item.image)} if item.image is not None else set()
    if item.video is not None:
        names.add(str(item.video.source))
    return names


def _rank(
    mode: str,
    queries: EncodedSide,
    candidates: EncodedSide,
    candidate_ids: list[str],
    data: TaskData,
    depth: int | None,
) -> Rankings:
    lists = [q.candidate_ids for q in data.queries]
    if isinstance(queries.embeddings, TokenStore) and isinstance(candidates.embeddings, TokenStore):
        if mode == "local":
            stored = {candidate_id: int(row) for candidate_id, row in zip(candidate_ids, candidates.rows, strict=True)}
            return rank_local_maxsim(queries.embeddings, queries.rows, candidates.embeddings, stored, lists, depth)
        return rank_global_maxsim(
            queries.embeddings, queries.rows, candidates.embeddings, candidates.rows, candidate_ids, depth
        )
    if mode == "local":
        rows = {candidate_id: i for i, candidate_id in enumerate(candidate_ids)}
        return rank_local(queries.dense(), candidates.dense(), rows, lists, depth)
    return rank_global(queries.dense(), candidates.dense(), candidate_ids, depth)


def _write_task_files(
    output_dir: Path,
    task: str,
    data: TaskData,
    embeddings: tuple[EncodedSide, EncodedSide],
    candidate_ids: list[str],
    rankings: Rankings,
    relevance_kind: str,
) -> None:
    graded = relevance_kind == "qrels"
    paths = task_paths(output_dir, task)
    query_ids = [str(i) for i in range(len(data.queries))]
    for path, side, ids in ((paths["qry"], embeddings[0], query_ids), (paths["tgt"], embeddings[1], candidate_ids)):
        if isinstance(side.embeddings, TokenStore):
            side.embeddings.write(path, side.rows, ids)
        else:
            write_embeddings(path, side.dense(), ids)
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
