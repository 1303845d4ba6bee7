"""The MMEB-V3 audio tasks: all 11 load with the reference keys; ESC-50's prompts and candidates as
the reference parser builds them, and an adapter without audio refusing a task in one line (the
other tasks' data: tests/test_mmeb_v3_audio_tasks2.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from harness.data import load_task_data
from harness.engine.evaluate import EvalOptions, evaluate_task
from harness.errors import ModelError
from harness.taskspec import TaskIndex

WRITTEN = [
    "NSynth",
    "ESC-50",
    "UrbanSound8K",
    "SpeechCommands",
    "CREMA-D",
    "SoundDescs",
    "Clotho",
    "AVE",
    "SpeechCOCO",
    "TUTSound",
    "TUTSound-hard",
]


def _wav(seconds: float = 0.2, rate: int = 44100) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * rate), np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def esc50(tmp_path: Path) -> Path:
    folder = tmp_path / "audio-tasks" / "esc50"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "target": [1, 0, 1],
            "category": ["rooster", "dog", "rooster"],
            "audio": [{"bytes": _wav(), "path": f"{i}.wav"} for i in range(3)],
        }
    )
    pq.write_table(table, folder / "test.parquet")
    return tmp_path


def test_the_written_audio_tasks_load_with_the_reference_keys():
    index = TaskIndex()
    for name in WRITTEN:
        spec = index.tasks[name].spec
        assert spec.task == name and spec.modality == "audio" and spec.metrics.main == "hit@1"
        assert spec.audio.max_seconds == 10.24 and spec.audio.sample_rate == 16000
    assert set(index.expand("mmeb_v3_audio")) == set(WRITTEN)


def test_esc50_queries_are_the_instruction_and_the_audio_bytes(esc50):
    spec = TaskIndex().tasks["ESC-50"].spec

    data = load_task_data(spec, esc50, "local", None).data

    first = data.queries[0]
    assert first.input.text == "Recognize the environmental sound category of the audio."
    assert first.input.audio is not None and first.input.audio.source.data[:4] == b"RIFF"
    assert list(data.candidates) == ["rooster", "dog"]
    assert data.candidates["dog"].text == "dog" and data.candidates["dog"].audio is None
    assert first.relevance == {"rooster": 1.0}


class _TextOnly:
    def encode(self, inputs: Any, side: Any) -> np.ndarray:
        raise AssertionError("must not be reached")

    def metadata(self) -> dict[str, Any]:
        return {"adapter": "text_only"}


def test_an_adapter_without_audio_refuses_the_task_in_one_line(esc50, tmp_path):
    loaded = TaskIndex().tasks["ESC-50"]
    options = EvalOptions(data_basedir=esc50, output_dir=tmp_path / "out", data_source="local")

    with pytest.raises(ModelError) as caught:
        evaluate_task(loaded, _TextOnly(), options)

    message = str(caught.value)
    assert "\n" not in message and "'text_only'" in message and "'ESC-50'" in message and "audio" in message
