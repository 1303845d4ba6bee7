"""eval.py takes a copied reference command line verbatim: the flags it honours change the run,
the reference's and TrainingArguments' other flags get one note line, an unknown flag is an error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_eval_py_compat import GOLDEN, REFERENCE_FLAGS, ROOT

from harness.cli.reference_compat import checkpoint_model_args, main, resolution_model_args
from harness.cli.reference_extras import UnknownFlagError, ignorable_flags, split_ignored
from harness.errors import HarnessError

KNOWN = frozenset({"output_dir", "report_to", "bf16", "local_rank", "seed"})


def test_ignored_flags_take_their_values_in_both_spellings():
    ignored = split_ignored(
        ["--output_dir", "out", "--bf16", "--report_to=none", "--local-rank=0", "--seed", "42"], KNOWN
    )
    assert [(f.name, f.values) for f in ignored] == [
        ("output_dir", ("out",)),
        ("bf16", ()),
        ("report_to", ("none",)),
        ("local_rank", ("0",)),
        ("seed", ("42",)),
    ]
    assert ignored[0].note().startswith("note: --output_dir out: a flag of the reference's eval.py")


@pytest.mark.parametrize("tokens", [["--not_a_flag", "1"], ["stray"], ["--output_dir", "x", "--typo_flag"]])
def test_a_flag_nobody_defines_is_an_error(tokens: list[str]):
    with pytest.raises(UnknownFlagError, match="unrecognized argument"):
        split_ignored(tokens, KNOWN)


def test_token_selection_knobs_of_other_backbones_are_ignorable():
    assert [f.name for f in split_ignored(["--uigraph_use", "true", "--uimask_ratio", "0.5"], KNOWN)] == [
        "uigraph_use",
        "uimask_ratio",
    ]


def test_the_training_arguments_are_ignorable():
    names = ignorable_flags()
    assert {"output_dir", "report_to", "bf16", "dataloader_num_workers", "logging_steps", "lora_r"} <= names


def test_checkpoint_path_and_lora_load_as_the_reference_does():
    assert checkpoint_model_args("base/model", None, False) == {"pretrained": "base/model"}
    assert checkpoint_model_args("base/model", "ckpt", False) == {"pretrained": "ckpt"}
    assert checkpoint_model_args("base/model", "adapter", True) == {"pretrained": "adapter", "base_model": "base/model"}


def test_image_resolution_applies_only_without_the_processors_resize():
    assert resolution_model_args("vlm2vec", True, "high") == {}
    assert resolution_model_args("vlm2vec", False, "high") == {"image_resolution": "high"}
    assert resolution_model_args("vlm2vec", False, None) == {}
    with pytest.raises(HarnessError, match="qwen2_vl backbone only"):
        resolution_model_args("gme", False, "high")


def test_a_copied_training_command_line_runs_with_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    extras = ["--output_dir", str(tmp_path / "hf"), "--report_to", "none", "--bf16", "--dataloader_num_workers", "0"]
    extras += ["--lora_r", "16", "--local-rank=0"]
    code = main(
        [
            *REFERENCE_FLAGS,
            "--dataset_config",
            str(ROOT / "test_eval_config.yaml"),
            "--encode_output_path",
            str(tmp_path),
        ]
        + extras
    )
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("unused here") == 5  # output_dir, report_to, bf16, lora_r, local_rank
    assert "--dataloader_num_workers" not in err  # honoured: it is --num_workers
    run_file = json.loads((tmp_path / "leaderboard.json").read_text())
    assert run_file["run"]["num_workers"] == 0
    reference = json.loads((GOLDEN / "dev_eval" / "ImageNet-1K_score.json").read_text())
    assert json.loads((tmp_path / "ImageNet-1K_score.json").read_text()) == pytest.approx(reference, abs=1e-12)


def test_an_unknown_flag_stops_eval_py_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main([*REFERENCE_FLAGS, "--dataset_config", "x.yaml", "--encode_output_path", str(tmp_path), "--colour", "red"])
    assert exited.value.code == 2
    assert "unrecognized argument: --colour" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_max_len_cuts_vlm2vec_text_only_inputs(tmp_path: Path):
    from harness.cli.reference_compat import build_parser, model_arguments

    args = build_parser().parse_args(
        [*REFERENCE_FLAGS, "--dataset_config", "x.yaml", "--encode_output_path", str(tmp_path), "--max_len", "64"]
    )
    assert model_arguments(args)[1]["max_text_tokens"] == 64


def test_eval_py_writes_the_full_ranking_as_the_reference_does(tmp_path: Path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from perf_fixture import build_fixture

    build_fixture(tmp_path / "data", queries=3, candidates=15, images=20)
    config = tmp_path / "cfg.yaml"
    config.write_text("ImageNet-1K:\n  dataset_parser: image_cls\n  dataset_name: ImageNet-1K\n  eval_type: local\n")
    flags = [f if f != str(GOLDEN) else str(tmp_path / "data") for f in REFERENCE_FLAGS]
    out = tmp_path / "out"
    args = [*flags, "--dataset_config", str(config), "--encode_output_path", str(out)]
    assert main(args) == 0
    rows = [json.loads(line) for line in (out / "ImageNet-1K_pred.jsonl").read_text().splitlines()]
    assert [len(row["prediction"]) for row in rows] == [15, 15, 15]  # not the top 10
    assert main([*args, "--predictions", "topk", "--overwrite"]) == 0
    rows = [json.loads(line) for line in (out / "ImageNet-1K_pred.jsonl").read_text().splitlines()]
    assert [len(row["prediction"]) for row in rows] == [10, 10, 10]
