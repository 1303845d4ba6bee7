"""One MMEB-V3 audio task end to end: TUTSound-hard (windowed candidate audio) with the omni adapter
on the tiny random Qwen2.5-Omni thinker, from fixture files to a score file."""

from __future__ import annotations

import json

from test_mmeb_v3_audio_tasks2 import tut_layout
from tiny_checkpoints import tiny_qwen2_5_omni

from harness.engine.evaluate import EvalOptions, evaluate_task
from harness.models import create_encoder
from harness.taskspec import TaskIndex


def test_tutsound_hard_runs_with_the_omni_adapter(tmp_path):
    tut_layout(tmp_path / "data")
    encoder = create_encoder("omni", {"pretrained": str(tiny_qwen2_5_omni(tmp_path / "omni"))}, "cpu")
    options = EvalOptions(data_basedir=tmp_path / "data", output_dir=tmp_path / "out", data_source="local")

    score = evaluate_task(TaskIndex().tasks["TUTSound-hard"], encoder, options)

    assert score is not None
    written = json.loads((tmp_path / "out" / "TUTSound-hard_score.json").read_text())
    assert 0.0 <= written["hit@1"] <= 1.0 and written["num_data"] == 4
