"""Group, modality and overall aggregates follow the MMEB convention (checked by hand)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from harness.engine.run import update_aggregates
from harness.results.run_file import HarnessInfo, ModelInfo, RunFile, RunInfo, TaskScore
from harness.taskspec import TaskIndex


def _entry() -> RunFile:
    return RunFile(
        model=ModelInfo(name="m", adapter_metadata={}),
        harness=HarnessInfo(version="0", git_commit=None, python="3", packages={}),
        run=RunInfo(command=[], batch_size=1, limit=None, data_source="auto", data_basedir=".", started_at="now"),
    )


def _score(value: float, modality: str = "image", meta_task: str | None = None) -> TaskScore:
    return TaskScore(
        version="1.0",
        modality=modality,
        meta_task=meta_task,
        main_metric="hit@1",
        main_score=value,
        metrics={"hit@1": value},
        num_queries=1,
        num_candidates=1,
        dataset={},
        source_file="x",
    )


def test_mmeb_image_group_is_the_mean_over_its_36_tasks_not_over_meta_tasks():
    index = TaskIndex()
    selection = index.select(["mmeb_v2_image"])
    entry = _entry()
    values = {loaded.spec.task: (i % 7) / 10 for i, loaded in enumerate(selection.tasks)}
    for loaded in selection.tasks:
        entry.tasks[loaded.spec.task] = _score(values[loaded.spec.task], meta_task=loaded.meta_task)
    update_aggregates(entry, index, selection)
    assert entry.groups["mmeb_v2_image"].score == pytest.approx(statistics.fmean(values.values()))
    cls_tasks = index.expand("I-CLS")
    assert len(cls_tasks) == 10
    assert entry.groups["I-CLS"].score == pytest.approx(statistics.fmean(values[t] for t in cls_tasks))
    meta_means = [entry.groups[g].score for g in ("I-CLS", "I-QA", "I-RET", "I-VG")]
    assert entry.groups["mmeb_v2_image"].score != pytest.approx(statistics.fmean(meta_means))
    assert entry.overall == pytest.approx(statistics.fmean(values.values()))
    assert entry.meta_tasks["I-CLS"] == pytest.approx(entry.groups["I-CLS"].score)


def test_group_with_a_missing_task_has_no_score_and_is_marked_incomplete():
    index = TaskIndex()
    selection = index.select(["I-VG"])
    entry = _entry()
    entry.tasks["RefCOCO"] = _score(0.5)
    update_aggregates(entry, index, selection)
    assert entry.groups["I-VG"].score is None
    assert entry.groups["I-VG"].complete is False


def test_overall_is_the_mean_over_tasks_not_over_modalities():
    index = TaskIndex()
    entry = _entry()
    entry.tasks.update({"a": _score(1.0), "b": _score(0.0), "c": _score(0.0, "video")})
    update_aggregates(entry, index, index.select([]))
    assert entry.modalities == {"image": 0.5, "video": 0.0}
    assert entry.overall == pytest.approx(1 / 3)


def test_mean_of_children_averages_direct_members(tmp_path: Path):
    (tmp_path / "g.yaml").write_text("group: outer\nversion: 1\naggregate: mean_of_children\ntask: [I-VG, RefCOCO]\n")
    index = TaskIndex(include_paths=[tmp_path])
    selection = index.select(["outer"])
    entry = _entry()
    vg = {"MSCOCO": 0.2, "RefCOCO": 0.4, "RefCOCO-Matching": 0.6, "Visual7W-Pointing": 0.8}
    for name, value in vg.items():
        entry.tasks[name] = _score(value)
    update_aggregates(entry, index, selection)
    assert entry.groups["outer"].score == pytest.approx((0.5 + 0.4) / 2)


# The paper's video meta-tasks (MMEB-V2 Table 5), written out by hand.
VIDEO_META_TASKS = {
    "V-CLS": ["K700", "SmthSmthV2", "HMDB51", "UCF101", "Breakfast"],
    "V-QA": ["Video-MME", "NExTQA", "EgoSchema", "MVBench", "ActivityNetQA"],
    "V-RET": ["DiDeMo", "MSR-VTT", "MSVD", "VATEX", "YouCook2"],
    "V-MRET": ["QVHighlight", "Charades-STA", "MomentSeeker"],
}


def test_all_78_tasks_aggregate_to_the_mmeb_v2_means_by_hand():
    index = TaskIndex()
    selection = index.select(["mmeb_v2"])
    assert len(selection.tasks) == 78
    entry = _entry()
    values: dict[str, float] = {}
    for i, loaded in enumerate(selection.tasks):
        spec = loaded.spec
        values[spec.task] = ((i * 37) % 101) / 100
        entry.tasks[spec.task] = _score(values[spec.task], modality=spec.modality, meta_task=loaded.meta_task)
    update_aggregates(entry, index, selection)
    video = [name for names in VIDEO_META_TASKS.values() for name in names]
    for meta, names in VIDEO_META_TASKS.items():
        assert entry.groups[meta].score == pytest.approx(sum(values[n] for n in names) / len(names)), meta
        assert entry.groups[meta].complete is True
    assert entry.groups["mmeb_v2_video"].score == pytest.approx(sum(values[n] for n in video) / 18)
    assert entry.modalities["video"] == pytest.approx(sum(values[n] for n in video) / 18)
    by_modality = {m: [n for n, s in entry.tasks.items() if s.modality == m] for m in ("image", "video", "visdoc")}
    assert {m: len(names) for m, names in by_modality.items()} == {"image": 36, "video": 18, "visdoc": 24}
    assert sorted(by_modality["video"]) == sorted(video)
    for modality, names in by_modality.items():
        assert entry.groups[f"mmeb_v2_{modality}"].score == pytest.approx(sum(values[n] for n in names) / len(names))
    assert entry.groups["mmeb_v2"].score == pytest.approx(sum(values.values()) / 78)
    assert entry.overall == pytest.approx(sum(values.values()) / 78)
    assert entry.groups["mmeb_v2"].complete is True
