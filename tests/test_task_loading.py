"""Task and group files: include merging, indexing, name resolution and ``harness tasks``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import minimal_task, write_task

from harness.cli import main
from harness.errors import TaskFileError
from harness.taskspec import LoadedTask, TaskIndex, load_task_file


def write_yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_defaults(path: Path, **extra: object) -> Path:
    """An include-only defaults file: the minimal task without its name, plus ``extra``."""
    document = {key: value for key, value in minimal_task("unused").items() if key != "task"}
    document.update(extra)
    return write_yaml(path, yaml.safe_dump(document, sort_keys=False, width=1000))


def write_group(directory: Path, name: str, members: list[str], aggregate: str = "mean_of_tasks") -> Path:
    document = {"group": name, "version": "1.0", "aggregate": aggregate, "task": members}
    return write_yaml(directory / f"{name}.yaml", yaml.safe_dump(document, sort_keys=False))


def user_index(directory: Path) -> TaskIndex:
    return TaskIndex(include_paths=[directory], include_builtin=False)


def loaded_task(path: Path) -> LoadedTask:
    loaded = load_task_file(path)
    assert isinstance(loaded, LoadedTask)
    return loaded


# --- include: -----------------------------------------------------------------------------------


def test_include_merges_mappings_key_by_key(tmp_path: Path):
    write_defaults(tmp_path / "_base.yaml", metrics={"k": [1, 5], "main": "hit@1"})
    path = write_yaml(tmp_path / "t.yaml", "include: _base.yaml\ntask: t\nmetrics:\n  main: hit@5\n")

    spec = loaded_task(path).spec

    assert spec.metrics.main == "hit@5"  # the including file wins
    assert spec.metrics.k == [1, 5]  # the sibling key from the included file is kept
    assert spec.query.image_column == "qry_img_path"  # untouched mappings come whole


def test_include_replaces_lists_wholesale(tmp_path: Path):
    write_defaults(tmp_path / "_base.yaml", tag=["a", "b"])
    path = write_yaml(
        tmp_path / "t.yaml", "include: _base.yaml\ntask: t\ntag: [c]\ncandidates:\n  columns: [tgt_text]\n"
    )

    spec = loaded_task(path).spec

    assert spec.tag == ["c"]
    assert spec.candidates.columns == ["tgt_text"]


def test_include_paths_are_relative_to_the_including_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_defaults(tmp_path / "shared" / "_root.yaml")
    write_yaml(tmp_path / "shared" / "_middle.yaml", "include: _root.yaml\ndescription: from middle\n")
    path = write_yaml(tmp_path / "tasks" / "deep" / "t.yaml", "include: ../../shared/_middle.yaml\ntask: t\n")
    monkeypatch.chdir(tmp_path / "tasks")  # not the folder of any of the files

    loaded = load_task_file(path, include_roots=[tmp_path])  # shared/ is outside the task's folder
    assert isinstance(loaded, LoadedTask)
    spec = loaded.spec

    assert spec.description == "from middle"
    assert spec.modality == "image"  # from _root.yaml, included relative to _middle.yaml


def test_include_list_applies_in_order_and_the_file_itself_wins(tmp_path: Path):
    write_defaults(tmp_path / "_base.yaml", description="base")
    write_yaml(tmp_path / "_one.yaml", "description: one\nnum_rows: 1\n")
    write_yaml(tmp_path / "_two.yaml", "description: two\n")
    path = write_yaml(tmp_path / "t.yaml", "include: [_base.yaml, _one.yaml, _two.yaml]\ntask: t\nnum_rows: 3\n")

    spec = loaded_task(path).spec

    assert spec.description == "two"
    assert spec.num_rows == 3


def test_error_in_an_included_file_names_that_file_and_line(tmp_path: Path):
    base = write_defaults(tmp_path / "_base.yaml")
    base.write_text(base.read_text() + "metrcs:\n  main: hit@1\n")
    line = base.read_text().splitlines().index("metrcs:") + 1
    path = write_yaml(tmp_path / "t.yaml", "include: _base.yaml\ntask: t\n")

    with pytest.raises(TaskFileError) as error:
        load_task_file(path)

    assert str(error.value) == f"{base}:{line}: metrcs: unknown key"


# --- the index ------------------------------------------------------------------------------------


def test_underscore_files_are_include_only_and_not_indexed(tmp_path: Path):
    write_task(tmp_path, "_complete_but_hidden")
    write_task(tmp_path, "visible")

    index = user_index(tmp_path)

    assert list(index.tasks) == ["visible"]


def test_include_path_adds_user_tasks_to_the_builtin_ones(tmp_path: Path):
    path = write_task(tmp_path / "mine", "my_task")

    index = TaskIndex(include_paths=[tmp_path / "mine"])

    assert index.tasks["my_task"].source == path
    assert "ImageNet-1K" in index.tasks


def test_include_path_that_is_not_a_folder_is_an_error(tmp_path: Path):
    with pytest.raises(TaskFileError, match="--include_path is not a folder"):
        TaskIndex(include_paths=[tmp_path / "missing"])


def test_duplicate_task_name_across_files_is_an_error_naming_both_files(tmp_path: Path):
    first = write_task(tmp_path / "a", "twice")
    second = write_task(tmp_path / "b", "twice")

    with pytest.raises(TaskFileError) as error:
        user_index(tmp_path)

    assert str(first) in str(error.value)
    assert str(second) in str(error.value)
    assert "'twice' is already defined" in str(error.value)


def test_user_task_may_not_reuse_a_builtin_task_name(tmp_path: Path):
    write_task(tmp_path, "ImageNet-1K")

    with pytest.raises(TaskFileError, match="'ImageNet-1K' is already defined in .*ImageNet-1K.yaml"):
        TaskIndex(include_paths=[tmp_path])


# --- selection: tasks, tags, groups ------------------------------------------------------------


def test_a_tag_selects_every_task_carrying_it_without_a_group(tmp_path: Path):
    write_task(tmp_path, "b_task", tag=["shared"])
    write_task(tmp_path, "a_task", tag=["shared", "other"])
    write_task(tmp_path, "c_task", tag=["other"])

    selection = user_index(tmp_path).select(["shared"])

    assert sorted(t.spec.task for t in selection.tasks) == ["a_task", "b_task"]
    assert selection.groups == []


def test_groups_expand_in_member_order_through_nested_groups(tmp_path: Path):
    for name in ("t1", "t2", "t3", "t4"):
        write_task(tmp_path, name)
    write_group(tmp_path, "inner", ["t2", "t1"])
    write_group(tmp_path, "outer", ["t4", "inner", "t3", "t1"])

    index = user_index(tmp_path)
    selection = index.select(["outer"])

    assert [t.spec.task for t in selection.tasks] == ["t4", "t2", "t1", "t3"]  # t1 only once
    assert [g.spec.group for g in selection.groups] == ["outer", "inner"]


def test_a_group_member_may_be_a_tag(tmp_path: Path):
    write_task(tmp_path, "x", tag=["xs"])
    write_task(tmp_path, "y", tag=["xs"])
    write_group(tmp_path, "all_xs", ["xs"])

    assert user_index(tmp_path).expand("all_xs") == ["x", "y"]


def test_group_cycle_is_an_error(tmp_path: Path):
    write_task(tmp_path, "t")
    write_group(tmp_path, "g1", ["t", "g2"])
    write_group(tmp_path, "g2", ["g1"])

    with pytest.raises(TaskFileError, match="group cycle: g1 -> g2 -> g1"):
        user_index(tmp_path).select(["g1"])


def test_selecting_names_keeps_request_order_and_drops_repeats(tmp_path: Path):
    for name in ("t1", "t2", "t3"):
        write_task(tmp_path, name)
    write_group(tmp_path, "g", ["t1", "t2"])

    selection = user_index(tmp_path).select(["t3", "g", "t1"])

    assert [t.spec.task for t in selection.tasks] == ["t3", "t1", "t2"]


def test_a_yaml_path_in_tasks_loads_that_file(tmp_path: Path):
    path = write_task(tmp_path / "loose", "from_path")

    selection = TaskIndex(include_builtin=False).select([str(path)])

    assert [t.spec.task for t in selection.tasks] == ["from_path"]


def test_builtin_image_group_expands_to_36_tasks_in_meta_task_order():
    index = TaskIndex()

    leaves = index.expand("mmeb_v2_image")

    assert len(leaves) == 36
    assert leaves[0] == "ImageNet-1K"
    assert leaves[:10] == index.expand("I-CLS")


# --- harness tasks ------------------------------------------------------------------------------


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables wrap long paths at the terminal width; make it wide enough for tmp paths."""
    monkeypatch.setenv("COLUMNS", "500")


