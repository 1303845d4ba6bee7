"""Run-wide settings that change a task's definition: applied to the specs, once, before a run.

The reference's ``--audio_max_seconds`` sets the head crop of every audio clip of the run. Here it
replaces ``audio.max_seconds`` in each selected task that reads audio, so the task's fingerprint,
the embedding cache keys (built from the clips' :class:`harness.inputs.AudioRef`) and the recorded
task settings all follow from the one value, exactly as when a task file sets it. Tasks without
audio are left untouched (their fingerprints, and so their finished results, stay valid).
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.taskspec.index import LoadedTask, Selection
from harness.taskspec.schema import AudioSpec, TaskSpec


def reads_audio(spec: TaskSpec) -> bool:
    """Whether the task's queries or candidates take an audio clip."""
    sides = (spec.query, spec.candidates)
    return any(side.audio_template is not None or side.audio_column is not None for side in sides)


def with_audio_max_seconds(selection: Selection, seconds: float | None) -> Selection:
    """``selection`` with ``audio.max_seconds = seconds`` in every task that reads audio (None: as is).

    Raises ``HarnessError`` (one line) for a value the task schema refuses."""
    if seconds is None:
        return selection
    try:
        AudioSpec(max_seconds=seconds)
    except ValidationError as error:
        raise HarnessError(f"audio_max_seconds {seconds}: {error.errors()[0]['msg']}") from None
    tasks = [_with_max_seconds(loaded, seconds) if reads_audio(loaded.spec) else loaded for loaded in selection.tasks]
    return Selection(tasks=tasks, groups=list(selection.groups))


def _with_max_seconds(loaded: LoadedTask, seconds: float) -> LoadedTask:
    audio = loaded.spec.audio.model_copy(update={"max_seconds": float(seconds)})
    return replace(loaded, spec=loaded.spec.model_copy(update={"audio": audio}))
