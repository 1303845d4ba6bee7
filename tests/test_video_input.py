"""Video inputs end to end: frame sampling, video files, the adapter's video path, records wiring.

The frame folders in tests/data/video/MSR-VTT are copies of the golden set's synthetic videos
(video7002 has unpadded names frame_1 … frame_20). Video files are written in the test setup as
MJPEG AVI from those same JPEG frames, so decoding them gives (almost) the folder's pixels.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data.records import build_task_data
from harness.data.sources import DatasetRows
from harness.errors import DataError, MediaError
from harness.inputs import EncodeInput, ImageData
from harness.media.image import open_image
from harness.media.video import list_frames, load_video_frames, sample_video
from harness.models import create_encoder
from harness.models.qwen2_vl.preprocess import load_video, reference_smart_resize
from harness.taskspec import IMAGE_MARKER
from harness.taskspec.schema import TaskSpec
from harness.taskspec.templates import VIDEO_MARKER

DATA = Path(__file__).parent / "data"
VIDEOS = DATA / "video" / "MSR-VTT"
GOLDEN = DATA / "golden"
FRAME_COUNTS = {"video7001": 16, "video7002": 20, "video7003": 12, "video7004": 14}
VIDEO_PROMPT = f"{VIDEO_MARKER} Understand the content of the provided video."


def write_mjpeg_avi(path: Path, jpegs: list[bytes], width: int, height: int, fps: int = 10) -> Path:
    """A minimal AVI (RIFF) holding ``jpegs`` as MJPEG frames; decord reads it."""

    def chunk(fourcc: bytes, data: bytes) -> bytes:
        return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    def riff_list(kind: bytes, payload: bytes) -> bytes:
        return b"LIST" + struct.pack("<I", len(payload) + 4) + kind + payload

    n, largest = len(jpegs), max(map(len, jpegs))
    avih = struct.pack("<14I", 1_000_000 // fps, 0, 0, 0x10, n, 0, 1, largest, width, height, 0, 0, 0, 0)
    strh = b"vidsMJPG" + struct.pack(
        "<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, fps, 0, n, largest, 0xFFFFFFFF, 0, 0, 0, width, height
    )
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0)
    header = riff_list(b"hdrl", chunk(b"avih", avih) + riff_list(b"strl", chunk(b"strh", strh) + chunk(b"strf", strf)))
    movi, index = b"", b""
    for data in jpegs:
        index += b"00dc" + struct.pack("<III", 0x10, 4 + len(movi), len(data))
        movi += chunk(b"00dc", data)
    body = b"AVI " + header + riff_list(b"movi", movi) + chunk(b"idx1", index)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("vlm2vec", {"pretrained": str(GOLDEN / "tiny-qwen2vl"), "max_pixels": 50176}, "cpu")


@pytest.fixture
def avi_of_video7001(tmp_path: Path) -> Path:
    frames = list_frames(VIDEOS / "video7001")
    return write_mjpeg_avi(tmp_path / "video7001.avi", [f.read_bytes() for f in frames], 64, 48)


def _frames_folder(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        Image.new("RGB", size, (10 * i, 100, 200)).save(folder / f"frame_{i + 1}.png")
    return folder


# --- sampling ----------------------------------------------------------------------------------


def test_frame_folder_is_natural_sorted_not_lexicographic():
    names = [p.name for p in list_frames(VIDEOS / "video7002")]
    assert names == [f"frame_{i}.jpg" for i in range(1, 21)]
    assert names != sorted(names)  # lexicographic order would put frame_10 after frame_1
    ref = sample_video(VIDEOS / "video7002", 8)
    assert [p.name for p in ref.frame_files] == [f"frame_{i + 1}.jpg" for i in ref.frame_indices]


@pytest.mark.parametrize(
    ("video", "expected"),
    [
        ("video7001", [0, 2, 4, 6, 8, 10, 12, 15]),
        ("video7002", [0, 2, 5, 8, 10, 13, 16, 19]),
        ("video7003", [0, 1, 3, 4, 6, 7, 9, 11]),
        ("video7004", [0, 1, 3, 5, 7, 9, 11, 13]),
    ],
)
def test_eight_frames_are_picked_at_linspace_indices(video: str, expected: list[int]):
    ref = sample_video(VIDEOS / video, 8)
    n = FRAME_COUNTS[video]
    assert list(ref.frame_indices) == expected == np.linspace(0, n - 1, 8).astype(int).tolist()
    assert ref.available_frames == n
    assert len(ref.frame_files) == 8


def test_fewer_frames_than_requested_uses_all_available_frames(tmp_path: Path):
    ref = sample_video(_frames_folder(tmp_path / "short", 5), 8)
    assert ref.frame_indices == (0, 1, 2, 3, 4)
    assert ref.available_frames == 5
    assert [p.name for p in ref.frame_files] == [f"frame_{i}.png" for i in range(1, 6)]


def test_fewer_frames_than_requested_is_a_one_line_error_in_error_mode(tmp_path: Path):
    folder = _frames_folder(tmp_path / "short", 5)
    with pytest.raises(DataError) as caught:
        sample_video(folder, 8, fewer_frames="error")
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message and "5 frames" in message and "8" in message


def test_video_file_samples_the_same_frames_as_the_folder_of_its_images(avi_of_video7001: Path):
    from_file = sample_video(avi_of_video7001, 8)
    from_folder = sample_video(VIDEOS / "video7001", 8)
    assert from_file.frame_indices == from_folder.frame_indices
    assert from_file.available_frames == 16 and from_file.frame_files == ()
    decoded, opened = load_video_frames(from_file), load_video_frames(from_folder)
    assert [f.size for f in decoded] == [f.size for f in opened] == [(64, 48)] * 8
    for a, b in zip(decoded, opened, strict=True):
        assert a.mode == "RGB"
        # MJPEG decoding by ffmpeg vs PIL: same JPEG, slightly different YCbCr conversion.
        assert abs(np.asarray(a, float).mean() - np.asarray(b, float).mean()) < 2.0
    assert sorted(p.name for p in avi_of_video7001.parent.iterdir()) == ["video7001.avi"]  # nothing written


@pytest.mark.parametrize("kind", ["missing folder", "empty folder", "corrupt video"])
def test_unreadable_video_is_a_one_line_media_error_naming_the_path(tmp_path: Path, kind: str):
    target = {
        "missing folder": tmp_path / "nope",
        "empty folder": tmp_path / "empty",
        "corrupt video": tmp_path / "v.mp4",
    }[kind]
    if kind == "empty folder":
        target.mkdir()
    if kind == "corrupt video":
        target.write_bytes(b"\x00\x00\x00\x18ftypmp42 but not really a video" * 20)
    with pytest.raises(MediaError) as caught:
        sample_video(target, 8)
    assert "\n" not in str(caught.value) and str(target) in str(caught.value)
    assert caught.value.path == str(target)


def test_corrupt_frame_is_a_media_error_naming_the_video_and_the_frame(tmp_path: Path):
    folder = _frames_folder(tmp_path / "v", 3)
    (folder / "frame_2.png").write_bytes(b"not a png")
    with pytest.raises(MediaError) as caught:
        load_video_frames(sample_video(folder, 8))
    assert caught.value.path == str(folder)
    assert "\n" not in str(caught.value) and str(folder / "frame_2.png") in str(caught.value)


def test_image_data_opens_like_its_file_and_corrupt_bytes_name_the_digest():
    path = GOLDEN / "media" / "image-tasks" / "synthetic" / "img11_rgba_96x64.png"
    from_bytes, from_path = open_image(ImageData(path.read_bytes())), open_image(path)
    assert from_bytes.mode == "RGB" and np.array_equal(np.asarray(from_bytes), np.asarray(from_path))
    bad = ImageData(b"garbage")
    with pytest.raises(MediaError) as caught:
        open_image(bad)
    assert bad.digest[:12] in str(caught.value) and "\n" not in str(caught.value)


# --- frame resize rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (48, 64, (56, 56)),
        (60, 80, (56, 84)),
        (75, 100, (84, 112)),
        (240, 320, (168, 252)),  # above max_pixels 50176
        (60, 20, (56, 56)),  # a side under 28: square of side max(28, h, w) = 60 first
        (100, 20, (112, 112)),  # … so not the images' 56×56 collator rule
        (10, 3000, (224, 224)),  # aspect ratio over 200: square too (then capped by max_pixels)
    ],
)
def test_reference_smart_resize_of_video_frames(height: int, width: int, expected: tuple[int, int]):
    assert reference_smart_resize(height, width, 3136, 50176) == expected


def test_all_frames_are_resized_to_the_first_frames_size(tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGB", (80, 60), (1, 2, 3)).save(folder / "frame_1.png")
    Image.new("RGB", (100, 75), (4, 5, 6)).save(folder / "frame_2.png")
    frames = load_video(sample_video(folder, 8), 3136, 50176)
    assert [f.size for f in frames] == [(84, 56), (84, 56)]


# --- adapter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("video", sorted(FRAME_COUNTS))
def test_adapter_encodes_a_video_to_a_unit_vector_with_grid_t_4(encoder, video: str):
    ref = sample_video(VIDEOS / video, 8)
    first = Image.open(ref.frame_files[0])
    height, width = reference_smart_resize(first.height, first.width, 3136, 50176)
    batch = encoder.processor(
        text=[VIDEO_PROMPT.replace(VIDEO_MARKER, "<|video_pad|>")],
        videos=[load_video(ref, 3136, 50176)],
        return_tensors="pt",
    )
    assert batch["video_grid_thw"].tolist() == [[4, height // 14, width // 14]]
    embedding = encoder.encode([EncodeInput(VIDEO_PROMPT, video=ref)], "candidate")
    assert embedding.shape == (1, 64)
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5


def test_video_processor_makes_no_further_change_to_the_resized_frames(encoder):
    """pixel_values_videos equal the reference pipeline on the resized frames: rescale, CLIP normalise, patchify."""
    frames = load_video(sample_video(VIDEOS / "video7003", 8), 3136, 50176)
    batch = encoder.processor(text=["<|video_pad|>"], videos=[frames], return_tensors="pt")
    pixels = (np.stack([np.asarray(f) for f in frames]).astype(np.float64) / 255).astype(np.float32)
    mean, std = np.array([0.48145466, 0.4578275, 0.40821073]), np.array([0.26862954, 0.26130258, 0.27577711])
    pixels = ((pixels - mean) / std).astype(np.float32).transpose(0, 3, 1, 2)
    t, c, h, w = pixels.shape
    patches = pixels.reshape(t // 2, 2, c, h // 28, 2, 14, w // 28, 2, 14).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    expected = patches.reshape(t // 2 * (h // 14) * (w // 14), c * 2 * 14 * 14)
    assert np.abs(batch["pixel_values_videos"].numpy() - expected).max() < 1e-6


def test_mixed_batch_of_text_image_and_video_equals_each_alone(encoder, avi_of_video7001: Path):
    image = GOLDEN / "media" / "image-tasks" / "synthetic" / "img01_120x90.png"
    inputs = [
        EncodeInput("Find a video that contains the following visual content: a red square"),
        EncodeInput(VIDEO_PROMPT, video=sample_video(VIDEOS / "video7002", 8)),
        EncodeInput(f"{IMAGE_MARKER}\nRepresent the given image.", image=image),
        EncodeInput(VIDEO_PROMPT, video=sample_video(VIDEOS / "video7004", 8)),
        EncodeInput(VIDEO_PROMPT, video=sample_video(avi_of_video7001, 8)),
    ]
    batched = encoder.encode(inputs, "candidate")
    alone = np.concatenate([encoder.encode([item], "candidate") for item in inputs])
    assert np.abs(batched - alone).max() < 1e-5


def test_image_data_input_embeds_like_the_same_image_from_its_path(encoder):
    path = GOLDEN / "media" / "image-tasks" / "synthetic" / "img04_64x27.png"  # also exercises the 56×56 rule
    text = f"{IMAGE_MARKER}\nRepresent the given image."
    from_path = encoder.encode([EncodeInput(text, image=path)], "candidate")
    from_bytes = encoder.encode([EncodeInput(text, image=ImageData(path.read_bytes()))], "candidate")
    assert np.abs(from_path - from_bytes).max() < 1e-6


# --- records ---------------------------------------------------------------------------------------


def _video_task(**video) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "task": "MSR-VTT",
            "version": "1",
            "modality": "video",
            "dataset": {"rows": [{}]},
            "ranking": "global",
            "query": {"template": "Find a video that contains the following visual content: {{ caption }}"},
            "candidates": {
                "columns": ["video_id"],
                "template": "{{ VIDEO }} Understand the content of the provided video.",
                "video_template": "{{ cand.video_id }}",
                "id_template": "{{ cand.video_id }}",
            },
            "relevance": {"kind": "first_candidate"},
            "video": video,
        }
    )


def _rows(*video_ids: str) -> DatasetRows:
    rows = [{"caption": f"caption {v}", "video_id": v} for v in video_ids]
    return DatasetRows(rows=rows, locations=[f"rows.jsonl:{i + 1}" for i in range(len(rows))])


def test_records_sample_candidate_videos_inside_the_media_root():
    data = build_task_data(_video_task(), _rows("video7002", "video7001"), VIDEOS)
    video = data.candidates["video7002"].video
    assert video is not None and video.source == VIDEOS / "video7002"
    assert video.frame_indices == (0, 2, 5, 8, 10, 13, 16, 19)
    assert data.candidates["video7002"].text == f"{VIDEO_MARKER} Understand the content of the provided video."
    assert data.queries[0].input.video is None


def test_records_missing_video_names_task_row_and_path():
    with pytest.raises(DataError) as caught:
        build_task_data(_video_task(), _rows("video7001", "video9999"), VIDEOS)
    message = str(caught.value)
    assert message.startswith("task 'MSR-VTT', rows.jsonl:2: candidates.video_template: ")
    assert str(VIDEOS / "video9999") in message and "\n" not in message


def test_records_video_escaping_the_media_root_is_refused():
    with pytest.raises(DataError, match="rows.jsonl:1: candidates.video_template"):
        build_task_data(_video_task(), _rows("../../golden"), VIDEOS)


def test_records_fewer_frames_error_mode_names_the_row(tmp_path: Path):
    _frames_folder(tmp_path / "short", 5)
    with pytest.raises(DataError, match=r"rows.jsonl:1: candidates.video_template: .*5 frames"):
        build_task_data(_video_task(fewer_frames="error"), _rows("short"), tmp_path)


def test_records_video_without_a_video_marker_is_an_error():
    spec = _video_task()
    spec = spec.model_copy(update={"candidates": spec.candidates.model_copy(update={"template": "no marker"})})
    with pytest.raises(DataError, match=r"needs exactly one \{\{ VIDEO \}\} marker, found 0"):
        build_task_data(spec, _rows("video7001"), VIDEOS)