def listing_rows(output: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_tasks_command_lists_tasks_groups_and_tags_with_source_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_terminal: None
):
    task_path = write_task(tmp_path, "my_task", tag=["my_tag"], ranking="global")
    group_path = write_group(tmp_path, "my_group", ["my_task"])

    assert main(["tasks", "--include_path", str(tmp_path)]) == 0
    rows = listing_rows(capsys.readouterr().out)

    assert rows["my_task"] == ["task", "image", "global", "hit@1", str(task_path)]
    assert rows["my_group"] == ["group", "", "", "mean_of_tasks", f"1 tasks, {group_path}"]
    assert rows["my_tag"] == ["tag", "", "", "", "1 tasks"]
    assert rows["ImageNet-1K"][0] == "task"  # the built-in tasks are listed too
    assert rows["ImageNet-1K"][-1].endswith("mmeb_v2/image/ImageNet-1K.yaml")
    assert rows["mmeb_v2_image"][-1].startswith("36 tasks, ")


def test_tasks_command_with_a_broken_user_file_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write_task(tmp_path, "broken", modality="smell")

    assert main(["tasks", "--include_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err

    assert err.strip().splitlines() == [
        f"error: {path}:3: modality: Input should be "
        "'image', 'video', 'visdoc', 'text', 'audio', 'tool', 'gui' or 'memory'"
    ]


def test_tasks_command_lists_only_the_named_groups_tasks_with_whole_names(capsys: pytest.CaptureFixture[str]):
    """Off a terminal (a pipe, a file) every row is one line and no name is cut, so
    ``harness tasks mmeb_v3_text | grep`` finds every reference key."""
    assert main(["tasks", "mmeb_v3_text"]) == 0
    out = capsys.readouterr().out
    rows = listing_rows(out)
    tasks = [name for name, cells in rows.items() if cells and cells[0] == "task"]
    assert len(tasks) == 53
    assert "text/BRIGHT/theoremqa_theorems" in tasks
    assert "ImageNet-1K" not in rows
    assert {"mmeb_v3_text", "T-Reasoning"} <= set(rows)
    assert "…" not in out


def test_tasks_command_with_an_unknown_name_is_one_line(capsys: pytest.CaptureFixture[str]):
    assert main(["tasks", "mmeb_v3_txt"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown task, group or tag 'mmeb_v3_txt'; did you mean 'mmeb_v3_text'")
