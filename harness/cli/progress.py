"""Rich progress bars for encoding and the end-of-run summary table."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from harness.engine.encode import ProgressHook
from harness.engine.run import RunResult
from harness.inputs import Side
from harness.results.files import ENTRY_FILE
from harness.results.run_file import RunFile, TaskScore
from harness.taskspec.index import LoadedTask

_ERR = Console(stderr=True)


class RichReporter:
    """Shows one progress bar per encoding stage and a line per finished task (on stderr)."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=_ERR,
            transient=True,
        )

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def message(self, text: str) -> None:
        """Print a status line."""
        _say(text)

    def task_started(self, task: LoadedTask, position: int, total: int) -> None:
        """Announce a task."""
        self._progress.console.print(f"[{position}/{total}] {task.spec.task}", markup=False, highlight=False)

    def encoding(self, task: str, side: Side, total: int) -> ProgressHook:
        """A progress bar for one encoding stage; returns the hook that advances it."""
        label = f"  {task}: {side}s"
        bar = self._progress.add_task(label, total=total)
        done = [0, 0]  # inputs done, of which from the cache

        def advance(count: int, *, cached: int = 0) -> None:
            done[0] += count
            done[1] += cached
            description = f"{label} ({done[1]} cached)" if done[1] else label
            self._progress.update(bar, advance=count, description=description)
            if done[0] >= total:
                self._progress.remove_task(bar)

        return advance

    def task_kept(self, task: LoadedTask, position: int, total: int, score: TaskScore) -> None:
        """Announce a task kept from an earlier run of the same settings."""
        self._progress.console.print(
            f"[{position}/{total}] {task.spec.task}: finished earlier, kept "
            f"({score.main_metric} = {100 * score.main_score:.2f}; --overwrite recomputes)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def task_finished(self, task: LoadedTask, score: TaskScore) -> None:
        """Print the main score of a finished task (and what the embedding cache gave)."""
        unique = sum(side.unique for side in score.encoding.values())
        hits = sum(side.cache_hits for side in score.encoding.values())
        cached = f"; {hits} of {unique} distinct inputs from the cache" if hits else ""
        self._progress.console.print(
            f"      {score.main_metric} = {100 * score.main_score:.2f}  ({score.num_queries} queries, "
            f"{score.num_candidates} candidates{cached})",
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line per task, whatever the terminal's width
        )


def print_summary(entry: RunFile) -> None:
    """The summary table (scores ×100, as leaderboards show them) on stdout."""
    table = Table(title=f"{entry.model.name}: {entry.model.adapter_metadata.pretrained or ''}")
    for column in ("name", "kind", "metric", "score", "n"):
        table.add_column(column, justify="right" if column in ("score", "n") else "left")
    for row in summary_rows(entry):
        score = "—" if row["score"] is None else f"{100 * row['score']:.2f}"
        table.add_row(row["name"], row["kind"], row["metric"], score, "" if row["n"] is None else str(row["n"]))
    Console().print(table)
    if entry.run.limit is not None:
        _ERR.print(f"note: --limit {entry.run.limit}: partial run, not comparable with published numbers", markup=False)


def summary_rows(entry: RunFile) -> list[dict[str, Any]]:
    """Rows for the end-of-run table: tasks, then groups, modalities and overall."""
    rows: list[dict[str, Any]] = [
        {"name": name, "kind": "task", "metric": s.main_metric, "score": s.main_score, "n": s.num_queries}
        for name, s in entry.tasks.items()
    ]
    rows += [
        {"name": name, "kind": "group", "metric": g.aggregate, "score": g.score, "n": len(g.tasks)}
        for name, g in entry.groups.items()
    ]
    rows += [
        {"name": meta, "kind": "meta-task", "metric": "mean of tasks", "score": value, "n": None}
        for meta, value in entry.meta_tasks.items()
        if meta not in entry.groups
    ]
    rows += [
        {"name": modality, "kind": "modality", "metric": "mean of tasks", "score": value, "n": None}
        for modality, value in entry.modalities.items()
    ]
    rows.append(
        {"name": "overall", "kind": "overall", "metric": "mean of tasks", "score": entry.overall, "n": len(entry.tasks)}
    )
    return rows


def report_run(result: RunResult) -> None:
    """After a run (main process only): the summary table, where the files are, and the leaderboard
    entry, written when the run is one (a full run of one complete benchmark group) or why not."""
    if not result.is_main:
        return
    from harness.leaderboard import publish_run

    print_summary(result.run_file)
    _say(f"results: {result.output_dir}/ (run file {result.path.name})")
    entry_path, note = publish_run(result.run_file, result.output_dir / ENTRY_FILE)
    if entry_path is not None:
        _say(f"leaderboard entry: {entry_path} (add it with `harness leaderboard add`)")
    else:
        _say(f"no leaderboard entry written: {note}")


def _say(text: str) -> None:
    _ERR.print(text, markup=False, highlight=False, soft_wrap=True)  # paths stay copyable
