"""The clip / siglip adapter embeds as the model family defines it, on tiny CLIP and SigLIP checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_checkpoints import tiny_clip, tiny_siglip

from harness.errors import ModelError
from harness.inputs import EncodeInput
from harness.media.image import open_image
from harness.media.video import load_video_frames, sample_video
from harness.models import create_encoder

MEDIA = Path(__file__).parent / "data" / "golden" / "media"
IMAGES = sorted((MEDIA / "image-tasks" / "synthetic").glob("*.png"))
VIDEO = Path(__file__).parent / "data" / "video" / "MSR-VTT" / "video7004"
TEXTS = ["a red square", "the blue circle photo", "cat", ""]


@pytest.fixture(scope="module", params=["clip", "siglip"])
def family(request, tmp_path_factory) -> tuple[str, Path]:
    build = tiny_clip if request.param == "clip" else tiny_siglip
    return request.param, build(tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def encoder(family):
    name, folder = family
    return create_encoder(name, {"pretrained": str(folder)}, "cpu")


def _normalized(tensor: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(tensor.float(), dim=-1).numpy()


def _hand_text(encoder, texts: list[str]) -> np.ndarray:
    """The model's own text features, normalised, each text tokenized alone."""
    padding = "max_length" if encoder.model_type == "siglip" else True
    rows = []
    for text in texts:
        tokens = encoder.tokenizer(
            [text], padding=padding, max_length=encoder.max_length, truncation=True, return_tensors="pt"
        )
        with torch.no_grad():
            rows.append(encoder.model.get_text_features(**tokens).pooler_output[0])
    return _normalized(torch.stack(rows))


def _hand_image(encoder, images) -> np.ndarray:
    pixels = encoder.image_processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return _normalized(encoder.model.get_image_features(pixel_values=pixels).pooler_output)


def test_text_embeddings_are_the_models_normalised_text_features(encoder):
    ours = encoder.encode([EncodeInput(text=t) for t in TEXTS], "query")

    assert ours.shape == (len(TEXTS), 16 if encoder.model_type == "clip" else 32)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, _hand_text(encoder, TEXTS), atol=1e-5)


def test_image_embeddings_are_the_models_normalised_image_features(encoder):
    inputs = [EncodeInput(text="<|image|>", image=path) for path in IMAGES[:3]]

    ours = encoder.encode(inputs, "candidate")

    np.testing.assert_allclose(ours, _hand_image(encoder, [open_image(p) for p in IMAGES[:3]]), atol=1e-5)


def test_dot_products_rank_like_the_models_own_logits(encoder):
    texts = ["a red square", "a blue circle"]
    images = [open_image(p) for p in IMAGES[:4]]
    processed = encoder.image_processor(images=images, return_tensors="pt")
    padding = "max_length" if encoder.model_type == "siglip" else True
    tokens = encoder.tokenizer(
        texts, padding=padding, max_length=encoder.max_length, truncation=True, return_tensors="pt"
    )
    with torch.no_grad():
        logits = encoder.model(**tokens, pixel_values=processed["pixel_values"]).logits_per_text.numpy()
    queries = encoder.encode([EncodeInput(text=t) for t in texts], "query")
    candidates = encoder.encode([EncodeInput(text="", image=p) for p in IMAGES[:4]], "candidate")

    scores = queries @ candidates.T
    np.testing.assert_array_equal(np.argsort(-scores, axis=1), np.argsort(-logits, axis=1))


def test_text_with_an_image_is_the_normalised_sum_of_both_embeddings(encoder):
    fused = encoder.encode([EncodeInput(text="<|image|> find the red square", image=IMAGES[1])], "query")[0]

    expected = _hand_text(encoder, ["find the red square"])[0] + _hand_image(encoder, [open_image(IMAGES[1])])[0]
    np.testing.assert_allclose(fused, expected / np.linalg.norm(expected), atol=1e-5)


def test_video_is_the_normalised_mean_of_its_frame_embeddings(encoder):
    ref = sample_video(VIDEO, 4)

    ours = encoder.encode([EncodeInput(text="<|video|>", video=ref)], "candidate")[0]

    mean = _hand_image(encoder, load_video_frames(ref)).mean(axis=0)
    np.testing.assert_allclose(ours, mean / np.linalg.norm(mean), atol=1e-5)


def test_embeddings_do_not_depend_on_batch_size_or_mix(encoder):
    inputs = [
        EncodeInput(text="a red square"),
        EncodeInput(text="<|image|>", image=IMAGES[0]),
        EncodeInput(text="<|image|> the cat photo", image=IMAGES[5]),
        EncodeInput(text="<|video|> find video", video=sample_video(VIDEO, 3)),
        EncodeInput(text="the blue circle of the dog photo"),
    ]
    together = encoder.encode(inputs, "query")
    alone = np.concatenate([encoder.encode([item], "query") for item in inputs])

    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_fusion_image_ignores_the_text_and_refuse_rejects_it(family):
    name, folder = family
    item = EncodeInput(text="<|image|> a red square", image=IMAGES[1])
    image_only = create_encoder(name, {"pretrained": str(folder), "fusion": "image"}, "cpu")
    np.testing.assert_allclose(
        image_only.encode([item], "query"), image_only.encode([EncodeInput(text="", image=IMAGES[1])], "query")
    )
    refusing = create_encoder(name, {"pretrained": str(folder), "fusion": "refuse", "video": "refuse"}, "cpu")
    with pytest.raises(ModelError, match=r"input 0 \('a red square'\) has text and media and fusion=refuse"):
        refusing.encode([item], "query")
    with pytest.raises(ModelError, match="carries a video and video=refuse"):
        refusing.encode([EncodeInput(text="", video=sample_video(VIDEO, 2))], "query")


def test_metadata_records_model_facts(encoder, family):
    meta = encoder.metadata()

    assert meta.adapter == family[0]
    assert meta.embedding_dim == encoder.encode([EncodeInput(text="cat")], "query").shape[1]
    assert meta.num_parameters == sum(p.numel() for p in encoder.model.parameters())
    assert meta.dtype == "float32" and meta.attn_implementation == "sdpa"
    assert meta.checkpoint.local_path == str(family[1].resolve())
    assert meta.similarity.startswith("cosine")
