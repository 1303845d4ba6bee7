"""Audio decoding as in the reference's evaluation collator, bounded before anything is decoded.

The reference (``eval_collator.py``) reads a file with soundfile (a window from ``start`` for
``end - start`` seconds, or the whole file), averages the channels, resamples to 16 kHz with
``torchaudio.functional.resample`` (its defaults: ``sinc_interp_hann``, ``lowpass_filter_width``
6, ``rolloff`` 0.99), drops a clip under 25 ms (the input is encoded without audio), and keeps
the first ``int(max_seconds * 16000)`` samples. Here the header is read first and only the frames
the crop can reach are decoded (plus the resampling kernel's reach, so the kept samples equal the
reference's exactly), so a two-hour file costs what ten seconds of it cost.

:func:`resample` is that algorithm re-implemented in NumPy from its definition (a windowed-sinc
FIR filter per polyphase branch of the gcd-reduced rates, computed in float32 as torchaudio
computes it for a float32 waveform): ``harness.media`` may not import torch.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import MediaError
from harness.inputs import AudioData, AudioRef

LOWPASS_FILTER_WIDTH = 6
"""Zero crossings of the sinc on each side (torchaudio's default)."""
ROLLOFF = 0.99
"""Cut-off as a fraction of the lower Nyquist frequency (torchaudio's default)."""
MAX_KERNEL_ELEMENTS = 1 << 24
"""Largest resampling kernel built (16M float32, 64 MiB): a rate whose gcd with the target is
tiny (44,099 Hz) would need gigabytes, as it would in torchaudio; such a file is refused."""


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says."""

    frames: int
    """Samples per channel."""
    sample_rate: int
    """Samples per second."""
    channels: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate


def audio_name(source: Path | AudioData) -> str:
    """How an audio source is named in messages: its path, or ``<audio bytes sha256:…>``."""
    if isinstance(source, AudioData):
        return f"<audio bytes sha256:{source.digest[:12]}>"
    return str(source)


def audio_info(source: Path | AudioData) -> AudioInfo:
    """The header of ``source``, nothing decoded; ``MediaError`` if it is missing or unreadable."""
    name = audio_name(source)
    sf = _soundfile(name)
    try:
        with sf.SoundFile(_readable(source)) as handle:
            info = AudioInfo(frames=int(handle.frames), sample_rate=int(handle.samplerate), channels=handle.channels)
    except MediaError:
        raise
    except Exception as error:  # soundfile raises LibsndfileError / RuntimeError for bad files
        raise MediaError(f"cannot read audio {name}: {_one_line(error)}", name) from None
    if info.sample_rate <= 0 or info.channels <= 0:
        raise MediaError(f"audio {name} has no valid sample rate or channels in its header", name)
    if info.frames <= 0:
        raise MediaError(f"audio has no samples: {name}", name)
    return info


def window_frames(ref: AudioRef, info: AudioInfo) -> tuple[int, int]:
    """``(offset, count)`` of the source frames the reference reads for ``ref``'s window: from
    ``int(start * rate)`` (kept inside the file) for ``int((end - start) * rate)`` frames (at least
    one, at most to the end), or to the end of the file without ``end``."""
    rate = info.sample_rate
    offset = min(max(0, int(ref.start * rate)), max(0, info.frames - 1))
    remaining = max(1, info.frames - offset)
    if ref.end is None:
        return offset, info.frames - offset
    return offset, min(max(1, int((float(ref.end) - ref.start) * rate)), remaining)


def frames_to_decode(ref: AudioRef, info: AudioInfo) -> tuple[int, int]:
    """``(offset, count)`` actually decoded: the reference's window, cut to what the head crop
    keeps plus the resampling kernel's reach beyond it (the kept samples are unchanged)."""
    offset, count = window_frames(ref, info)
    kept = max_samples(ref)
    if info.sample_rate == ref.sample_rate:
        needed = kept
    else:
        orig, new = _reduced(info.sample_rate, ref.sample_rate)
        width = _kernel_width(orig, new)
        # Output j reads input up to (j // new) * orig + width + orig; the kept outputs end at kept - 1.
        needed = ((kept - 1) // new + 1) * orig + width + 1
    return offset, min(count, needed)


def max_samples(ref: AudioRef) -> int:
    """Samples kept by the head crop: ``int(max_seconds * sample_rate)``."""
    return int(float(ref.max_seconds) * ref.sample_rate)


def min_samples(ref: AudioRef) -> int:
    """A clip with fewer samples (after resampling) is dropped: ``int(sample_rate * min_seconds)``."""
    return int(ref.sample_rate * ref.min_seconds)


MAX_DECODED_SAMPLES = 64 * 1024 * 1024
"""Most samples (frames x channels) decoded for one clip: 256 MiB of float32. 300 s of 8-channel
192 kHz audio fits; memory is bounded by this, not by the file's rate or channel count."""


def load_audio(ref: AudioRef) -> np.ndarray | None:
    """The mono float32 waveform of ``ref`` at ``ref.sample_rate``, head-cropped; None when the clip
    is shorter than ``min_seconds`` (the reference encodes such an input without audio)."""
    info = audio_info(ref.source)
    offset, count = frames_to_decode(ref, info)
    name = audio_name(ref.source)
    if count * max(1, info.channels) > MAX_DECODED_SAMPLES:
        raise MediaError(
            f"audio {name}: {count:,} frames x {info.channels} channels to decode, over the limit of "
            f"{MAX_DECODED_SAMPLES:,} samples (an extreme sample rate or channel count)",
            name,
        )
    sf = _soundfile(name)
    try:
        with sf.SoundFile(_readable(ref.source)) as handle:
            handle.seek(offset)
            data = handle.read(frames=count, dtype="float32", always_2d=True)
    except Exception as error:
        raise MediaError(f"cannot decode audio {name}: {_one_line(error)}", name) from None
    if data.shape[0] == 0:
        raise MediaError(f"audio {name}: no samples could be decoded from frame {offset}", name)
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if info.sample_rate != ref.sample_rate:
        wave = resample(wave, info.sample_rate, ref.sample_rate, name=name)
    if wave.shape[0] < min_samples(ref):
        return None
    return wave[: max_samples(ref)]


def estimated_seconds(ref: AudioRef, info: AudioInfo) -> float:
    """Seconds of audio the model gets for ``ref`` (window, then head crop), from the header."""
    _, count = window_frames(ref, info)
    return min(count / info.sample_rate, max_samples(ref) / ref.sample_rate)


def resample(wave: np.ndarray, orig_freq: int, new_freq: int, name: str = "audio") -> np.ndarray:
    """Resample a float32 1-D waveform as ``torchaudio.functional.resample`` does with its defaults.

    The rates are reduced by their gcd to ``orig : new``; output sample ``j`` of branch ``p =
    j % new`` is the input, zero-padded by ``width`` before and ``width + orig`` after, correlated
    with kernel row ``p`` at stride ``orig``; ``ceil(new * length / orig)`` samples are kept.
    """
    if orig_freq == new_freq:
        return wave
    orig, new = _reduced(orig_freq, new_freq)
    width = _kernel_width(orig, new)
    taps = 2 * width + orig
    if new * taps > MAX_KERNEL_ELEMENTS:
        raise MediaError(
            f"audio {name}: resampling {orig_freq} Hz to {new_freq} Hz needs a {new} x {taps} kernel "
            f"(over {MAX_KERNEL_ELEMENTS} elements); convert the file to a common rate first",
            name,
        )
    kernel = sinc_kernel(orig, new, width)
    length = wave.shape[0]
    padded = np.concatenate([np.zeros(width, np.float32), wave, np.zeros(width + orig, np.float32)])
    steps = (padded.shape[0] - taps) // orig + 1
    windows = np.lib.stride_tricks.as_strided(
        padded, shape=(steps, taps), strides=(padded.strides[0] * orig, padded.strides[0]), writeable=False
    )
    out = (windows @ kernel.T).reshape(-1)
    target = math.ceil(new * length / orig)
    return np.ascontiguousarray(out[:target], dtype=np.float32)


def sinc_kernel(orig: int, new: int, width: int) -> np.ndarray:
    """The ``[new, 2 * width + orig]`` float32 kernel: row ``p`` samples a Hann-windowed sinc of
    cut-off ``rolloff * min(orig, new)`` at times ``i / orig - p / new`` (``i`` from ``-width``)."""
    base = min(orig, new) * ROLLOFF
    f32 = np.float32
    idx = np.arange(-width, width + orig, dtype=f32) / f32(orig)
    t = np.arange(0, -new, -1, dtype=f32)[:, None] / f32(new) + idx[None, :]
    t = (t * f32(base)).astype(f32)
    t = np.clip(t, -LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH).astype(f32)
    # The operations in torchaudio's order, each rounded to float32 as torch rounds them.
    window = np.cos(((t * f32(math.pi)).astype(f32) / f32(LOWPASS_FILTER_WIDTH)).astype(f32) / f32(2)).astype(f32) ** 2
    t = (t * f32(math.pi)).astype(f32)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.where(t == 0, f32(1.0), np.sin(t) / t).astype(f32)
    return (kernel * (window * f32(base / orig))).astype(f32)


def _reduced(orig_freq: int, new_freq: int) -> tuple[int, int]:
    gcd = math.gcd(int(orig_freq), int(new_freq))
    return int(orig_freq) // gcd, int(new_freq) // gcd


def _kernel_width(orig: int, new: int) -> int:
    return math.ceil(LOWPASS_FILTER_WIDTH * orig / (min(orig, new) * ROLLOFF))


def _readable(source: Path | AudioData) -> Any:
    if isinstance(source, AudioData):
        return io.BytesIO(source.data)
    if not source.is_file():
        raise MediaError(f"audio not found: {source}", str(source))
    return str(source)


def _soundfile(name: str) -> Any:
    try:
        import soundfile
    except ImportError:  # pragma: no cover - soundfile is a dependency
        raise MediaError(f"reading audio needs the 'soundfile' package (pip install soundfile): {name}", name) from None
    return soundfile


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
