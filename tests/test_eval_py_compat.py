"""eval.py accepts the reference's flags and a VLM2Vec-style eval YAML."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.reference_compat import load_dataset_config, main
from harness.errors import HarnessError
from harness.taskspec import TaskIndex

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"

REFERENCE_FLAGS = [
    "--model_name",
    str(GOLDEN / "tiny-qwen2vl"),
    "--model_backbone",
    "qwen2_vl",
    "--per_device_eval_batch_size",
    "16",
    "--pooling",
    "eos",
    "--normalize",
    "true",
    "--data_basedir",
    str(GOLDEN),
    "--resize_min_pixels",
    "3136",
    "--resize_max_pixels",
    "50176",
]


def test_quick_config_reproduces_the_reference_scores(tmp_path):
    code = main(
        [
            *REFERENCE_FLAGS,
            "--dataset_config",
            str(ROOT / "test_eval_config.yaml"),
            "--encode_output_path",
            str(tmp_path),
        ]
    )
    assert code == 0
    for subset in ("ImageNet-1K", "VisDial", "WebQA", "CIRR", "RefCOCO-Matching"):
        ours = json.loads((tmp_path / f"{subset}_score.json").read_text())
        reference = json.loads((GOLDEN / "dev_eval" / f"{subset}_score.json").read_text())
        assert ours == pytest.approx(reference, abs=1e-12)


def test_yaml_key_becomes_the_output_prefix_and_num_sample_limits_rows(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "MyImageNet:\n  dataset_parser: image_cls\n  dataset_name: ImageNet-1K\n  eval_type: local\n"
        "  image_root: media/image-tasks/\n  data_path: image-tasks-dev/ImageNet-1K.jsonl\n"
        "  num_sample_per_subset: 2\n"
    )
    out = tmp_path / "out"
    assert main([*REFERENCE_FLAGS, "--dataset_config", str(config), "--encode_output_path", str(out)]) == 0
    score = json.loads((out / "MyImageNet_score.json").read_text())
    assert score["num_data"] == 2


def test_harness_task_list_is_accepted_as_dataset_config(tmp_path):
    config = tmp_path / "tasks.yaml"
    config.write_text("tasks: [I-VG]\n")
    selection = load_dataset_config(config, TaskIndex())
    assert [t.spec.task for t in selection.tasks] == ["MSCOCO", "RefCOCO", "RefCOCO-Matching", "Visual7W-Pointing"]


def test_eval_type_that_contradicts_the_task_is_an_error(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("CIRR:\n  dataset_parser: image_i2i_vg\n  dataset_name: CIRR\n  eval_type: global\n")
    with pytest.raises(HarnessError, match="eval_type 'global' differs"):
        load_dataset_config(config, TaskIndex())


def test_eval_py_runs_as_a_script_and_reports_bad_flags_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "eval.py"),
            *REFERENCE_FLAGS,
            "--dataset_config",
            str(tmp_path / "missing.yaml"),
            "--encode_output_path",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "missing.yaml" in result.stderr and "Traceback" not in result.stderr


def test_dataset_config_with_yaml_aliases_is_one_line_and_not_expanded(tmp_path, capsys):
    from harness.cli.reference_compat import main as eval_main

    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    config = tmp_path / "laughs.yaml"
    config.write_text("\n".join(levels) + "\n", encoding="utf-8")
    argv = ["--model_name", "x", "--dataset_config", str(config), "--encode_output_path", str(tmp_path / "o")]

    status = eval_main(argv)

    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == f"error: {config}:1: YAML anchors and aliases are not allowed in task files"


def test_dataset_config_key_that_is_no_task_name_is_refused_with_the_rule(tmp_path, capsys):
    from harness.cli.reference_compat import main as eval_main

    config = tmp_path / "eval.yaml"
    config.write_text('"/tmp/x":\n  dataset_name: ImageNet-1K\n  eval_type: local\n', encoding="utf-8")
    argv = ["--model_name", "x", "--dataset_config", str(config), "--encode_output_path", str(tmp_path / "o")]

    status = eval_main(argv)

    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"error: {config}: /tmp/x: task: ") and "not a valid name" in err
