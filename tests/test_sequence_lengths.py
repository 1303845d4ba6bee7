"""Token-exact batching: the VLM2Vec preparer's sequence lengths are the processor's own.

Each input's length is counted from its text's tokens and its image's or video's size (read from
the header, not decoded) and must equal the length of the processor's ``input_ids`` for it,
whatever the size, aspect ratio, resolution preset or frame count.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_video_input import VIDEOS, write_mjpeg_avi

from harness.inputs import IMAGE_MARKER, VIDEO_MARKER, EncodeInput, ImageData
from harness.media.video import list_frames, sample_video
from harness.models import create_encoder
from harness.models.qwen2_vl.prepare import VLM2VecPreparer

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("vlm2vec", {"pretrained": str(GOLDEN / "tiny-qwen2vl"), "max_pixels": 50176}, "cpu")


def processor_lengths(preparer: VLM2VecPreparer, inputs: list[EncodeInput]) -> list[int]:
    """The processor's length for each input, prepared alone (no padding)."""
    return [int(preparer.prepare([item], "query")["input_ids"].shape[1]) for item in inputs]


def image_file(folder: Path, size: tuple[int, int], mode: str = "RGB", suffix: str = ".png") -> Path:
    path = folder / f"{mode}_{size[0]}x{size[1]}{suffix}"
    Image.new(mode, size, "teal" if mode != "L" else 128).save(path)
    return path


SIZES = [(1, 1), (10, 10), (27, 300), (300, 27), (64, 64), (448, 336), (640, 480), (3000, 20), (1000, 1000)]


def test_golden_inputs_have_the_processors_lengths(encoder):
    records = [json.loads(line) for line in (GOLDEN / "embeddings" / "inputs.jsonl").open()]
    inputs = [
        EncodeInput(r["prompt"].replace("<|image_pad|>", IMAGE_MARKER), GOLDEN / r["media"][0] if r["media"] else None)
        for r in records
    ]
    preparer = encoder.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


def test_images_of_any_size_and_aspect_have_the_processors_lengths(encoder, tmp_path: Path):
    inputs = [EncodeInput(f"{IMAGE_MARKER} Represent the image.", image_file(tmp_path, size)) for size in SIZES]
    inputs.append(EncodeInput(f"{IMAGE_MARKER}", image_file(tmp_path, (90, 50), "RGBA")))
    inputs.append(EncodeInput(f"{IMAGE_MARKER} grey", image_file(tmp_path, (200, 120), "L", ".jpg")))
    buffer = io.BytesIO()
    Image.new("RGB", (123, 77), "red").save(buffer, format="PNG")
    inputs.append(EncodeInput(f"{IMAGE_MARKER} bytes", ImageData(buffer.getvalue())))
    preparer = encoder.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


@pytest.mark.parametrize("resolution", ["low", "mid"])
def test_a_resolution_preset_is_counted_at_its_size(encoder, tmp_path: Path, resolution: str):
    preparer = VLM2VecPreparer(encoder.processor, min_pixels=3136, max_pixels=50176, image_resolution=resolution)
    inputs = [EncodeInput(f"{IMAGE_MARKER} x", image_file(tmp_path, size)) for size in SIZES[:5]]
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


def test_text_only_and_empty_inputs_have_the_processors_lengths(encoder):
    inputs = [EncodeInput(""), EncodeInput("a"), EncodeInput("A longer sentence, with punctuation; and numbers 12345.")]
    preparer = encoder.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


@pytest.mark.parametrize("frames", [1, 5, 8])
def test_videos_of_any_frame_count_have_the_processors_lengths(encoder, frames: int):
    video = sample_video(VIDEOS / "video7001", frames)
    inputs = [EncodeInput(f"{VIDEO_MARKER} Describe the video.", video=video)]
    preparer = encoder.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


def test_a_video_file_is_counted_from_one_decoded_frame(encoder, tmp_path: Path):
    frames = list_frames(VIDEOS / "video7001")
    avi = write_mjpeg_avi(tmp_path / "v.avi", [f.read_bytes() for f in frames], 64, 48)
    inputs = [EncodeInput(f"{VIDEO_MARKER} Describe the video.", video=sample_video(avi, 8))]
    preparer = encoder.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


def test_lengths_of_a_batch_match_its_attention_mask(encoder, tmp_path: Path):
    inputs = [EncodeInput(f"{IMAGE_MARKER} q{i}", image_file(tmp_path, size)) for i, size in enumerate(SIZES[3:7])]
    inputs += [EncodeInput("just text"), EncodeInput("")]
    preparer = encoder.preparer()
    mask = preparer.prepare(inputs, "candidate")["attention_mask"]
    assert preparer.sequence_lengths(inputs) == mask.sum(-1).tolist()


def test_prepared_then_encoded_is_encode(encoder, tmp_path: Path):
    inputs = [EncodeInput(f"{IMAGE_MARKER} q", image_file(tmp_path, (100, 60))), EncodeInput("text")]
    split = encoder.encode_prepared(encoder.preparer().prepare(inputs, "query"))
    np.testing.assert_array_equal(split, encoder.encode(inputs, "query"))


def test_a_missing_image_fails_the_length_count_naming_it(encoder, tmp_path: Path):
    from harness.errors import MediaError

    with pytest.raises(MediaError, match="image not found: .*gone.png"):
        encoder.preparer().sequence_lengths([EncodeInput(f"{IMAGE_MARKER} x", tmp_path / "gone.png")])


# --- GME: chat prompts, its own pixel bounds, a video as its middle frame --------------------------


@pytest.fixture(scope="module")
def gme():
    args = {"pretrained": str(GOLDEN / "tiny-qwen2vl"), "min_pixels": 3136, "max_pixels": 50176}
    return create_encoder("gme", args, "cpu")


def test_gme_inputs_have_the_processors_lengths(gme, tmp_path: Path):
    inputs = [EncodeInput(f"{IMAGE_MARKER} Represent the image.", image_file(tmp_path, size)) for size in SIZES]
    inputs += [EncodeInput("a query text"), EncodeInput("")]
    inputs.append(EncodeInput(f"{VIDEO_MARKER} a video", video=sample_video(VIDEOS / "video7001", 5)))
    preparer = gme.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)


def test_gme_prepared_then_encoded_is_encode(gme, tmp_path: Path):
    inputs = [EncodeInput(f"{IMAGE_MARKER} q", image_file(tmp_path, (100, 60))), EncodeInput("text")]
    np.testing.assert_array_equal(
        gme.encode_prepared(gme.preparer().prepare(inputs, "query")), gme.encode(inputs, "query")
    )


def test_gme_counts_a_video_by_its_middle_frame_as_decoded(gme, tmp_path: Path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, size in enumerate([(64, 64), (400, 300), (400, 300)]):
        Image.new("RGB", size, (40 * i, 90, 160)).save(folder / f"frame_{i + 1}.png")
    small = tmp_path / "small"
    small.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), "navy").save(small / f"frame_{i + 1}.png")
    inputs = [EncodeInput(f"{VIDEO_MARKER} v", video=sample_video(f, 3)) for f in (folder, small)]
    preparer = gme.preparer()
    assert preparer.sequence_lengths(inputs) == processor_lengths(preparer, inputs)
