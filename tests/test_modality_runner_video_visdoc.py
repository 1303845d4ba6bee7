"""run_vlm2vec_qwen2vl_2b_eval.py --modality visdoc / video, end to end offline on fixture data.

Every task of ``mmeb_v2_visdoc`` gets a small BEIR table set (queries.jsonl, corpus as parquet with
the page images stored as image bytes as on the hub, graded qrels.jsonl with one query that has no
qrels) under ``visdoc-tasks/data/<Task>/``. Every task of ``mmeb_v2_video`` gets rows of its
parser family (adapted from tests/data/mmeb_video_rows/) whose videos are the golden MSR-VTT frame
folders video7001..video7004, copied to the paths its ``video_template`` expects under
``video-tasks/frames/``. Both run with the tiny checkpoint through the real ``vlm2vec`` adapter.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.cli.modality_runner import main
from harness.results import read_embeddings
from harness.taskspec import TaskIndex

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TINY = DATA / "golden" / "tiny-qwen2vl"
PAGES = DATA / "visdoc_pages"
FRAMES = DATA / "video" / "MSR-VTT"
VIDEO_ROWS = DATA / "mmeb_video_rows"
VIDEOS = ("video7001", "video7002", "video7003", "video7004")


def _run(modality: str, basedir: Path, output: Path, *extra: str) -> int:
    return main(
        [
            "--modality",
            modality,
            "--model_name",
            str(TINY),
            "--resize_max_pixels",
            "50176",
            "--data_basedir",
            str(basedir),
            "--output_basedir",
            str(output),
            "--batch_size",
            "4",
            *extra,
        ]
    )


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------
# visdoc


def _parser_of(name: str) -> str:
    source = TaskIndex().tasks[name].source
    for line in source.read_text().splitlines():
        if line.startswith("include:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{source} has no include")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _visdoc_tables(name: str) -> tuple[list[dict], list, list[dict]]:
    """queries, corpus ids, qrels; VisRAG ids are file names, ViDoRe ids integers (as on the hub)."""
    pages = sorted(PAGES.glob("*.png"))
    if _parser_of(name) == "_visrag.yaml":
        ids: list = [f"2010.0545{i}_{i}.jpg" for i in range(len(pages))]
        qids: list = ["q_a", "q_b", "q_c"]
    else:
        ids = [100 + i for i in range(len(pages))]
        qids = [1, 2, 3]
    queries = [
        {"query-id": qids[0], "query": "What share of electricity came from renewable sources?"},
        {"query-id": qids[1], "query": "Quelle est la part des émissions de scope 3 ?"},
        {"query-id": qids[2], "query": "A query nobody judged"},
    ]
    qrels = [
        {"query-id": qids[0], "corpus-id": ids[1], "score": 2},
        {"query-id": qids[0], "corpus-id": ids[4], "score": 1},
        {"query-id": qids[0], "corpus-id": ids[6], "score": 0},  # dropped (score > 0 only)
        {"query-id": qids[1], "corpus-id": ids[3], "score": 1},
        {"query-id": qids[1], "corpus-id": ids[3], "score": 2},  # repeated pair: the maximum wins
    ]
    return queries, ids, qrels


@pytest.fixture(scope="module")
def visdoc_basedir(tmp_path_factory) -> Path:
    import datasets

    base = tmp_path_factory.mktemp("mmeb_all_visdoc")
    names = TaskIndex().expand("mmeb_v2_visdoc")
    assert len(names) == 24
    pages = sorted(PAGES.glob("*.png"))
    for name in names:
        folder = base / "visdoc-tasks" / "data" / name
        queries, ids, qrels = _visdoc_tables(name)
        _write_jsonl(folder / "queries.jsonl", queries)
        _write_jsonl(folder / "qrels.jsonl", qrels)
        corpus = datasets.Dataset.from_dict(
            {
                "corpus-id": ids,
                "image": [{"bytes": page.read_bytes(), "path": None} for page in pages],
            },
            features=datasets.Features(
                {
                    "corpus-id": datasets.Value("string" if isinstance(ids[0], str) else "int64"),
                    "image": datasets.Image(),
                }
            ),
        )
        corpus.to_parquet(str(folder / "corpus.parquet"))
    return base


@pytest.fixture(scope="module")
def visdoc_run(visdoc_basedir, tmp_path_factory):
    output = tmp_path_factory.mktemp("visdoc_out")
    before = _files_under(visdoc_basedir)
    code = _run("visdoc", visdoc_basedir, output)
    return code, output / "tiny-qwen2vl" / "visdoc", before, visdoc_basedir


def test_visdoc_modality_runs_all_24_tasks(visdoc_run):
    code, out, before, basedir = visdoc_run
    assert code == 0
    entry = json.loads((out / "leaderboard.json").read_text())
    assert len(entry["tasks"]) == 24
    assert entry["groups"]["mmeb_v2_visdoc"]["complete"] is True
    assert entry["groups"]["mmeb_v2_visdoc"]["score"] is not None
    for name, task in entry["tasks"].items():
        assert task["main_metric"] == "ndcg_linear@5", name
        assert "ndcg_linear@5" in task["metrics"] and "ndcg_exponential@5" in task["metrics"]
        assert task["num_excluded"] == 1, name
        assert task["num_queries"] == 2, name
        assert task["num_candidates"] == 8, name
        score = json.loads((out / f"{name}_score.json").read_text())
        assert score["num_excluded"] == 1
        preds = [json.loads(line) for line in (out / f"{name}_pred.jsonl").read_text().splitlines()]
        assert len(preds) == 2
        for pred in preds:
            assert len(pred["prediction"]) == 8  # top-k (10) of an 8-page corpus
            assert len(pred["rel_scores"]) == len(pred["label"])
    # the pages stayed in memory: no PNG written to the data folder or the output folder
    assert _files_under(basedir) == before
    assert not [p for p in out.parent.parent.rglob("*") if p.suffix.lower() in {".png", ".jpg"}]


def _ndcg(ranking: list[str], grades: dict[str, int], k: int, exponential: bool) -> float:
    gain = (lambda g: 2**g - 1) if exponential else (lambda g: g)
    dcg = sum(gain(grades.get(doc, 0)) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    return dcg / sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))


def test_visdoc_graded_ndcg_matches_a_hand_computation(visdoc_run):
    code, out, _, basedir = visdoc_run
    assert code == 0
    name = "ViDoRe_esg_reports_human_labeled_v2"
    qrels = [json.loads(line) for line in (basedir / "visdoc-tasks/data" / name / "qrels.jsonl").open()]
    grades: dict[str, dict[str, int]] = {}
    for row in qrels:
        if row["score"] > 0:
            doc = grades.setdefault(str(row["query-id"]), {})
            doc[str(row["corpus-id"])] = max(doc.get(str(row["corpus-id"]), 0), row["score"])
    assert grades == {"1": {"101": 2, "104": 1}, "2": {"103": 2}}
    preds = [json.loads(line) for line in (out / f"{name}_pred.jsonl").read_text().splitlines()]
    # query 1 (graded 2 and 1) is the first scored row; its labels/grades are written with it
    assert dict(zip(preds[0]["label"], preds[0]["rel_scores"], strict=True)) == grades["1"]
    assert dict(zip(preds[1]["label"], preds[1]["rel_scores"], strict=True)) == grades["2"]
    by_query = [(preds[0]["prediction"], grades["1"]), (preds[1]["prediction"], grades["2"])]
    linear = [_ndcg(r, g, 5, exponential=False) for r, g in by_query]
    exponential = [_ndcg(r, g, 5, exponential=True) for r, g in by_query]
    score = json.loads((out / f"{name}_score.json").read_text())
    assert score["ndcg_linear@5"] == pytest.approx(sum(linear) / 2, abs=1e-12)
    assert score["ndcg_exponential@5"] == pytest.approx(sum(exponential) / 2, abs=1e-12)
    # the graded query by itself, by hand from its written ranking
    ranking = preds[0]["prediction"]
    pos = {doc: ranking.index(doc) + 1 for doc in ("101", "104")}
    idcg_lin = 2 / math.log2(2) + 1 / math.log2(3)
    dcg_lin = sum(g / math.log2(pos[d] + 1) for d, g in grades["1"].items() if pos[d] <= 5)
    idcg_exp = 3 / math.log2(2) + 1 / math.log2(3)
    dcg_exp = sum((2**g - 1) / math.log2(pos[d] + 1) for d, g in grades["1"].items() if pos[d] <= 5)
    assert linear[0] == pytest.approx(dcg_lin / idcg_lin, abs=1e-12)
    assert exponential[0] == pytest.approx(dcg_exp / idcg_exp, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# video


def _rows(file: str) -> list[dict]:
    return [json.loads(line) for line in (VIDEO_ROWS / file).read_text().splitlines() if line.strip()]


def _video_task_data(name: str) -> tuple[str, list[dict], list[str | tuple[str, str]]]:
    """(data file name, rows, frame folders relative to video-tasks/frames/, each → a golden video:
    named by the folder's last "_" part, or given as a (folder, video) pair)."""
    v1, v2, v3, v4 = VIDEOS
    if name in ("K700", "HMDB51", "UCF101", "Breakfast"):
        rows = _rows("video_classification.jsonl")
        rows[0]["video_id"], rows[1]["video_id"] = v1, v2
        return "test.jsonl", rows, [f"video_cls/{name}/{v1}", f"video_cls/{name}/{v2}"]
    if name == "SmthSmthV2":
        rows = _rows("ssv2.jsonl")
        second = {**rows[0], "pos_text": "Folding something"}
        rows[0]["video_id"], second["video_id"] = v1, v2
        return "test.jsonl", [rows[0], second], [f"video_cls/SSv2/{v1}", f"video_cls/SSv2/{v2}"]
    if name == "Video-MME":
        rows = _rows("videomme.jsonl")
        rows[0]["videoID"], rows[1]["videoID"] = v1, v2
        return "test.jsonl", rows, [f"video_qa/Video-MME/{v1}", f"video_qa/Video-MME/{v2}"]
    if name == "NExTQA":
        rows = _rows("nextqa.jsonl")
        rows[0]["video"], rows[1]["video"] = v1, v2
        return "test.jsonl", rows, [f"video_qa/NExTQA/{v1}", f"video_qa/NExTQA/{v2}"]
    if name == "EgoSchema":
        rows = _rows("egoschema.jsonl")
        second = {**rows[0], "answer": "0", "question_idx": "q2"}
        rows[0]["video_idx"], second["video_idx"] = v1, v2
        return "test.jsonl", [rows[0], second], [f"video_qa/EgoSchema/{v1}", f"video_qa/EgoSchema/{v2}"]
    if name == "ActivityNetQA":
        rows = _rows("activitynetqa.jsonl")
        second = {**rows[0], "answer": "yes", "question_id": "v_x_2"}
        rows[0]["video_name"], second["video_name"] = v1, v2
        return "test.jsonl", [rows[0], second], [f"video_qa/ActivityNetQA/v_{v1}", f"video_qa/ActivityNetQA/v_{v2}"]
    if name == "DiDeMo":
        rows = _rows("didemo.jsonl")[:2]
        rows[0]["video"], rows[1]["video"] = f"videos/{v1}.mp4", f"a/{v2}.mov"
        return "test.jsonl", rows, [f"video_ret/DiDeMo/{v1}", f"video_ret/DiDeMo/{v2}"]
    if name == "MSR-VTT":
        base = _rows("msrvtt.jsonl")
        rows = [{**base[i % 2], "video_id": v, "video": f"TestVideo/{v}.mp4"} for i, v in enumerate(VIDEOS)]
        return "test.jsonl", rows, [f"video_ret/MSR-VTT/{v}" for v in VIDEOS]
    if name == "MSVD":
        rows = _rows("msvd.jsonl")
        second = {**rows[0], "caption": ["a cat sleeps"]}
        rows[0]["video_id"], second["video_id"] = v1, v2
        return "test.jsonl", [rows[0], second], [f"video_ret/MSVD/{v1}", f"video_ret/MSVD/{v2}"]
    if name == "VATEX":
        rows = _rows("vatex.jsonl")
        second = {**rows[0], "enCap": ["A dog runs."]}
        rows[0]["videoID"], second["videoID"] = v1, v2
        return "test.jsonl", [rows[0], second], [f"video_ret/VATEX/{v1}", f"video_ret/VATEX/{v2}"]
    if name == "YouCook2":
        rows = _rows("youcook2.jsonl")
        second = {**rows[0], "sentence": "cut the bread"}
        rows[0]["id"], second["id"] = v1, v2
        return "val.jsonl", [rows[0], second], [f"video_ret/YouCook2/{v1}", f"video_ret/YouCook2/{v2}"]
    if name == "MomentSeeker":
        frames = "video_mret/MomentSeeker/video_frames"
        rows = [
            {
                "query": "a man opens the fridge",
                "input_frames": "",
                "positive_frames": [{"output_path": f"ego4d/{v1}.mp4"}],
                "negative_frames": [{"output_path": f"ego4d/{v2}.mp4"}],
            },
            {
                "query": "the same woman later walks into the kitchen",
                "input_frames": f"movie101/{v3}.mp4",
                "positive_frames": [{"output_path": f"movie101/{v4}.mp4", "duration": 4.5}],
                "negative_frames": [{"output_path": f"ego4d/{v1}.mp4", "duration": 2.0}],
            },
        ]
        folders = [f"{frames}/ego4d_{v1}", f"{frames}/ego4d_{v2}", f"{frames}/movie101_{v3}", f"{frames}/movie101_{v4}"]
        return "test.jsonl", rows, folders
    if name == "MVBench":  # one row per config, written to MVBench/<subset>/train.jsonl by the fixture
        base = _rows("mvbench.jsonl")
        rows = [
            {**base[i % len(base)], "subset": subset, "video": VIDEOS[i % 4]}
            for i, subset in enumerate(TaskIndex().tasks["MVBench"].spec.dataset.subsets or [])
        ]
        return "train.jsonl", rows, [f"video_qa/MVBench/{row['subset']}/{row['video']}" for row in rows]
    if name in ("QVHighlight", "Charades-STA"):
        folder = f"video_mret/{name.replace('-', '_')}"
        rows = _rows("moment_retrieval.jsonl")[:2]
        clips = [("query", v1), ("negative_0", v2), ("positive_0", v3), ("negative_1", v4)]
        stems = ["NUsG9BgSes0_210.0_360.0", "3MSZA"]
        return "test.jsonl", rows, [(f"{folder}/{stem}/{clip}", video) for stem in stems for clip, video in clips]
    raise AssertionError(f"no fixture rows for video task {name}")


@pytest.fixture(scope="module")
def video_basedir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("mmeb_all_video")
    for name in TaskIndex().expand("mmeb_v2_video"):
        file, rows, folders = _video_task_data(name)
        if name == "MVBench":
            for row in rows:
                subset = row.pop("subset")  # the loader adds it back from the folder
                _write_jsonl(base / "video-tasks" / "data" / name / subset / file, [row])
        else:
            _write_jsonl(base / "video-tasks" / "data" / name / file, rows)
        for entry in folders:
            folder, video = entry if isinstance(entry, tuple) else (entry, Path(entry).name.split("_")[-1])
            target = base / "video-tasks" / "frames" / folder
            if not target.exists():
                shutil.copytree(FRAMES / video, target)
    return base


@pytest.fixture(scope="module")
def video_run(video_basedir, tmp_path_factory):
    output = tmp_path_factory.mktemp("video_out")
    code = _run("video", video_basedir, output)
    return code, output / "tiny-qwen2vl" / "video"


def test_video_modality_runs_every_video_task(video_run):
    code, out = video_run
    names = TaskIndex().expand("mmeb_v2_video")
    assert code == 0
    entry = json.loads((out / "leaderboard.json").read_text())
    assert sorted(entry["tasks"]) == sorted(names)
    assert entry["groups"]["mmeb_v2_video"]["complete"] is True
    for name in names:
        for suffix in ("_score.json", "_pred.jsonl", "_info.jsonl", "_qry", "_tgt"):
            assert (out / f"{name}{suffix}").is_file(), name + suffix
        assert entry["tasks"][name]["main_metric"] == "hit@1"
    labels = {"K700": 700, "HMDB51": 51, "UCF101": 101, "Breakfast": 10}
    for name, count in labels.items():
        # the global label corpus is encoded: every label, plus the row labels missing from the list
        # (both fixture labels for all but K700, whose list has "waiting_in_line")
        assert entry["tasks"][name]["num_candidates"] >= count, name
        assert entry["tasks"][name]["num_candidates"] == count + (1 if name == "K700" else 2), name
    assert entry["tasks"]["MVBench"]["num_queries"] == 20
    for name in ("QVHighlight", "Charades-STA"):
        info = [json.loads(line) for line in (out / f"{name}_info.jsonl").read_text().splitlines()]
        folder = f"video_mret/{name.replace('-', '_')}/3MSZA"
        assert info[1]["label_name"] == f"{folder}/positive_0"
        assert info[1]["cand_names"] == [f"{folder}/{clip}" for clip in ("negative_0", "negative_1", "positive_0")]
    embeddings, ids = read_embeddings(out / "MSR-VTT_tgt")
    assert ids == list(VIDEOS)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    for i in range(len(VIDEOS)):
        for j in range(i + 1, len(VIDEOS)):
            assert not np.allclose(embeddings[i], embeddings[j], atol=1e-4), (ids[i], ids[j])
    queries, _ = read_embeddings(out / "K700_qry")  # video queries: unit, per video
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(queries[0], queries[1], atol=1e-4)


def test_a_missing_frame_folder_stops_the_run_naming_task_row_and_path(video_basedir, tmp_path, capsys):
    base = tmp_path / "data"
    shutil.copytree(video_basedir, base)
    missing = base / "video-tasks" / "frames" / "video_cls" / "SSv2" / "video7002"
    shutil.rmtree(missing)
    code = _run("video", base, tmp_path / "out", "--limit", "2")
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "SmthSmthV2" in errors[0] and str(missing) in errors[0]
    assert f"{base / 'video-tasks' / 'data' / 'SmthSmthV2' / 'test.jsonl'}:2:" in errors[0]  # the row
    out = tmp_path / "out" / "tiny-qwen2vl" / "video"
    assert (out / "K700_score.json").is_file()  # K700 ran first and keeps its files
    assert not (out / "SmthSmthV2_score.json").exists()
    entry = json.loads((out / "leaderboard.json").read_text())
    assert list(entry["tasks"]) == ["K700"]


def test_pages_fixture_is_small_pngs():
    pages = sorted(PAGES.glob("*.png"))
    assert len(pages) == 8
    from PIL import Image

    for page in pages:
        with Image.open(io.BytesIO(page.read_bytes())) as image:
            assert image.format == "PNG"


def test_an_empty_text_encodes_alone_and_in_a_batch_to_the_same_unit_vector():
    from harness.inputs import EncodeInput
    from harness.models.qwen2_vl.adapter import VLM2VecQwen2VL, VLM2VecSettings

    encoder = VLM2VecQwen2VL(VLM2VecSettings(pretrained=str(TINY), max_pixels=50176), "cpu")
    alone = encoder.encode([EncodeInput(text="")], "candidate")
    batched = encoder.encode([EncodeInput(text="chase it"), EncodeInput(text="")], "candidate")
    assert np.all(np.isfinite(alone)) and np.linalg.norm(alone[0]) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(alone[0], batched[1], atol=1e-5)
