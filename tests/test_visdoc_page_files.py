"""Visual-document pages come from where the reference reads them: ``{image_root}/<page file>``.

The reference writes every corpus page to a file under its ``image_root`` (ViDoRe:
``{corpus-id}.png``; VisRAG: ``name[:50] + "_" + md5(name)[:8] + ext``) unless the file exists,
then reads the file. ``candidates.image_file_template`` reproduces both halves: an existing file
is read; otherwise the row's image is used as that file would hold it (a ``.jpg`` re-encoded).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data.records import build_task_data
from harness.data.sources import load_rows
from harness.errors import DataError, MediaError
from harness.inputs import ImageData
from harness.media.image import open_image, storage_format
from harness.taskspec import TaskIndex
from harness.taskspec.schema import TaskSpec


def png_bytes(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_beir(base: Path, task: str, ids: list, images: list[bytes | None], queries: list[dict]) -> None:
    import datasets

    folder = base / "visdoc-tasks" / "data" / task
    folder.mkdir(parents=True)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    qrels = [{"query-id": q["query-id"], "corpus-id": ids[0], "score": 1} for q in queries]
    (folder / "qrels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qrels))
    corpus = datasets.Dataset.from_dict(
        {"corpus-id": ids, "image": [{"bytes": b, "path": None} if b else None for b in images]},
        features=datasets.Features(
            {
                "corpus-id": datasets.Value("string" if isinstance(ids[0], str) else "int64"),
                "image": datasets.Image(),
            }
        ),
    )
    corpus.to_parquet(str(folder / "corpus.parquet"))


def task_data(name: str, base: Path, spec: TaskSpec | None = None):
    spec = spec or TaskIndex().tasks[name].spec
    rows = load_rows(spec.dataset, base, "local")
    return build_task_data(spec, rows, base / spec.media_root, data_basedir=base, data_source="local")


QUERIES = [{"query-id": 1, "query": "first"}, {"query-id": 2, "query": "second"}]


def test_vidore_reads_an_existing_page_file_and_otherwise_the_corpus_image(tmp_path: Path):
    write_beir(tmp_path, "ViDoRe_arxivqa", [7, 8], [png_bytes(1), png_bytes(2)], QUERIES)
    pages = tmp_path / "visdoc-tasks" / "ViDoRe_arxivqa"  # the reference's image_root for this task
    pages.mkdir()
    (pages / "7.png").write_bytes(png_bytes(99))  # an existing file wins, as in the reference
    data = task_data("ViDoRe_arxivqa", tmp_path)
    assert data.candidates["7"].image == pages / "7.png"
    page = data.candidates["8"].image
    assert isinstance(page, ImageData) and page.stored_as is None and page.data == png_bytes(2)


def test_visrag_pages_are_re_encoded_as_the_reference_stores_them(tmp_path: Path):
    names = ["2010.05458_3.jpg", "a" * 70 + ".jpg"]
    write_beir(tmp_path, "VisRAG_ArxivQA", names, [png_bytes(3), png_bytes(4)], QUERIES)
    pages = tmp_path / "visdoc-tasks" / "VisRAG_ArxivQA"
    pages.mkdir()
    base, ext = os.path.splitext(names[1])
    stored_name = base[:50] + "_" + hashlib.md5(names[1].encode()).hexdigest()[:8] + ext
    (pages / stored_name).write_bytes(png_bytes(5))  # the reference's shortened name is found
    data = task_data("VisRAG_ArxivQA", tmp_path)
    assert data.candidates[names[1]].image == pages / stored_name
    page = data.candidates[names[0]].image
    assert isinstance(page, ImageData) and page.stored_as == "JPEG"
    # what the reference reads: the decoded image saved as .jpg with Pillow's defaults, read back
    with Image.open(io.BytesIO(png_bytes(3))) as original:
        reference_file = io.BytesIO()
        original.save(reference_file, format="JPEG")
    expected = np.asarray(Image.open(reference_file).convert("RGB"))
    ours = np.asarray(open_image(page))
    assert np.array_equal(ours, expected)
    assert not np.array_equal(ours, np.asarray(Image.open(io.BytesIO(png_bytes(3))).convert("RGB")))
    # the cache key (digest) tells the stored form from the plain bytes
    assert page.digest != ImageData(png_bytes(3)).digest


def test_a_page_without_file_or_image_data_names_the_file(tmp_path: Path):
    write_beir(tmp_path, "ViDoRe_arxivqa", [7, 8], [png_bytes(1), None], QUERIES)
    with pytest.raises(
        DataError, match=r"corpus.parquet row 1: candidates.image_file_template: image file not found: .*8\.png"
    ):
        task_data("ViDoRe_arxivqa", tmp_path)


def test_a_page_file_template_cannot_leave_the_media_root(tmp_path: Path):
    write_beir(tmp_path, "ViDoRe_arxivqa", ["../../../etc/passwd", "x"], [png_bytes(1), png_bytes(2)], QUERIES)
    spec = TaskIndex().tasks["ViDoRe_arxivqa"].spec
    with pytest.raises(DataError, match="escapes its root"):
        task_data("ViDoRe_arxivqa", tmp_path, spec)


def test_storage_formats():
    assert storage_format("7.png") is None and storage_format("x.PNG") is None  # lossless: no round trip
    assert storage_format("a.jpg") == "JPEG" and storage_format("a.jpeg") == "JPEG"
    assert storage_format("a.webp") == "WEBP"
    with pytest.raises(MediaError, match="Pillow writes no '.xyz' files"):
        storage_format("a.xyz")
    with pytest.raises(MediaError, match="Pillow writes no '' files"):
        storage_format("noextension")


def test_an_image_the_reference_cannot_store_as_jpeg_is_a_media_error():
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (1, 2, 3, 4)).save(buffer, format="PNG")
    with pytest.raises(MediaError, match="cannot be stored as JPEG"):
        open_image(ImageData(buffer.getvalue(), stored_as="JPEG"))


# --- dataset.where: the English-only ViDoRe-v2 variants ------------------------------------------


def test_where_filters_queries_before_num_rows(tmp_path: Path):
    queries = [
        {"query-id": 1, "query": "q1", "language": "french"},
        {"query-id": 2, "query": "q2", "language": "english"},
        {"query-id": 3, "query": "q3", "language": "english"},
        {"query-id": 4, "query": "q4", "language": "english"},
    ]
    write_beir(tmp_path, "ViDoRe_esg_reports_v2", [7, 8], [png_bytes(1), png_bytes(2)], queries)
    data = task_data("ViDoRe_esg_reports_v2", tmp_path)
    assert [q.input.text.rsplit(" ", 1)[1] for q in data.queries] == ["q2", "q3", "q4"]
    spec = TaskIndex().tasks["ViDoRe_esg_reports_v2"].spec.model_copy(update={"num_rows": 2})
    rows = load_rows(spec.dataset, tmp_path, "local", limit=spec.num_rows)
    assert [r["query-id"] for r in rows.rows] == [2, 3]  # filtered first, then the first N
    assert rows.provenance["where"] == {"language": "english"}


def test_where_on_a_row_without_the_column_names_the_row(tmp_path: Path):
    write_beir(tmp_path, "ViDoRe_esg_reports_v2", [7], [png_bytes(1)], [{"query-id": 1, "query": "q"}])
    with pytest.raises(DataError, match=r"queries.jsonl:1: dataset.where: missing column 'language'"):
        task_data("ViDoRe_esg_reports_v2", tmp_path)


def test_where_must_name_a_column():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="where needs at least one"):
        TaskSpec.model_validate(
            {
                **TaskIndex().tasks["ViDoRe_esg_reports_v2"].spec.model_dump(exclude_unset=True),
                "dataset": {"files": ["q.jsonl"], "where": {}},
            }
        )


def oriented_jpeg(orientation: int) -> bytes:
    """A 40x20 JPEG whose EXIF says to turn it (orientation 6: 90 degrees clockwise)."""
    pixels = np.random.default_rng(orientation).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("stored_as", [None, "JPEG"])
def test_image_data_from_rows_is_turned_by_exif_as_datasets_decodes_it(stored_as: str | None):
    import datasets

    from harness.data.corpus import image_value
    from harness.media.image import image_size

    data = oriented_jpeg(6)
    image = image_value({"bytes": data, "path": None})
    assert isinstance(image, ImageData) and image.exif_transpose
    if stored_as is not None:
        image = ImageData(image.data, stored_as=stored_as, exif_transpose=True)
    # the reference: datasets decodes the row's image (turning it), then saves it to the page file
    decoded = datasets.Image().decode_example({"bytes": data, "path": None})
    if stored_as is not None:
        page = io.BytesIO()
        decoded.save(page, format=stored_as)
        decoded = Image.open(page)
    expected = np.asarray(decoded.convert("RGB"))
    ours = open_image(image)
    assert ours.size == (20, 40) == image_size(image)  # turned, and the token planner sees the turned size
    assert np.array_equal(np.asarray(ours), expected)
    # an image read from a path is not turned (the reference opens paths with PIL directly)
    assert open_image(ImageData(data)).size == (40, 20)


def test_an_existing_page_file_is_read_whatever_its_extension(tmp_path: Path):
    names = ["x.05458_3", "y.05458_4"]  # VisRAG-style ids with an extension Pillow cannot write
    write_beir(tmp_path, "VisRAG_ArxivQA", names, [png_bytes(1), png_bytes(2)], QUERIES)
    pages = tmp_path / "visdoc-tasks" / "VisRAG_ArxivQA"
    pages.mkdir()
    for name in names:
        base, ext = os.path.splitext(name)
        (pages / (base[:50] + "_" + hashlib.md5(name.encode()).hexdigest()[:8] + ext)).write_bytes(png_bytes(3))
    data = task_data("VisRAG_ArxivQA", tmp_path)
    assert all(isinstance(c.image, Path) for c in data.candidates.values())
    (pages / sorted(p.name for p in pages.iterdir())[0]).unlink()
    with pytest.raises(DataError, match="Pillow writes no '.05458_"):
        task_data("VisRAG_ArxivQA", tmp_path)
