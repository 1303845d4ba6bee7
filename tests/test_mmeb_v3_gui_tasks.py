"""The 8 MMEB-V3 GUI task files reproduce VLM2Vec's ``gui`` parser.

Expected inputs are written out by hand from the reference (VLM2Vec 44f991d:
``src/data/eval_dataset/gui_dataset.py``, ``process_multi_images``, ``data_prepare`` and
``corpus_prepare``; ``src/data/collator/eval_collator.py``, ``_load_image_from_dict``; the keys,
splits and image roots of ``experiments/public/eval/gui.yaml``). The fixture is written by
:func:`write_gui_data`: tiny PNGs and query / corpus parquet files in the reference's layout
(``gui-tasks/GAE-GUIAct/{queries,corpus}/q2s-*.parquet``, images under ``gui-tasks/GUIAct/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import harness
from harness.data.image_lists import MAX_LIST_ENTRIES
from harness.data.records import TaskData, build_task_data
from harness.data.sources import DatasetRows, load_rows
from harness.errors import DataError
from harness.inputs import IMAGE_MARKER as M
from harness.inputs import EncodeInput
from harness.taskspec.index import TaskIndex, builtin_task_dir
from harness.taskspec.schema import TaskSpec, TemplateRelevance

GUI_DIR = builtin_task_dir() / "mmeb_v3" / "gui"
GROUP_FILE = builtin_task_dir() / "mmeb_v3" / "groups" / "mmeb_v3_gui.yaml"
# gui.yaml's keys, in its order: dataset_name = key, dataset_split = suffix.
KEYS = [f"GAE-{x}_{split}" for x in ("GUIAct", "Mind2Web") for split in ("q2t", "q2s", "s2s", "t2s")]
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>")
TASK = "GAE-GUIAct_q2s"


def task(name: str = TASK) -> TaskSpec:
    spec = TaskIndex().tasks[name].spec
    assert isinstance(spec, TaskSpec)
    return spec


def png(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def query(qid: str, text: str, images: Any, pos_id: str, pos_text: str, pos_images: Any) -> dict[str, Any]:
    return {
        "qry_id": qid,
        "qry_text": text,
        "qry_image_path": images,
        "pos_text": pos_text,
        "pos_image_path": pos_images,
        "pos_id": pos_id,
        "retrieval_type": "q2s",
    }


# Two query files, as a split may have several: lists in the first, texts in the second (a
# parquet column has one type). A, B, C are screenshots; "gone.png" does not exist.
LIST_ROWS = [
    query("q1", "<|image_1|> where is the search box?", ["guiact/a.png"], "c1", "<|image_1|>", ["guiact/b.png"]),
    query("q2", "open settings", [], "c2", "<|image_1|>\n<|image_1|> two steps", ["guiact/b.png", "guiact/b.png"]),
    query("q3", "<|image_1|><|image_1|> then", ["", "guiact/c.png"], "c1", "ignored: c1 is seen", ["guiact/c.png"]),
    query("q4", "<|image_1|> lost", ["guiact/gone.png"], "c3", "plain positive", []),
]
TEXT_ROWS = [
    query("q5", "<|image_1|> <|image_1|> pair", "['guiact/a.png', 'guiact/c.png']", "c4", "text", ""),
    query("q6", "<|image_1|> one", "guiact/c.png", "c4", "text", "[]"),
]
CORPUS = [
    {"cand_id": "c1", "cand_text": "corpus text loses to the positive", "cand_image_path": []},
    {
        "cand_id": "c5",
        "cand_text": "<|image_1|> <|image_1|> <|image_1|>",
        "cand_image_path": ["a.png", "b.png", "a.png"],
    },
    {"cand_id": "c6", "cand_text": "only text", "cand_image_path": [""]},
]


def write_gui_data(base: Path) -> Path:
    """The q2s split of GAE-GUIAct with the rows above; returns ``base`` (the data_basedir)."""
    root = base / "gui-tasks" / "GUIAct"
    png(root / "guiact" / "a.png", (64, 48), (200, 30, 30))
    png(root / "guiact" / "b.png", (30, 60), (30, 200, 30))
    png(root / "guiact" / "c.png", (20, 20), (30, 30, 200))  # under 28 px: the reference blows it up
    png(root / "a.png", (56, 56), (10, 10, 10))
    png(root / "b.png", (56, 84), (240, 240, 240))
    tables = base / "gui-tasks" / "GAE-GUIAct"
    write_parquet(tables / "queries" / "q2s-00000-of-00002.parquet", LIST_ROWS)
    write_parquet(tables / "queries" / "q2s-00001-of-00002.parquet", TEXT_ROWS)
    write_parquet(tables / "corpus" / "q2s-00000-of-00001.parquet", CORPUS)
    write_parquet(tables / "corpus" / "q2t-00000-of-00001.parquet", [CORPUS[0]])  # another split: not read
    return base


@pytest.fixture
def gui_base(tmp_path: Path) -> Path:
    return write_gui_data(tmp_path / "data")


def fixture_data(base: Path, name: str = TASK) -> TaskData:
    spec = task(name)
    rows = load_rows(spec.dataset, base, "local")
    return build_task_data(spec, rows, base / spec.media_root, data_basedir=base, data_source="local")


# --- 1. the files, their settings and their group ----------------------------------------------


def test_the_eight_gui_tasks_have_the_reference_keys():
    index = TaskIndex()
    assert sorted(name for name in index.tasks if name.startswith("GAE-")) == sorted(KEYS)
    assert sorted(path.stem for path in GUI_DIR.glob("GAE-*.yaml")) == sorted(KEYS)


@pytest.mark.parametrize("name", KEYS)
def test_each_gui_task_reads_its_split_from_the_reference_layout(name: str):
    spec = task(name)
    family, split = name.removeprefix("GAE-").split("_")
    assert (spec.modality, spec.ranking, spec.version) == ("gui", "global", "1.0")
    assert spec.media_root == f"gui-tasks/{family}/"  # gui.yaml's image_root
    assert spec.dataset.files == [f"gui-tasks/GAE-{family}/queries/{split}*.parquet"]
    assert (spec.dataset.path, spec.dataset.name, spec.dataset.split) == (f"VLM2Vec/GAE-{family}", "queries", split)
    corpus = spec.candidates.corpus
    assert corpus is not None
    assert corpus.files == [f"gui-tasks/GAE-{family}/corpus/{split}*.parquet"]
    assert (corpus.path, corpus.name, corpus.split, corpus.revision) == (f"VLM2Vec/GAE-{family}", "corpus", split, None)
    assert (spec.metrics.main, spec.metrics.definitions) == ("hit@1", "vlm2vec-44f991d")
    assert spec.metrics.families == ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]
    assert spec.image_lists.missing_file == "empty_slot"
    assert isinstance(spec.relevance, TemplateRelevance) and spec.relevance.unmatched == "error"


def test_mmeb_v3_gui_is_the_mean_of_the_eight_tasks():
    index = TaskIndex()
    group = index.groups["mmeb_v3_gui"].spec
    assert group.aggregate == "mean_of_tasks"
    assert index.expand("mmeb_v3_gui") == KEYS


def test_no_backbone_tokens_in_the_gui_files():
    paths = [*GUI_DIR.glob("*.yaml"), GROUP_FILE]
    assert len(paths) == 8 + 1 + 1
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for token in BACKBONE_TOKENS:
            assert token not in text, f"{path.name} contains {token}"


# --- 2. the inputs equal the reference's -------------------------------------------------------


def test_queries_are_the_rows_texts_with_the_image_token_swapped_and_their_image_lists(gui_base: Path):
    root = (gui_base / "gui-tasks" / "GUIAct").resolve()
    a, b, c = (root / "guiact" / name for name in ("a.png", "b.png", "c.png"))
    inputs = [q.input for q in fixture_data(gui_base).queries]
    assert inputs == [
        EncodeInput(f"{M} where is the search box?", image=a),  # a list of one image is that image
        EncodeInput("open settings"),  # [] is one empty slot; no marker: text alone
        EncodeInput(f"{M}{M} then", images=(None, c)),  # "" is a slot without an image
        EncodeInput(f"{M} lost", images=(None,)),  # a missing file is a slot without an image
        EncodeInput(f"{M} {M} pair", images=(a, c)),  # a text holding a Python list literal
        EncodeInput(f"{M} one", image=c),  # a plain text is the one path
    ]


def test_candidates_are_the_positives_then_the_corpus_first_id_wins(gui_base: Path):
    root = (gui_base / "gui-tasks" / "GUIAct").resolve()
    data = fixture_data(gui_base)
    assert list(data.candidates) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    b = root / "guiact" / "b.png"
    assert data.candidates["c1"] == EncodeInput(M, image=b)  # q1's positive, not the corpus row
    assert data.candidates["c2"] == EncodeInput(f"{M}\n{M} two steps", images=(b, b))  # repeats kept
    assert data.candidates["c3"] == EncodeInput("plain positive")
    assert data.candidates["c4"] == EncodeInput("text")  # "" and "[]" are one empty slot
    assert data.candidates["c5"] == EncodeInput(f"{M} {M} {M}", images=(root / "a.png", root / "b.png", root / "a.png"))
    assert data.candidates["c6"] == EncodeInput("only text")


def test_relevance_is_the_rows_pos_id(gui_base: Path):
    data = fixture_data(gui_base)
    assert [dict(q.relevance) for q in data.queries] == [{p: 1.0} for p in ("c1", "c2", "c1", "c3", "c4", "c4")]


def test_a_missing_file_is_recorded_with_its_row(gui_base: Path):
    missing = fixture_data(gui_base).missing_images
    assert len(missing) == 1
    assert missing[0].endswith(
        "q2s-00000-of-00002.parquet row 3: " + str(gui_base.resolve() / "gui-tasks/GUIAct/guiact/gone.png")
    )


def one_row(base: Path, **values: Any) -> TaskData:
    spec = task()
    row = {**query("q9", "<|image_1|> x", ["guiact/a.png"], "c9", "t", []), **values}
    rows = DatasetRows(rows=[row], locations=["rows.jsonl:1"], provenance={})
    return build_task_data(spec, rows, base / spec.media_root, data_basedir=base, data_source="local")


@pytest.mark.parametrize("hostile", ["../../secret.png", "guiact/../../x.png", "/etc/passwd", "~/x.png"])
def test_a_path_outside_the_image_root_is_refused_naming_the_row(gui_base: Path, hostile: str):
    with pytest.raises(DataError, match=r"task 'GAE-GUIAct_q2s', rows\.jsonl:1: query\.image_list_column: .*'") as info:
        one_row(gui_base, qry_image_path=["guiact/a.png", hostile])
    assert "\n" not in str(info.value)


def test_a_hostile_path_in_a_list_literal_is_refused_too(gui_base: Path):
    with pytest.raises(DataError, match=r"candidates\.image_list_column: column 'cand_image_path': .*escapes"):
        one_row(gui_base, pos_image_path="['guiact/a.png', '../../../etc/passwd']")


def test_marker_and_image_counts_must_agree_when_every_image_is_there(gui_base: Path):
    # The reference's processor fails on such a row (an image without its token, or a token without its image).
    with pytest.raises(
        DataError, match=r"query template: an input with 2 images needs 2 \{\{ IMAGE \}\} markers, found 1"
    ):
        one_row(gui_base, qry_image_path=["guiact/a.png", "guiact/b.png"])
    with pytest.raises(
        DataError, match=r"query template: an input with an image needs exactly one \{\{ IMAGE \}\} marker"
    ):
        one_row(gui_base, qry_text="no token", qry_image_path=["guiact/a.png"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7", "is a Python int literal, not a list of paths"),
        ("'guiact/a.png'", "is a Python str literal, not a list of paths"),
        (["guiact/a.png", 3], "entry 1 must be an image path, got int"),
    ],
)
def test_a_value_the_reference_would_misread_is_one_line(gui_base: Path, value: Any, message: str):
    with pytest.raises(DataError, match=rf"query\.image_list_column: column 'qry_image_path': .*{message}"):
        one_row(gui_base, qry_image_path=value)


def test_a_missing_file_is_an_error_unless_the_task_allows_it(gui_base: Path):
    spec = task().model_copy(update={"image_lists": task().image_lists.model_copy(update={"missing_file": "error"})})
    row = query("q9", "<|image_1|> x", ["guiact/gone.png"], "c9", "t", [])
    rows = DatasetRows(rows=[row], locations=["rows.jsonl:1"], provenance={})
    with pytest.raises(
        DataError, match=r"rows\.jsonl:1: query\.image_list_column: .*media file not found: .*gone\.png"
    ):
        build_task_data(spec, rows, gui_base / spec.media_root, data_basedir=gui_base, data_source="local")


def test_only_the_tasks_split_files_are_read(gui_base: Path):
    data = fixture_data(gui_base)
    assert len(data.queries) == 6
    assert [Path(f).name for f in data.sources["corpus"]["files"]] == ["q2s-00000-of-00001.parquet"]


# --- 3. one run ---------------------------------------------------------------------------------


def test_gui_task_runs_end_to_end_on_the_tiny_checkpoint(gui_base: Path, tiny_checkpoint: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = harness.evaluate(
        "vlm2vec",
        {"pretrained": str(tiny_checkpoint), "max_pixels": 50176},
        [TASK],
        data_basedir=gui_base,
        output_path=out,
        use_cache=False,
        device="cpu",
        batch_size=4,
    )
    score = result.run_file.tasks[TASK]
    assert (score.modality, score.main_metric, score.num_queries, score.num_candidates) == ("gui", "hit@1", 6, 6)
    assert any("1 listed images name a missing file" in warning for warning in score.warnings)
    assert (out / f"{TASK}_score.json").is_file()


def test_an_adapter_without_image_lists_refuses_the_task_in_one_line(gui_base: Path, tmp_path: Path):
    from tiny_checkpoints import tiny_bert

    from harness.errors import ModelError

    with pytest.raises(ModelError) as info:
        harness.evaluate(
            "text_encoder",
            {"pretrained": str(tiny_bert(tmp_path / "bert"))},
            [TASK],
            data_basedir=gui_base,
            output_path=tmp_path / "out",
            use_cache=False,
            device="cpu",
        )
    message = str(info.value)
    assert message.startswith(
        f"task '{TASK}': adapter 'text_encoder' does not encode image lists, but the task's queries"
    )
    assert "q2s-00000-of-00002.parquet row 2" in message and "\n" not in message
    assert not (tmp_path / "out" / f"{TASK}_score.json").exists()


def test_data_check_counts_every_listed_image_and_reports_the_missing_one(gui_base: Path):
    from harness.datasetup import check_task

    result = check_task(task(), gui_base.resolve(), "local")
    assert result.status == "incomplete"  # a run reads gone.png as no image; the data still lacks it
    # guiact/{a,b,c,gone}.png and the corpus' a.png, b.png, each counted once
    assert (result.images.referenced, result.images.present, result.images.missing) == (6, 5, 1)
    assert result.images.first_missing == ["gui-tasks/GUIAct/guiact/gone.png"]


def test_validate_decodes_the_listed_images_and_warns_of_the_missing_one(gui_base: Path, capsys):
    from harness.cli import main

    path = GUI_DIR / f"{TASK}.yaml"
    assert main(["validate", str(path), "--data_basedir", str(gui_base), "--data_source", "local"]) == 0
    out = capsys.readouterr().out
    assert "6 rows, 6 candidates, 5 images checked" in out
    assert "warning: 1 listed images name a missing file" in out


@pytest.mark.parametrize("as_literal", [False, True])
def test_a_list_longer_than_the_bound_is_one_line_before_any_path_is_read(gui_base: Path, as_literal: bool):
    # A parquet list (or a 1 MiB literal) can hold far more entries than any GUI row: each would be
    # resolved and looked up on disk, and held per row, before any marker is counted.
    entries = ["guiact/a.png"] * (MAX_LIST_ENTRIES + 1)
    value: Any = repr(entries) if as_literal else entries
    with pytest.raises(
        DataError, match=rf"column 'qry_image_path': a list of {MAX_LIST_ENTRIES + 1:,} entries is longer than"
    ) as info:
        one_row(gui_base, qry_image_path=value)
    assert "\n" not in str(info.value)
    data = one_row(gui_base, qry_text="<|image_1|>" * MAX_LIST_ENTRIES, qry_image_path=entries[:MAX_LIST_ENTRIES])
    assert len(data.queries[0].input.images) == MAX_LIST_ENTRIES  # the bound itself is read
