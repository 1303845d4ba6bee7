"""Audio decoding as the reference's collator does it: bounded, mono by mean, resampled, cropped."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.engine.batching import estimated_length
from harness.engine.cache_keys import DirectDigests, input_keys
from harness.errors import MediaError
from harness.inputs import AudioData, AudioRef, EncodeInput
from harness.media import audio as audio_module
from harness.media.audio import audio_info, frames_to_decode, load_audio, resample


def _write(path: Path, data: np.ndarray, rate: int, **kwargs: object) -> Path:
    sf.write(str(path), data, rate, **kwargs)
    return path


def _tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _direct_resample(x: np.ndarray, orig_freq: int, new_freq: int) -> np.ndarray:
    """torchaudio's documented definition, evaluated sample by sample in float64:
    y[j] = sum_i x[i] * base/orig * sinc(base * (i/orig - j/new)) * cos(pi * base * (i/orig - j/new) / 12)^2
    over |base * (i/orig - j/new)| < 6, with base = 0.99 * min(orig, new) of the gcd-reduced rates."""
    g = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // g, new_freq // g
    base = 0.99 * min(orig, new)
    out = np.zeros(math.ceil(new * len(x) / orig))
    for j in range(len(out)):
        centre = j * orig / new
        lo, hi = max(0, math.floor(centre - 6 * orig / base)), min(len(x), math.ceil(centre + 6 * orig / base) + 1)
        i = np.arange(lo, hi)
        t = np.clip(base * (i / orig - j / new), -6, 6)
        weights = base / orig * np.sinc(t) * np.cos(np.pi * t / 12) ** 2
        out[j] = float(np.dot(x[lo:hi].astype(np.float64), weights))
    return out


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_follows_torchaudios_windowed_sinc_definition(rate):
    x = np.random.default_rng(rate).standard_normal(int(rate * 0.2)).astype(np.float32) * 0.3

    ours = resample(x, rate, 16000)

    expected = _direct_resample(x, rate, 16000)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 2e-5


def test_a_16k_file_is_read_as_is(tmp_path):
    wave = _tone(0.5, 16000)
    ref = AudioRef(_write(tmp_path / "a.wav", wave, 16000, subtype="FLOAT"))

    assert np.array_equal(load_audio(ref), wave)


def test_stereo_becomes_the_mean_of_its_channels(tmp_path):
    left, right = _tone(0.3, 16000, 440), _tone(0.3, 16000, 1000)
    ref = AudioRef(_write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT"))

    assert np.allclose(load_audio(ref), (left + right) / 2, atol=1e-7)


def test_an_odd_rate_flac_is_resampled_to_16k(tmp_path):
    ref = AudioRef(_write(tmp_path / "a.flac", _tone(1.0, 22050), 22050))

    wave = load_audio(ref)

    assert wave is not None and wave.shape == (16000,)


def test_the_head_crop_keeps_max_seconds_of_the_resampled_waveform(tmp_path):
    path = _write(tmp_path / "long.wav", _tone(3.0, 44100), 44100, subtype="FLOAT")
    whole = resample(sf.read(str(path), dtype="float32")[0], 44100, 16000)

    cropped = load_audio(AudioRef(path, max_seconds=1.5))

    assert cropped is not None and cropped.shape == (24000,)
    assert np.array_equal(cropped, whole[:24000])  # decoding only the head changes no kept sample


def test_a_long_file_is_not_decoded_whole(tmp_path, monkeypatch):
    path = _write(tmp_path / "hour.wav", np.zeros(48000 * 600, np.int16), 48000, subtype="PCM_16")  # 10 minutes
    read: list[int] = []
    original = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        result = original(self, frames, *args, **kwargs)
        read.append(len(result))
        return result

    monkeypatch.setattr(sf.SoundFile, "read", counting)

    wave = load_audio(AudioRef(path))

    assert wave is not None and wave.shape == (163840,)  # 10.24 s at 16 kHz
    assert sum(read) < 48000 * 11  # about 10.24 s of the 600 s were decoded


def test_a_window_reads_from_start_for_end_minus_start_seconds(tmp_path):
    wave = np.arange(16000 * 4, dtype=np.float32) / 1e5
    path = _write(tmp_path / "w.wav", wave, 16000, subtype="FLOAT")

    clip = load_audio(AudioRef(path, start=1.0, end=2.5))

    assert clip is not None and np.array_equal(clip, wave[16000:40000])


def test_a_window_past_the_end_is_cut_to_the_file(tmp_path):
    path = _write(tmp_path / "w.wav", np.ones(16000, np.float32), 16000, subtype="FLOAT")
    info = audio_info(path)

    assert frames_to_decode(AudioRef(path, start=0.5, end=9.0), info) == (8000, 8000)


def test_a_clip_under_25_ms_is_dropped(tmp_path):
    path = _write(tmp_path / "short.wav", np.ones(399, np.float32), 16000, subtype="FLOAT")

    assert load_audio(AudioRef(path)) is None
    assert load_audio(AudioRef(_write(tmp_path / "ok.wav", np.ones(400, np.float32), 16000))) is not None


def test_in_memory_audio_decodes_like_its_file(tmp_path):
    path = _write(tmp_path / "a.wav", _tone(0.5, 32000), 32000)

    from_data = load_audio(AudioRef(AudioData(path.read_bytes())))

    assert np.array_equal(from_data, load_audio(AudioRef(path)))


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "audio not found"), (b"RIFF....WAVEjunk", "cannot read audio"), (b"", "cannot read audio")],
)
def test_bad_audio_is_one_line(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(MediaError, match=message) as caught:
        load_audio(AudioRef(path))
    assert "\n" not in str(caught.value) and caught.value.path == str(path)


def test_a_file_without_samples_is_one_line(tmp_path):
    path = _write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)

    with pytest.raises(MediaError, match="no samples"):
        load_audio(AudioRef(path))


def test_a_rate_needing_a_huge_kernel_is_refused(tmp_path):
    path = _write(tmp_path / "odd.wav", np.zeros(20000, np.float32), 16001)

    with pytest.raises(MediaError, match="kernel"):
        load_audio(AudioRef(path))


def test_the_kernel_cap_keeps_every_common_rate():
    for rate in (8000, 11025, 22050, 24000, 32000, 44100, 48000, 88200, 96000):
        g = math.gcd(rate, 16000)
        orig, new = rate // g, 16000 // g
        width = math.ceil(6 * orig / (0.99 * min(orig, new)))
        assert new * (2 * width + orig) <= audio_module.MAX_KERNEL_ELEMENTS


def test_the_cache_key_changes_with_what_decides_the_waveform(tmp_path):
    path = _write(tmp_path / "a.wav", _tone(0.5, 16000), 16000)

    def key(ref: AudioRef) -> str:
        return input_keys("enc", "query", [EncodeInput("t", audio=ref)], DirectDigests())[0]

    base = key(AudioRef(path))
    assert key(AudioRef(path, max_seconds=30)) != base
    assert key(AudioRef(path, start=0.1)) != base
    assert key(AudioRef(path, end=0.4)) != base
    assert key(AudioRef(path, min_seconds=0.0)) != base
    assert key(AudioRef(path)) == base
    assert input_keys("enc", "query", [EncodeInput("t")], DirectDigests())[0] != base


def test_the_batch_estimate_counts_audio_seconds():
    short = EncodeInput("t", audio=AudioRef(Path("/a.wav"), start=0.0, end=1.0))
    long = EncodeInput("t", audio=AudioRef(Path("/a.wav")))

    assert estimated_length(short) < estimated_length(long)
    assert estimated_length(long) >= 256  # 10.24 s at 25 tokens per second
