"""Builders for the data-setup tests: a hub mirror (``<root>/<owner>/<name>/``) holding the MMEB-V2
image archive, an MMEB_Test_Instruct table, an MSR-VTT frames archive and table, and a ViDoRe BEIR
repository, all made from the golden test data."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

DATA = Path(__file__).parent / "data"
GOLDEN_IMAGES = DATA / "golden" / "media" / "image-tasks" / "synthetic"
GOLDEN_ROWS = DATA / "golden" / "image-tasks-dev"
FRAMES = DATA / "video" / "MSR-VTT"
PAGES = DATA / "visdoc_pages"
VIDEOS = ("video7001", "video7002", "video7003", "video7004")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def readme(configs: dict[str, dict[str, str]]) -> str:
    """A dataset card header: config name → {split: path pattern}."""
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {path}" for split, path in splits.items()]
    return "\n".join(lines + ["---", "# card", ""])


def tar_folder(archive: Path, folder: Path, arcname: str) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=arcname)


def image_mirror(root: Path, commit: str | None = "c0ffee1") -> Path:
    """TIGER-Lab/MMEB-V2 (image archive, images under MMEB/) and ziyjiang/MMEB_Test_Instruct."""
    media = root / "TIGER-Lab" / "MMEB-V2"
    tar_folder(media / "image-tasks" / "mmeb_v1.tar.gz", GOLDEN_IMAGES, "MMEB/synthetic")
    rows = root / "ziyjiang" / "MMEB_Test_Instruct"
    rows.mkdir(parents=True)
    (rows / "README.md").write_text(readme({"ImageNet-1K": {"test": "ImageNet-1K/test-*"}}))
    lines = (GOLDEN_ROWS / "ImageNet-1K.jsonl").read_text()
    (rows / "ImageNet-1K").mkdir()
    (rows / "ImageNet-1K" / "test-00000-of-00001.jsonl").write_text(lines)
    if commit is not None:
        (media / ".commit").write_text(commit + "\n")
        (rows / ".commit").write_text(commit + "\n")
    return root


def msrvtt_rows() -> list[dict]:
    return [{"video_id": v, "video": f"TestVideo/{v}.mp4", "caption": f"caption {i}"} for i, v in enumerate(VIDEOS)]


def video_mirror(root: Path) -> Path:
    """TIGER-Lab/MMEB-V2's video_ret.tar.gz (laid out as the task files expect) and VLM2Vec/MSR-VTT."""
    staging = root.parent / "msrvtt-frames"
    for video in VIDEOS:
        target = staging / "MSR-VTT" / video
        target.mkdir(parents=True)
        for frame in sorted((FRAMES / video).iterdir()):
            (target / frame.name).write_bytes(frame.read_bytes())
    tar_folder(
        root / "TIGER-Lab" / "MMEB-V2" / "video-tasks" / "frames" / "video_ret.tar.gz", staging / "MSR-VTT", "MSR-VTT"
    )
    repo = root / "VLM2Vec" / "MSR-VTT"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text(readme({"test_1k": {"test": "test_1k/test-*"}}))
    write_jsonl(repo / "test_1k" / "test-00000-of-00001.jsonl", msrvtt_rows())
    return root


def beir_tables(folder: Path, name: str, layout: str = "readme") -> None:
    """queries / corpus (parquet, page bytes) / qrels of a ViDoRe-style BEIR repository."""
    import datasets

    pages = sorted(PAGES.glob("*.png"))
    ids = [100 + i for i in range(len(pages))]
    queries = datasets.Dataset.from_dict({"query-id": [1, 2], "query": ["renewable share?", "scope 3?"]})
    qrels = datasets.Dataset.from_dict({"query-id": [1, 2], "corpus-id": [ids[1], ids[3]], "score": [1, 2]})
    corpus = datasets.Dataset.from_dict(
        {"corpus-id": ids, "image": [{"bytes": p.read_bytes(), "path": None} for p in pages]},
        features=datasets.Features({"corpus-id": datasets.Value("int64"), "image": datasets.Image()}),
    )
    for config, table in (("queries", queries), ("corpus", corpus), ("qrels", qrels)):
        target = folder / config / "test-00000-of-00001.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(target))
    if layout == "readme":
        (folder / "README.md").write_text(readme({c: {"test": f"{c}/test-*"} for c in ("queries", "corpus", "qrels")}))
