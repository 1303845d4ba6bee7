"""Import of the published MMEB-V3 paper scores (the reference's paper_vs_repro CSV tables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.leaderboard.checks import EntryError
from harness.leaderboard.reference import TaskInfo
from harness.leaderboard.reference_v3 import import_v3_tables, name_key, write_v3_entries

CATALOGUE = {
    "text/BRIGHT/aops": TaskInfo("text", "reasoning", "ndcg_linear@5"),
    "text/BRIGHT/earth_science": TaskInfo("text", "reasoning", "ndcg_linear@5"),
    "toolde/web/apibank": TaskInfo("tool", "tool_web", "hit@1"),
    "Video-MME": TaskInfo("video", "V-QA", "hit@1"),
    "A-OKVQA": TaskInfo("image", "I-QA", "hit@1"),
    "ESC-50": TaskInfo("audio", None, "hit@1"),
}
HEADER = "dataset,Model-A (paper),Model-B (paper),Model-B (reproduced),diff,eval_time_s"


def write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "paper_vs_repro"
    write(
        root / "runa",
        "runa_text_ndcglinear@5_paper_vs_repro.csv",
        [
            HEADER,
            "BRIGHT aops,2.4,1.1,1.0,0,1",
            "BRIGHT earth science,26.2,28.9,3,0,1",
            "AVG (repro over 53),1,1,1,0,0",
        ],
    )
    write(root / "runa", "runa_image_hit@1_paper_vs_repro.csv", [HEADER, "A-OKVQA,,,12.4,(no paper match),1"])
    write(root / "runb", "runb_image_hit@1_paper_vs_repro.csv", [HEADER, "A-OKVQA,58.8,66.6,59,0,1"])
    write(
        root / "runb",
        "runb_tool_hit@1_paper_vs_repro.csv",
        [
            HEADER,
            "Tool-apibank,62.4,58.4,60,0,1",
            "PAPER category avg (Model-A),1,1,1,0,0",
            "Tool-unknowntool,1,2,3,0,0",
        ],
    )
    write(root / "runb", "runb_video_hit@1_paper_vs_repro.csv", [HEADER, "Video-MME,50.0,60.0,1,0,0"])
    write(
        root / "runa",
        "runa_audio_hit@1_paper_vs_repro.csv",
        ['"# a comment line"', "dataset,paper hit@1,reproduced hit@1", "ESC-50,75.7,76.7"],
    )
    return root


def test_paper_columns_become_one_entry_per_model(source: Path):
    result = import_v3_tables(source, CATALOGUE)
    entries = {e.model.name: e for e in result.entries}
    assert set(entries) == {"Model-A", "Model-B", "Omni-Embed-Nemotron-3B"}
    a = entries["Model-A"]
    assert a.benchmark.key() == "mmeb_v3@paper" and a.provenance.kind == "reference_import"
    assert a.scores["text"]["text/BRIGHT/earth_science"].main_score == pytest.approx(0.262)
    assert a.scores["image"]["A-OKVQA"].main_score == pytest.approx(0.588)  # the empty cell of run a is no value
    assert a.scores["tool"]["toolde/web/apibank"].main_metric == "hit@1"  # "Tool-" prefix dropped
    assert a.scores["video"]["Video-MME"].main_score == pytest.approx(0.5)  # "Video-" kept: the name matches
    assert entries["Omni-Embed-Nemotron-3B"].scores == {
        "audio": {"ESC-50": entries["Omni-Embed-Nemotron-3B"].scores["audio"]["ESC-50"]}
    }
    assert a.aggregates.overall == pytest.approx((0.024 + 0.262 + 0.588 + 0.624 + 0.5) / 5)
    assert result.unmatched == {"tool": ["Tool-unknowntool"]}  # averages are skipped, not unmatched


def test_two_tables_disagreeing_on_a_paper_value_is_an_error(source: Path):
    write(source / "runc", "runc_image_hit@1_paper_vs_repro.csv", [HEADER, "A-OKVQA,58.9,66.6,59,0,1"])
    with pytest.raises(EntryError, match=r"runc/runc_image_hit@1_paper_vs_repro.csv:2: A-OKVQA: Model-A: 58.9 differs"):
        import_v3_tables(source, CATALOGUE)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{HEADER}\nA-OKVQA,high,1,1,0,1\n".encode(), "'high' is not a number"),
        (f"{HEADER}\nA-OKVQA,101,1,1,0,1\n".encode(), "outside 0-100"),
        (b"dataset,Model-A (paper)\n\xff\xfe\n", "not UTF-8"),
        (b"x" * (2 << 20), "over the limit"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path: Path, content: bytes, message: str):
    folder = tmp_path / "src" / "run"
    folder.mkdir(parents=True)
    (folder / "run_image_hit@1_paper_vs_repro.csv").write_bytes(content)
    with pytest.raises(EntryError, match=message):
        import_v3_tables(tmp_path / "src", CATALOGUE)


def test_written_entries_validate_and_hand_added_ones_stay(source: Path, tmp_path: Path):
    from harness.leaderboard.files import load_entry

    root = tmp_path / "board"
    written = write_v3_entries(import_v3_tables(source, CATALOGUE), root)
    assert len(written) == 3 and all(load_entry(path).model.name for path in written)
    assert {p.parent.name for p in written} == {"mmeb_v3@paper"}


def test_name_key_ignores_case_and_punctuation():
    assert name_key("BRIGHT earth science") == name_key(["text", "BRIGHT/earth_science"][1])
    assert name_key("GAE-guiact-q2s") == name_key("GAE-GUIAct_q2s")


COMMITTED = Path(__file__).resolve().parent.parent / "leaderboard" / "entries" / "mmeb_v3@paper"


def test_committed_v3_entries_name_built_in_tasks_and_give_the_published_category_means():
    from harness.leaderboard.files import load_entry
    from harness.taskspec import TaskIndex

    index = TaskIndex()
    entries = {load_entry(path).model.name: load_entry(path) for path in sorted(COMMITTED.glob("*.json"))}
    assert len(entries) == 7
    for entry in entries.values():
        for modality, tasks in entry.scores.items():
            for task, result in tasks.items():
                spec = index.tasks[task].spec
                assert (spec.modality, spec.metrics.main) == (modality, result.main_metric), task
    # the reference's reproduction report and paper CSV averages (x100, one decimal)
    published = {
        "Qwen3-VL-Embedding-2B": {"text": 39.2, "tool": 42.6, "memory": 28.4},
        "Qwen3-VL-Embedding-8B": {"text": 42.5, "tool": 41.3, "memory": 22.8},
        "Omni-Embed-Nemotron-3B": {"text": 38.6, "tool": 38.1, "memory": 32.3, "image": 43.9, "video": 41.3},
    }
    for model, means in published.items():
        for modality, value in means.items():
            assert round(100 * entries[model].aggregates.modalities[modality], 1) == value, (model, modality)
