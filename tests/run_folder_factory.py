"""Run output folders written in code, in exactly the formats ``harness run`` writes.

A task is given either by its main score alone (score files only, for comparisons with published
numbers) or by one hit@1 outcome per query (0 or 1): then ``_pred.jsonl`` and ``_info.jsonl`` are
written too, each query ranking its positive first on a hit and second on a miss, and the score
file holds the metrics the harness's own ``score_rankings`` gives for those rankings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.metrics import score_rankings
from harness.results.aggregation import task_means
from harness.results.run_file import GroupScore, HarnessInfo, ModelInfo, RunFile, RunInfo, TaskScore, task_mains


@dataclass(frozen=True)
class Task:
    """One task of a synthetic run."""

    modality: str
    meta_task: str | None
    main_metric: str
    score: float | None = None
    """The main score, when no per-query outcomes are given."""
    num_queries: int = 10
    hits: Sequence[int] | None = None
    """hit@1 per query (writes the per-query files; ``main_metric`` must be hit@1)."""
    label_prefix: str = "q"
    """Labels are ``{label_prefix}{index}``: another prefix makes other queries."""


def write_run(folder: Path, tasks: dict[str, Task], limit: int | None = None, pretrained: str = "org/model") -> Path:
    """Write ``leaderboard.json`` and every task's files into ``folder``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    scores = {}
    for name, task in tasks.items():
        metrics, num = _write_task(folder, name, task)
        scores[name] = TaskScore(
            version="1.0",
            modality=task.modality,
            meta_task=task.meta_task,
            main_metric=task.main_metric,
            main_score=metrics[task.main_metric],
            metrics=metrics,
            num_queries=num,
            num_candidates=2,
            dataset={"kind": "local", "files": [f"{name}.jsonl"], "revision": None},
            source_file=f"/tasks/{name}.yaml",
        )
    means = task_means(task_mains(scores))
    run = RunFile(
        model=ModelInfo(name="vlm2vec", adapter_metadata={"adapter": "vlm2vec", "pretrained": pretrained}),
        harness=HarnessInfo(version="0.1.0", git_commit=None, python="3.11.7", packages={}),
        run=RunInfo(
            command=["harness", "run"],
            batch_size=4,
            limit=limit,
            data_source="local",
            data_basedir="/data",
            started_at="2026-01-01T00:00:00+00:00",
        ),
        tasks=scores,
        groups={
            "bench": GroupScore(
                version="1.0", aggregate="mean_of_tasks", score=means.overall, tasks=list(tasks), complete=True
            )
        },
        meta_tasks=means.meta_tasks,
        modalities=means.modalities,
        overall=means.overall,
    )
    (folder / "leaderboard.json").write_text(json.dumps(run.model_dump(mode="json"), indent=2))
    return folder


def _write_task(folder: Path, name: str, task: Task) -> tuple[dict[str, float], int]:
    if task.hits is None:
        assert task.score is not None
        metrics = {task.main_metric: task.score}
        num = task.num_queries
    else:
        assert task.main_metric == "hit@1"
        labels = [f"{task.label_prefix}{i}" for i in range(len(task.hits))]
        rankings = [[label, "other"] if hit else ["other", label] for label, hit in zip(labels, task.hits, strict=True)]
        metrics = score_rankings(rankings, [{label: 1.0} for label in labels])
        num = len(labels)
        with (folder / f"{name}_pred.jsonl").open("w") as handle:
            for label, ranking in zip(labels, rankings, strict=True):
                row = {"prediction": ranking, "label": [label], "rel_scores": None, "scores": [0.9, 0.1]}
                handle.write(json.dumps(row) + "\n")
        with (folder / f"{name}_info.jsonl").open("w") as handle:
            for label in labels:
                handle.write(json.dumps({"cand_names": [label, "other"], "label_name": label}) + "\n")
    score_file = {**metrics, "num_pred": num, "num_data": num}
    (folder / f"{name}_score.json").write_text(json.dumps(score_file, indent=4))
    return metrics, num


def hit_tasks(**tasks: Sequence[int]) -> dict[str, Task]:
    """Image tasks of meta-task X with these hit@1 outcomes."""
    return {name: Task("image", "X", "hit@1", hits=list(hits)) for name, hits in tasks.items()}
