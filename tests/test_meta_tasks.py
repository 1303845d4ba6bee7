"""Meta-task membership is stated once, by group files with ``meta_task: true``, and the MMEB
aggregation rules live in one torch-free module (``harness.results.aggregation``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_task

from harness.errors import TaskFileError
from harness.results.aggregation import GroupRule, TaskMain, group_score, task_means
from harness.taskspec import TaskIndex


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def meta_group(folder: Path, name: str, members: list[str]) -> Path:
    listed = "".join(f"  - {m}\n" for m in members)
    return write(
        folder / f"{name}.yaml",
        f"group: {name}\nversion: 1\naggregate: mean_of_tasks\nmeta_task: true\ntask:\n{listed}",
    )


def test_a_tasks_meta_task_is_the_meta_task_group_that_lists_it(tmp_path: Path):
    write_task(tmp_path, "alpha")
    write_task(tmp_path, "beta")
    meta_group(tmp_path, "X-CLS", ["alpha"])
    write(tmp_path / "plain.yaml", "group: plain\nversion: 1\naggregate: mean_of_tasks\ntask: [alpha, beta]\n")

    index = TaskIndex(include_paths=[tmp_path], include_builtin=False)

    assert index.meta_task_of("alpha") == "X-CLS"
    assert index.meta_task_of("beta") is None  # a plain group is no meta-task
    assert [t.meta_task for t in index.select(["plain"]).tasks] == ["X-CLS", None]


def test_a_task_file_naming_its_meta_task_is_told_where_membership_lives(tmp_path: Path):
    from harness.taskspec import load_task_file

    path = write_task(tmp_path, "alpha", meta_task="I-CLS")

    with pytest.raises(TaskFileError) as caught:
        load_task_file(path)

    message = str(caught.value)
    assert message.startswith(f"{path.resolve()}:") and ": meta_task: " in message
    assert "list it in the meta-task's group file (group: I-CLS, meta_task: true)" in message


def test_a_task_in_two_meta_task_groups_is_an_error_naming_both(tmp_path: Path):
    write_task(tmp_path, "alpha")
    first = meta_group(tmp_path, "A-CLS", ["alpha"])
    second = meta_group(tmp_path, "B-CLS", ["alpha"])

    index = TaskIndex(include_paths=[tmp_path], include_builtin=False)

    with pytest.raises(TaskFileError, match="is in two meta-task groups") as caught:
        index.select(["alpha"])
    assert str(first.resolve()) in str(caught.value) and str(second.resolve()) in str(caught.value)


def test_a_tag_named_like_a_group_is_refused_because_it_could_never_be_selected(tmp_path: Path):
    write_task(tmp_path, "alpha", tag=["bench"])
    write(tmp_path / "bench.yaml", "group: bench\nversion: 1\naggregate: mean_of_tasks\ntask: [alpha]\n")

    with pytest.raises(TaskFileError, match="'bench' is also a tag of task 'alpha'"):
        TaskIndex(include_paths=[tmp_path], include_builtin=False)


def test_every_builtin_mmeb_task_has_exactly_one_meta_task():
    index = TaskIndex()

    metas = {name: index.meta_task_of(name) for name in index.expand("mmeb_v2")}

    assert len(metas) == 78 and None not in metas.values()
    assert not index.tags  # built-in membership is stated by group files only


# --- the aggregation rules ------------------------------------------------------------------------


def test_overall_is_the_mean_over_tasks_not_over_modalities():
    tasks = {
        "a": TaskMain("image", "I-CLS", 1.0),
        "b": TaskMain("image", "I-CLS", 0.0),
        "c": TaskMain("image", "I-QA", 0.5),
        "d": TaskMain("video", None, 0.9),
    }

    means = task_means(tasks)

    assert means.overall == pytest.approx(0.6)
    assert means.modalities == {"image": pytest.approx(0.5), "video": pytest.approx(0.9)}
    assert means.meta_tasks == {"I-CLS": pytest.approx(0.5), "I-QA": pytest.approx(0.5)}  # d has none


def test_mean_of_children_averages_member_scores_and_a_missing_task_gives_none():
    rules = {
        "bench": GroupRule("mean_of_children", ("X", "c"), ("a", "b", "c")),
        "X": GroupRule("mean_of_tasks", ("a", "b"), ("a", "b")),
    }

    assert group_score("bench", rules, {"a": 1.0, "b": 0.0, "c": 1.0}) == pytest.approx(0.75)
    assert group_score("bench", rules, {"a": 1.0, "c": 1.0}) is None
    assert group_score("c", rules, {"c": 0.25}) == 0.25
