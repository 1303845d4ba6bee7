"""Silent data faults become errors or counted warnings, and hostile media and paths one clear line.

- a positive that is not among the candidates its query is ranked against is an error naming the
  row (or, for tasks that declare ``relevance.unmatched: score_zero``, a counted warning);
- a null candidate is an error (it would render as the text "None");
- duplicate candidate ids in a row keep the reference's numbers, with a warning, a count in the
  score file and a line from ``harness validate``;
- an image whose header declares more pixels than the budget is refused before decoding;
- overlong or NUL-holding media paths are one line, not an OSError traceback.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from conftest import TINY_MODEL_ARGS, write_task
from test_bad_input import one_error_line, run_args

from harness.cli import main
from harness.errors import MediaError
from harness.inputs import ImageData
from harness.media.image import DEFAULT_MAX_IMAGE_PIXELS, image_pixel_budget, max_image_pixels, open_image

ROW = {
    "qry_inst": "<|image_1|>\nRepresent the given image for classification",
    "qry_text": "",
    "qry_img_path": "synthetic/img00_40x56.png",
    "tgt_text": ["red square", "blue circle"],
    "tgt_img_path": ["", ""],
}


def write_rows(basedir: Path, name: str, rows: list[dict[str, object]]) -> str:
    relative = f"faults/{name}.jsonl"
    (basedir / "faults").mkdir(exist_ok=True)
    (basedir / relative).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return relative


@pytest.fixture
def run_task(tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]):
    """Write task ``name`` over ``rows`` and run it with the tiny model: ``(status, stderr, output folder)``."""

    def run(name: str, rows: list[dict[str, object]], **overrides: object) -> tuple[int, str, Path]:
        files = [write_rows(mmeb_basedir, name, rows)]
        write_task(tmp_path / "tasks", name, dataset={"files": files}, **overrides)
        out = tmp_path / "out" / name
        argv = run_args(
            name,
            data=mmeb_basedir,
            out=out,
            include=tmp_path / "tasks",
            model_args=f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}",
        )
        status = main(argv)
        return status, capsys.readouterr().err, out

    return run


LABEL_RELEVANCE = {"relevance": {"kind": "id_template", "template": "{{ label }}"}}


# --- positives that are no candidate --------------------------------------------------------------


def test_positive_missing_from_the_rows_candidates_is_an_error_naming_the_row(run_task, mmeb_basedir: Path):
    rows = [{**ROW, "label": "red square"}, {**ROW, "label": "purple hexagon"}]

    status, err, out = run_task("missing_positive", rows, **LABEL_RELEVANCE)

    assert status == 2
    line = err.strip().splitlines()[-1]
    rows_file = mmeb_basedir / "faults" / "missing_positive.jsonl"
    assert line.startswith(f"error: task 'missing_positive', {rows_file}:2: relevance: positive 'purple hexagon'")
    assert "is not among the row's 2 candidates" in line and "'red square', 'blue circle'" in line
    assert not (out / "missing_positive_score.json").exists()


def test_positive_missing_from_every_candidate_of_a_global_task_is_an_error(run_task):
    rows = [{**ROW, "label": "red square"}, {**ROW, "label": "nowhere"}]

    status, err, _ = run_task("missing_global", rows, ranking="global", **LABEL_RELEVANCE)

    assert status == 2
    assert "relevance: positive 'nowhere' is not among the task's candidates" in err


def test_declared_unmatched_positives_score_zero_with_a_counted_warning(run_task):
    rows = [{**ROW, "label": "red square"}, {**ROW, "label": "purple hexagon"}]
    relevance = {"relevance": {"kind": "id_template", "template": "{{ label }}", "unmatched": "score_zero"}}

    status, err, out = run_task("score_zero", rows, **relevance)

    assert status == 0
    assert "warning: task 'score_zero': 1 of 2 rows have a positive that is not among their candidates" in err
    score = json.loads((out / "score_zero_score.json").read_text())
    assert score["num_unmatched_positive_rows"] == 1
    assert score["hit@1"] <= 0.5  # the unmatched row scores 0
    run_file = json.loads((out / "leaderboard.json").read_text())
    assert run_file["tasks"]["score_zero"]["num_unmatched_positive_rows"] == 1


def test_unknown_unmatched_mode_is_a_task_file_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write_task(
        tmp_path / "tasks", "bad_mode", relevance={"kind": "id_template", "template": "x", "unmatched": "ignore"}
    )

    message = one_error_line(capsys, run_args(str(path), data=tmp_path, out=tmp_path / "out"))

    assert message.startswith(f"{path.resolve()}:") and "relevance.unmatched" in message


# --- null candidates ------------------------------------------------------------------------------


def test_null_candidate_is_an_error_not_the_text_none(run_task, mmeb_basedir: Path):
    rows = [ROW, {**ROW, "tgt_text": ["red square", None], "tgt_img_path": ["", ""]}]

    status, err, _ = run_task("null_candidate", rows)

    assert status == 2
    rows_file = mmeb_basedir / "faults" / "null_candidate.jsonl"
    assert err.strip().splitlines()[-1] == (
        f"error: task 'null_candidate', {rows_file}:2: candidates.columns: column 'tgt_text': candidate 1 is null"
    )


def test_null_image_of_a_candidate_means_no_image(run_task):
    rows = [{**ROW, "tgt_img_path": [None, ""]}]

    status, err, _ = run_task("null_image", rows, candidates={"image_column": "tgt_img_path"})

    assert status == 0, err


def test_null_in_a_column_the_candidate_templates_never_print_is_not_an_error(run_task):
    rows = [{**ROW, "tgt_img_path": [None, None]}]  # zipped, but only tgt_text is printed

    status, err, _ = run_task("null_unprinted", rows)

    assert status == 0, err


def test_null_in_a_column_read_by_subscript_is_an_error(run_task):
    templates = {"template": "{{ cand['tgt_text'] }}", "id_template": "{{ cand['tgt_text'] }}"}

    status, err, _ = run_task("null_subscript", [{**ROW, "tgt_text": [None, "x"]}], candidates=templates)

    assert status == 2
    assert "candidates.columns: column 'tgt_text': candidate 0 is null" in err


def test_null_item_of_an_items_template_is_an_error(run_task):
    candidates = {
        "columns": [],
        "items_template": "{{ [tgt_text[0], none] | tojson }}",
        "template": "{{ cand.value }}",
        "id_template": "{{ cand.value }}",
    }

    status, err, _ = run_task("null_item", [ROW], candidates=candidates)

    assert status == 2
    assert "candidates.items_template: candidate 1 is null" in err


# --- duplicate candidate ids ----------------------------------------------------------------------


def test_duplicate_candidate_ids_keep_the_reference_score_with_a_counted_warning(run_task):
    rows = [ROW, {**ROW, "tgt_text": ["red square", "red square", "blue circle"], "tgt_img_path": ["", "", ""]}]

    status, err, out = run_task("dup_candidates", rows)

    assert status == 0
    assert "warning: task 'dup_candidates': 1 of 2 rows list a candidate id more than once" in err
    score = json.loads((out / "dup_candidates_score.json").read_text())
    assert score["num_duplicate_candidate_rows"] == 1
    assert any("more than once" in w for w in score["warnings"])


def test_validate_reports_rows_with_duplicate_candidate_ids(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    rows = [ROW, {**ROW, "tgt_text": ["a", "a"], "tgt_img_path": ["", ""]}]
    files = [write_rows(mmeb_basedir, "dups", rows)]
    path = write_task(tmp_path / "tasks", "dups", dataset={"files": files})

    status = main(["validate", str(path), "--data_basedir", str(mmeb_basedir)])

    out = capsys.readouterr().out
    assert status == 0
    assert "warning: 1 rows list a candidate id twice" in out and "dups.jsonl:2" in out


# --- decompression bombs --------------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid PNG header declaring ``width`` × ``height`` (the pixel data is a tiny stub)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_declaring_more_pixels_than_the_budget_is_refused_before_decoding(tmp_path: Path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(12000, 12000))  # 144 M pixels: below PIL's own hard limit

    with pytest.raises(
        MediaError, match=r"bomb.png is 12000×12000 = 144,000,000 pixels, over the budget of 50,000,000"
    ):
        open_image(bomb)


def test_in_memory_image_bytes_are_held_to_the_budget_too():
    data = png_declaring(9000, 9000)

    with pytest.raises(MediaError, match="over the budget"):
        open_image(ImageData(data=data))


def test_the_budget_can_be_raised_for_genuine_large_images(tmp_path: Path):
    from PIL import Image

    picture = tmp_path / "wide.png"
    Image.new("RGB", (300, 200)).save(picture)
    with image_pixel_budget(50_000), pytest.raises(MediaError, match="over the budget of 50,000"):
        open_image(picture)

    with image_pixel_budget(60_000):
        assert open_image(picture).size == (300, 200)
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS  # restored after the block


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_validate_refuses_a_bomb_in_a_row_with_its_path_and_size(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    (mmeb_basedir / "image-tasks" / "synthetic" / "bomb.png").write_bytes(png_declaring(12000, 12000))
    files = [write_rows(mmeb_basedir, "bomb", [{**ROW, "qry_img_path": "synthetic/bomb.png"}])]
    path = write_task(tmp_path / "tasks", "bomb", dataset={"files": files})

    status = main(["validate", str(path), "--data_basedir", str(mmeb_basedir)])

    out = capsys.readouterr().out
    assert status == 2
    assert "bomb.png is 12000×12000 = 144,000,000 pixels" in out and "--max_image_pixels" in out


def test_max_image_pixels_must_be_a_positive_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(tmp_path), "--max_image_pixels", "0"])

    assert exit_info.value.code == 2
    assert "expected a number >= 1" in capsys.readouterr().err


# --- hostile paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("synthetic/" + "x" * 5000 + ".png", "is 5,014 characters long (limit 4096)"),
        ("synthetic/" + "y" * 300 + ".png", "has a name of more than 255 bytes"),
        ("synthetic/a\x00.png", "contains a NUL character"),
    ],
    ids=["5000-characters", "300-character-name", "nul"],
)
def test_hostile_media_path_is_one_line_naming_the_row(run_task, mmeb_basedir: Path, path: str, expected: str):
    status, err, _ = run_task("hostile_path", [{**ROW, "qry_img_path": path}])

    assert status == 2
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"error: task 'hostile_path', {mmeb_basedir / 'faults' / 'hostile_path.jsonl'}:1: ")
    assert expected in line and len(line) < 400


def test_pillow_image_bytes_stay_decodable_under_the_default_budget():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, format="PNG")

    assert open_image(ImageData(data=buffer.getvalue())).size == (64, 48)


# --- hub dataset ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/etc", "../secrets", "~/.ssh", "a/b/c", "./data", "org/.."])
def test_a_dataset_path_that_is_no_hub_id_is_refused_before_any_read(tmp_path: Path, path: str):
    from harness.data import load_rows
    from harness.errors import DataError
    from harness.taskspec.schema import DatasetSource

    with pytest.raises(DataError, match="is not a hub dataset id"):
        load_rows(DatasetSource(path=path), tmp_path, mode="hub")


def test_a_hub_id_that_names_a_local_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from harness.data import load_rows
    from harness.errors import DataError
    from harness.taskspec.schema import DatasetSource

    (tmp_path / "org" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(DataError, match="names a local folder or file"):
        load_rows(DatasetSource(path="org/data"), tmp_path, mode="hub")
