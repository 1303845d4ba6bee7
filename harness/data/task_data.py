"""A task's rows and records, read one way for ``harness run`` and ``harness validate`` alike.

One row-limit rule serves both commands, so ``validate`` checks exactly the rows a run with
the same ``--limit`` evaluates: the first ``min(num_rows, --limit)`` rows, whichever of the
two is set (all rows when neither is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.paths import resolve_inside
from harness.data.records import TaskData, build_task_data
from harness.data.sources import DatasetRows, DataSourceMode, load_rows
from harness.errors import DataError
from harness.taskspec.schema import TaskSpec

UNBOUNDED_ROWS = 2**63
"""The row limit when neither ``num_rows`` nor ``--limit`` is set. A number rather than None,
as runs have always passed: a hub table is then always narrowed with ``select``, so the
fingerprint recorded in the results is the one earlier runs recorded."""


@dataclass(frozen=True)
class LoadedTaskData:
    """The dataset rows read for a task (with their provenance) and the records built from them."""

    rows: DatasetRows
    data: TaskData


def row_limit(num_rows: int | None, limit: int | None) -> int:
    """How many rows to read: the smaller of the task's ``num_rows`` and the run's ``--limit``.

    Either may be None (not set); when both are, every row is read (:data:`UNBOUNDED_ROWS`).
    """
    return min(bound for bound in (num_rows, limit, UNBOUNDED_ROWS) if bound is not None)


def load_task_data(
    spec: TaskSpec, data_basedir: Path, data_source: DataSourceMode, limit: int | None
) -> LoadedTaskData:
    """Read the first :func:`row_limit` rows of ``spec``'s dataset and build its records, media checked.

    Raises ``DataError`` for a ``limit`` below 1 and for a dataset without rows; media paths are
    resolved under ``media_root`` (inside ``data_basedir``); the corpus and the qrels are read
    whole (the limit counts query rows only).
    """
    if limit is not None and limit < 1:
        raise DataError(f"task '{spec.task}': the row limit (--limit) must be at least 1, not {limit}")
    rows = load_rows(spec.dataset, data_basedir, data_source, limit=row_limit(spec.num_rows, limit))
    if not rows.rows:
        raise DataError(f"task '{spec.task}': the dataset has no rows")
    media_root = resolve_inside(data_basedir, spec.media_root, "media_root") if spec.media_root else data_basedir
    data = build_task_data(spec, rows, media_root, check_media=True, data_basedir=data_basedir, data_source=data_source)
    return LoadedTaskData(rows=rows, data=data)
