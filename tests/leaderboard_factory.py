"""Builders for leaderboard tests: small, valid run results files and entries, made in code;
and :class:`PageStructure`, what a built page is made of, for the escaping tests."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from harness.leaderboard import Aggregates, Benchmark, LeaderboardEntry, entry_from_payload
from harness.results.aggregation import task_means
from harness.results.run_file import (
    GroupScore,
    HarnessInfo,
    ModelInfo,
    RunInfo,
    TaskScore,
    task_mains,
)
from harness.results.run_file import RunFile as RunEntry

DEFAULT_TASKS = {
    "alpha": ("image", "X-CLS", 0.5),
    "beta": ("image", "X-RET", 0.25),
    "gamma": ("visdoc", "Y-RET", 0.75),
}
"""task -> (modality, meta-task, main score)."""


def run_payload(
    tasks: dict[str, tuple[str, str, float]] | None = None,
    pretrained: str = "org/model-a",
    group: str = "bench",
    version: str = "1.0",
    task_version: str = "1.0",
) -> dict[str, Any]:
    """A ``harness run`` results file (schema 1.0) whose aggregates are consistent."""
    tasks = DEFAULT_TASKS if tasks is None else tasks
    scores = {
        name: TaskScore(
            version=task_version,
            modality=modality,
            meta_task=meta,
            main_metric="hit@1",
            main_score=score,
            metrics={"hit@1": score, "hit@5": min(1.0, score + 0.1)},
            num_queries=10,
            num_candidates=20,
            dataset={"kind": "local", "files": [f"{name}.jsonl"], "revision": None},
            source_file=f"/tasks/{name}.yaml",
        )
        for name, (modality, meta, score) in tasks.items()
    }
    means = task_means(task_mains(scores))
    modalities, overall = means.modalities, means.overall
    run = RunEntry(
        model=ModelInfo(
            name="vlm2vec",
            adapter_metadata={"adapter": "vlm2vec", "pretrained": pretrained, "revision": "abc123", "device": "cpu"},
        ),
        harness=HarnessInfo(version="0.1.0", git_commit="deadbeef", python="3.11.7", packages={}),
        run=RunInfo(
            command=["harness", "run"],
            batch_size=4,
            limit=None,
            data_source="local",
            data_basedir="/data",
            started_at="2026-01-01T00:00:00+00:00",
            finished_at="2026-01-01T00:01:00+00:00",
        ),
        tasks=scores,
        groups={
            group: GroupScore(
                version=version, aggregate="mean_of_tasks", score=overall, tasks=list(tasks), complete=True
            )
        },
        meta_tasks=means.meta_tasks,
        modalities=modalities,
        overall=overall,
    )
    return run.model_dump(mode="json")


def make_entry(name: str | None = None, **kwargs: Any) -> LeaderboardEntry:
    """A validated 2.0 entry migrated from :func:`run_payload`."""
    return entry_from_payload(run_payload(**kwargs), model_name=name)


def entry_with_keys(name: str, modality: str, meta_task: str, task: str, score: float = 0.5) -> LeaderboardEntry:
    """A valid entry whose one task then gets these keys, bypassing the schema (which refuses odd keys).

    For testing that renderers escape keys themselves; such an entry cannot be read or written.
    """
    entry = make_entry(pretrained=f"org/{score}")
    entry.model.name = name
    result = entry.scores["image"]["alpha"].model_copy(
        update={"meta_task": meta_task, "main_score": score, "metrics": {"hit@1": score}}
    )
    entry.scores = {modality: {task: result}}
    means = {"overall": score, "modalities": {modality: score}, "meta_tasks": {meta_task: score}}
    entry.aggregates = Aggregates.model_construct(**means)
    return entry


def bench(key: str) -> Benchmark:
    """``name@version`` as a Benchmark."""
    name, _, version = key.partition("@")
    return Benchmark(name=name, version=version)


_TAGS = "html head meta title style body h1 p a label select option section h2 h3 table thead tbody tr th td button"
_MORE_TAGS = "details summary script svg rect line text"
PAGE_TAGS = frozenset(f"{_TAGS} {_MORE_TAGS}".split())  # noqa: SIM905 - a word list reads better
"""Every element the site's template emits."""
_ATTRIBUTES = "lang charset http-equiv content name class href id value data-name data-type aria-sort type data-value"
_MORE_ATTRIBUTES = "data-benchmark xmlns role width height viewbox x y fill x1 y1 x2 y2 text-anchor"
PAGE_ATTRIBUTES = frozenset(f"{_ATTRIBUTES} {_MORE_ATTRIBUTES}".split())  # noqa: SIM905
"""Every attribute the site's template emits."""


class PageStructure(HTMLParser):
    """Elements, attributes, ids, links and text of a page, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.attribute_values: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            self.attribute_values.append(value or "")
            if name == "id":
                self.ids.append(value or "")
            if name == "href":
                self.links.append(value or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
