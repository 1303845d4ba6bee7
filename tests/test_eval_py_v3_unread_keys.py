"""Keys of a V3 eval-YAML entry that its reference parser never reads (VLM2Vec main @44f991d):
``num_sample_per_subset`` is read only by the parsers that call ``sample_dataset`` (audio_cls,
sounddescs_text_audio, audio_ret_speechcoco, gui) or cut their queries themselves (mcmr); the text,
tool, memory, Clotho, AVE and TUTSound parsers evaluate every row whatever it says. ``image_root``
is read only by gui and mcmr, ``frame_root`` only by ave_retrieval."""

from __future__ import annotations

from typing import Any

import pytest
from test_eval_py_v3_configs import all_entries, write_config

from harness.cli.reference_entries import load_dataset_config
from harness.errors import HarnessError
from harness.taskspec import TaskIndex


def _spec(tmp_path, key: str, **changes: Any):
    (task,) = load_dataset_config(write_config(tmp_path, {key: {**all_entries()[key], **changes}}), TaskIndex()).tasks
    return task.spec


@pytest.mark.parametrize("key", ["text/LongEmbed/needle", "toolde/web/apibank", "memory/PeerQA", "Clotho", "AVE"])
def test_num_sample_per_subset_of_a_parser_that_reads_every_row_is_noted_not_applied(tmp_path, capsys, key):
    assert _spec(tmp_path, key, num_sample_per_subset=3).num_rows is None
    assert f"num_sample_per_subset is not used (its reference parser reads every row): {key}" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["ESC-50", "SoundDescs", "SpeechCOCO", "GAE-GUIAct_q2t", "MCMR"])
def test_num_sample_per_subset_of_a_sampling_parser_takes_the_first_rows(tmp_path, capsys, key):
    assert _spec(tmp_path, key, num_sample_per_subset=3).num_rows == 3
    assert "num_sample_per_subset is not used" not in capsys.readouterr().err


def test_an_image_root_for_a_parser_that_reads_none_is_refused(tmp_path):
    with pytest.raises(HarnessError, match=r"ESC-50: image_root: dataset_parser 'audio_cls' reads no image_root"):
        _spec(tmp_path, "ESC-50", image_root="somewhere/")
    assert _spec(tmp_path, "GAE-GUIAct_q2t", image_root="mine/").media_root == "mine/"


def test_a_frame_root_for_a_parser_that_reads_none_is_refused(tmp_path):
    with pytest.raises(HarnessError, match=r"GAE-GUIAct_q2t: frame_root: dataset_parser 'gui' reads no frame_root"):
        _spec(tmp_path, "GAE-GUIAct_q2t", frame_root="frames/")
