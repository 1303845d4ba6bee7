"""A leaderboard folder and the ``harness leaderboard`` commands on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from leaderboard_factory import bench, make_entry, run_payload

from harness.cli import main
from harness.leaderboard import EntryError, add_entry, list_entries, load_entry, to_markdown
from harness.leaderboard.folder import replace_folder

REPO = Path(__file__).resolve().parent.parent


def _write_run(path, **kwargs):
    path.write_text(json.dumps(run_payload(**kwargs)))
    return path


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_add_writes_one_validated_file_under_its_benchmark(tmp_path):
    path = add_entry(tmp_path, make_entry())
    assert path == tmp_path / "entries" / "bench@1.0" / "org_model-a--abc123.json"
    assert [s.entry.model.name for s in list_entries(tmp_path)] == ["org/model-a"]


def test_duplicate_entry_is_refused_and_the_folder_is_unchanged(tmp_path):
    add_entry(tmp_path, make_entry())
    before = _snapshot(tmp_path)
    with pytest.raises(EntryError, match=r"'org/model-a' \(revision abc123\) on bench@1.0 is already in"):
        add_entry(tmp_path, make_entry())
    assert _snapshot(tmp_path) == before


def test_same_model_on_another_benchmark_version_is_not_a_duplicate(tmp_path):
    add_entry(tmp_path, make_entry())
    add_entry(tmp_path, make_entry(version="2.0"))
    assert len(list_entries(tmp_path)) == 2


def test_task_version_that_disagrees_with_the_benchmark_is_refused(tmp_path):
    add_entry(tmp_path, make_entry())
    expected = r"scores\.image\.alpha\.task_version: '1.1' but benchmark bench@1.0 has '1.0'"
    with pytest.raises(EntryError, match=expected):
        add_entry(tmp_path, make_entry(pretrained="org/model-b", task_version="1.1"))
    assert len(list_entries(tmp_path)) == 1


def test_a_corrupt_entry_in_the_folder_is_reported_by_file(tmp_path):
    path = add_entry(tmp_path, make_entry())
    payload = json.loads(path.read_text())
    payload["aggregates"]["modalities"]["image"] = 0.01
    path.write_text(json.dumps(payload))
    with pytest.raises(EntryError, match=r"org_model-a--abc123\.json: aggregates\.modalities\.image"):
        list_entries(tmp_path)


def test_failed_folder_rebuild_leaves_the_old_folder_in_place(tmp_path):
    target = tmp_path / "site"
    replace_folder(target, lambda staging: (staging / "index.html").write_text("old"))

    def broken(staging):
        (staging / "index.html").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        replace_folder(target, broken)
    assert (target / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_markdown_export_escapes_pipes_and_html_in_model_names(tmp_path):
    add_entry(tmp_path, make_entry(name="<b>evil</b> | model"))
    table = to_markdown(list_entries(tmp_path))
    assert "&lt;b&gt;evil&lt;/b&gt; \\| model" in table
    assert "<b>" not in table
    assert table.splitlines()[0] == "| model | benchmark | tasks | overall | image | visdoc |"
    assert "| 50.0 | 37.5 | 75.0 |" in table


def test_cli_add_validate_show_compare_export(tmp_path, capsys):
    board = tmp_path / "board"
    first = _write_run(tmp_path / "a.json")
    second = _write_run(
        tmp_path / "b.json",
        pretrained="org/model-b",
        tasks={"alpha": ("image", "X-CLS", 0.75), "beta": ("image", "X-RET", 0.25), "gamma": ("visdoc", "Y-RET", 0.5)},
    )
    assert main(["leaderboard", "add", str(first), "--dir", str(board)]) == 0
    assert main(["leaderboard", "add", str(second), "--dir", str(board)]) == 0
    assert main(["leaderboard", "add", str(second), "--dir", str(board)]) == 2
    assert "already in the leaderboard" in capsys.readouterr().err

    assert main(["leaderboard", "validate", "--dir", str(board)]) == 0
    assert "ok: 2 entries" in capsys.readouterr().out

    assert main(["leaderboard", "show", "--dir", str(board), "--sort", "image", "--ascending"]) == 0
    shown = capsys.readouterr().out
    assert shown.index("org/model-a") < shown.index("org/model-b")  # image 37.5 before 50.0
    assert main(["leaderboard", "show", "--dir", str(board), "--sort", "gamma-ray"]) == 2
    assert "unknown column 'gamma-ray'" in capsys.readouterr().err

    assert main(["leaderboard", "compare", "org/model-a", "org/model-b", "--dir", str(board)]) == 0
    compared = capsys.readouterr().out
    assert "+25.0" in compared and "-25.0" in compared

    out = tmp_path / "mmeb.json"
    assert main(["leaderboard", "export", "--format", "mmeb", "org/model-b", "--dir", str(board), "-o", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert exported["metrics"]["visdoc"]["gamma"]["hit@1"] == 0.5
    assert exported["metrics"]["image"]["alpha"]["num_data"] == 10


def test_cli_refuses_a_results_file_that_fails_the_schema(tmp_path, capsys):
    payload = run_payload()
    del payload["tasks"]["alpha"]["main_score"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    assert main(["leaderboard", "add", str(bad), "--dir", str(tmp_path / "board")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {bad}: tasks.alpha.main_score: Field required"
    assert not (tmp_path / "board").exists()


def test_benchmark_flag_names_the_benchmark_of_a_run(tmp_path):
    entry = make_entry()
    assert entry.benchmark == bench("bench@1.0")
    path = _write_run(tmp_path / "a.json")
    assert main(["leaderboard", "add", str(path), "--dir", str(tmp_path / "b"), "--benchmark", "custom@7"]) == 0
    assert list_entries(tmp_path / "b")[0].entry.benchmark == bench("custom@7")


def test_demo_run_output_is_added_beside_the_references_and_built(tmp_path, capsys):
    # The acceptance path of a new user: run the bundled demo, add its results file, build.
    board = tmp_path / "board"
    shutil.copytree(REPO / "leaderboard" / "entries", board / "entries")
    assert main(["run", "--output_path", str(tmp_path / "demo")]) == 0
    # the run wrote its entry (schema 2.0, validated on write) beside the run file
    written = load_entry(tmp_path / "demo" / "leaderboard_entry.json")
    assert written.schema_version == "2.0" and written.benchmark.key() == "demo@1.0"
    captured = capsys.readouterr()
    assert f"leaderboard entry: {tmp_path / 'demo' / 'leaderboard_entry.json'}" in captured.err
    assert main(["leaderboard", "add", str(tmp_path / "demo" / "leaderboard_entry.json"), "--dir", str(board)]) == 0
    # the run file itself is the same entry once migrated, so adding it too is a duplicate
    assert main(["leaderboard", "add", str(tmp_path / "demo" / "leaderboard.json"), "--dir", str(board)]) == 2
    added = [s.entry for s in list_entries(board) if s.entry.provenance.kind == "harness_run"]
    assert [e.benchmark.key() for e in added] == ["demo@1.0"]
    assert added[0].provenance.hardware.startswith("cpu / ") and added[0].model.settings["pooling"] == "eos"
    assert main(["leaderboard", "build", "--dir", str(board), "--out", str(tmp_path / "site")]) == 0
    html = (tmp_path / "site" / "index.html").read_text()
    assert html.count('<tr data-benchmark="demo@1.0">') == 2  # overall and image tables


def test_a_partial_run_writes_no_entry_and_says_why(tmp_path, capsys):
    stale = tmp_path / "demo" / "leaderboard_entry.json"
    stale.parent.mkdir()
    stale.write_text("{}")  # from an earlier, unmarked run in the same folder: must not survive
    assert main(["run", "--output_path", str(tmp_path / "demo"), "--limit", "4", "--overwrite"]) == 0
    assert (tmp_path / "demo" / "leaderboard.json").is_file()
    assert not stale.exists()
    captured = capsys.readouterr()
    assert "no leaderboard entry written: run.limit: the run was partial (--limit 4)" in captured.err
