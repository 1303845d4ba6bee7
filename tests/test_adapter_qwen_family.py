"""The Qwen2-VL family beyond VLM2Vec-V2.0: GME's chat prompt with M-RoPE, Qwen2.5-VL backbones, V1 resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_checkpoints import GOLDEN_QWEN2VL, tiny_qwen2_5_vl

from harness.errors import ModelError
from harness.inputs import EncodeInput
from harness.media.video import load_video_frames, sample_video
from harness.models import create_encoder
from harness.models.qwen2_vl.gme import gme_prompt
from harness.models.qwen2_vl.preprocess import load_image

IMAGES = Path(__file__).parent / "data" / "golden" / "media" / "image-tasks" / "synthetic"
VIDEO = Path(__file__).parent / "data" / "video" / "MSR-VTT" / "video7004"
GME_ARGS = {"min_pixels": 3136, "max_pixels": 50176}


def mixed_inputs() -> list[EncodeInput]:
    return [
        EncodeInput(text="Find a document image that matches the given query: red square"),
        EncodeInput(text="<|image|>\nRepresent the given image.", image=IMAGES / "img01_120x90.png"),
        EncodeInput(text="<|video|> Understand the content of the provided video.", video=sample_video(VIDEO, 4)),
        EncodeInput(text="<|image|> a tall one", image=IMAGES / "img09_100x300.png"),
    ]


@pytest.fixture(scope="module")
def qwen2_5(tmp_path_factory) -> Path:
    return tiny_qwen2_5_vl(tmp_path_factory.mktemp("qwen2_5_vl"))


@pytest.fixture(scope="module")
def gme():
    return create_encoder("gme", {"pretrained": str(GOLDEN_QWEN2VL), **GME_ARGS}, "cpu")


def test_gme_prompt_is_the_chat_format_with_the_vision_block_first():
    assert gme_prompt("Represent the given image.", has_visual=True) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Represent the given image.<|im_end|>\n"
        "<|im_start|>assistant\n<|endoftext|>"
    )


def _hand_gme(encoder, text: str, image: Image.Image | None, positions_1d: bool = False) -> np.ndarray:
    """Last hidden state of the full model forward at the last token, normalised."""
    batch = encoder.processor(
        text=[gme_prompt(text, image is not None)], images=[image] if image else None, return_tensors="pt"
    )
    extra = {}
    if positions_1d:
        extra["position_ids"] = torch.arange(batch["input_ids"].shape[1]).view(1, 1, -1).expand(3, 1, -1)
    with torch.no_grad():
        hidden = encoder.model(**batch, **extra, output_hidden_states=True).hidden_states[-1]
    return torch.nn.functional.normalize(hidden[0, -1], dim=0).numpy()


def test_gme_embedding_is_the_last_token_of_the_chat_prompt_with_mrope_positions(gme):
    image = load_image(IMAGES / "img01_120x90.png")

    ours = gme.encode(
        [EncodeInput(text="<|image|> Represent the given image.", image=IMAGES / "img01_120x90.png")], "query"
    )

    assert ours.shape == (1, 64)
    np.testing.assert_allclose(ours[0], _hand_gme(gme, "Represent the given image.", image), atol=1e-5)
    assert np.abs(ours[0] - _hand_gme(gme, "Represent the given image.", image, positions_1d=True)).max() > 1e-3


def test_gme_encodes_a_video_as_its_middle_frame(gme):
    ref = sample_video(VIDEO, 4)
    middle = load_video_frames(ref)[2]

    ours = gme.encode([EncodeInput(text="<|video|> Understand the video.", video=ref)], "candidate")[0]

    np.testing.assert_allclose(ours, _hand_gme(gme, "Understand the video.", middle), atol=1e-5)


@pytest.mark.parametrize("adapter", ["gme", "vlm2vec"])
def test_qwen_family_embeddings_do_not_depend_on_batch_size_or_mix(adapter, gme, qwen2_5):
    encoders = [gme] if adapter == "gme" else []
    encoders.append(create_encoder(adapter, {"pretrained": str(qwen2_5), **GME_ARGS}, "cpu"))
    inputs = mixed_inputs()
    for encoder in encoders:
        together = encoder.encode(inputs, "query")
        alone = np.concatenate([encoder.encode([item], "query") for item in inputs])
        assert together.shape == (4, 64)
        assert np.abs(together - alone).max() < 1e-5


def test_vlm2vec_on_qwen2_5_vl_uses_one_dimensional_positions_and_last_token(qwen2_5):
    encoder = create_encoder("vlm2vec", {"pretrained": str(qwen2_5), **GME_ARGS}, "cpu")
    item = EncodeInput(text="<|image|>\nRepresent the given image.", image=IMAGES / "img01_120x90.png")

    ours = encoder.encode([item], "query")[0]

    batch = encoder.processor(
        text=["<|image_pad|>\nRepresent the given image."], images=[load_image(item.image)], return_tensors="pt"
    )
    positions = torch.arange(batch["input_ids"].shape[1]).view(1, 1, -1).expand(3, 1, -1)
    with torch.no_grad():
        hidden = encoder.model(**batch, position_ids=positions, output_hidden_states=True).hidden_states[-1]
    np.testing.assert_allclose(ours, torch.nn.functional.normalize(hidden[0, -1], dim=0).numpy(), atol=1e-5)
    assert encoder.metadata().backbone == "qwen2_5_vl"


def test_v1_high_resolution_resizes_images_to_1344_square_first(tmp_path):
    v1 = create_encoder("vlm2vec", {"pretrained": str(GOLDEN_QWEN2VL), "image_resolution": "high", **GME_ARGS}, "cpu")
    v2 = create_encoder("vlm2vec", {"pretrained": str(GOLDEN_QWEN2VL), **GME_ARGS}, "cpu")
    resized = tmp_path / "square.png"
    Image.open(IMAGES / "img09_100x300.png").convert("RGB").resize((1344, 1344)).save(resized)

    ours = v1.encode([EncodeInput(text="<|image|> a photo", image=IMAGES / "img09_100x300.png")], "query")
    expected = v2.encode([EncodeInput(text="<|image|> a photo", image=resized)], "query")

    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_gme_metadata_records_its_prompt_and_position_rules(gme):
    meta = gme.metadata()

    assert meta.adapter == "gme" and meta.positions == "mrope" and meta.embedding_dim == 64
    assert meta.num_parameters == 219392 and meta.dtype == "float32"
    assert meta.settings["system_prompt"] == "You are a helpful assistant."


def test_checkpoint_that_needs_remote_code_says_so(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "my_custom", "auto_map": {"AutoConfig": "x.XConfig"}}')

    for adapter in ("gme", "vlm2vec", "clip", "text_encoder"):
        with pytest.raises(ModelError, match="ships its own model code, which runs only with trust_remote_code=true"):
            create_encoder(adapter, {"pretrained": str(tmp_path)}, "cpu")


def test_unsupported_checkpoint_type_lists_the_supported_ones(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')

    with pytest.raises(ModelError, match=r"the gme adapter does not support \(supported: qwen2_vl, qwen2_5_vl\)"):
        create_encoder("gme", {"pretrained": str(tmp_path)}, "cpu")
    with pytest.raises(ModelError, match=r"the clip/siglip adapter does not support \(supported: clip, siglip\)"):
        create_encoder("clip", {"pretrained": str(tmp_path)}, "cpu")


def test_gme_cuts_a_long_text_only_prompt_as_its_processor_call_does(gme):
    long_text = "a long document about cardamom " * 400  # ~2,000 tokens, over max_length 1800
    short = EncodeInput(text="a short query")
    batch = gme._preparer.prepare([EncodeInput(text=long_text), short], "candidate")
    prompts = [gme_prompt(long_text, False), gme_prompt("a short query", False)]
    expected = gme.processor(text=prompts, padding=True, truncation=True, max_length=1800, return_tensors="pt")
    assert batch["input_ids"].shape[1] == 1800
    assert batch["input_ids"].tolist() == expected["input_ids"].tolist()
    assert gme._preparer.sequence_lengths([EncodeInput(text=long_text), short])[0] == 1800
    vectors = gme.encode([EncodeInput(text=long_text)], "candidate")
    assert np.isfinite(vectors).all()


def test_gme_refuses_a_prompt_with_an_image_over_max_length(tmp_path):
    encoder = create_encoder("gme", {"pretrained": str(GOLDEN_QWEN2VL), **GME_ARGS, "max_length": 64}, "cpu")
    image = tmp_path / "red.png"
    Image.new("RGB", (112, 112), "red").save(image)
    with pytest.raises(ModelError, match=r"gme: a prompt with an image has \d+ tokens, over max_length=64"):
        encoder.encode([EncodeInput(text="<|image|> " + "word " * 100, image=image)], "query")
