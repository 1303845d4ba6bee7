"""Task names with ``/`` segments (MMEB-V3's keys, e.g. ``text/BRIGHT/aops``) write their files in
sub-folders of the output folder, as the reference does, and are kept, listed and entered alike."""

from __future__ import annotations

import json
from pathlib import Path

import harness
from harness.demo import demo_paths
from harness.results.output_folder import RUN_MARKER


def test_a_task_name_with_segments_runs_writes_sub_folders_and_is_kept(tmp_path: Path):
    task_file = tmp_path / "tasks" / "cls.yaml"
    task_file.parent.mkdir()
    task_file.write_text("include: harness:demo/demo_shape_color_cls.yaml\ntask: fam/sub/cls\n")
    demo = demo_paths()
    out = tmp_path / "out"

    def run() -> harness.RunResult:
        return harness.evaluate(
            "vlm2vec",
            {"pretrained": str(demo.checkpoint), "max_pixels": 50176},
            [str(task_file)],
            data_basedir=demo.data_basedir,
            output_path=out,
            use_cache=False,
        )

    first = run()
    assert list(first.run_file.tasks) == ["fam/sub/cls"]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "fam/sub/cls_score.json" in written and "fam/sub/cls_pred.jsonl" in written
    marker = json.loads((out / RUN_MARKER).read_text())
    assert "fam/sub/cls_score.json" in marker["files"]
    second = run()  # finished earlier with the same fingerprint: kept, not recomputed
    assert second.run_file.tasks["fam/sub/cls"].kept_from == first.run_file.run.run_id
