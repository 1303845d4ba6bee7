"""The vlm2vec adapter cuts an input encoded as text alone as the reference's text-only path does:
``truncation=True`` at the tokenizer's ``model_max_length`` by default (6e1e1d4), or at
``max_text_tokens`` (VLM2Vec main's 2048); inputs with media are never cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_checkpoints import GOLDEN_QWEN2VL

from harness.inputs import EncodeInput
from harness.models import create_encoder

ARGS = {"pretrained": str(GOLDEN_QWEN2VL), "max_pixels": 50176}
LONG = "the secret ingredient is cardamom and the story goes on " * 40  # ~440 tokens


@pytest.fixture(scope="module")
def cut_at_64():
    return create_encoder("vlm2vec", {**ARGS, "max_text_tokens": 64}, "cpu")


def test_default_limit_is_the_tokenizers_model_max_length():
    encoder = create_encoder("vlm2vec", ARGS, "cpu")
    assert encoder.processor.tokenizer.model_max_length == 32768
    assert encoder.max_text_tokens == 32768
    assert encoder.metadata().settings["max_text_tokens"] == 32768


def test_a_long_text_is_cut_to_its_first_tokens_as_the_processor_cuts_it(cut_at_64):
    batch = cut_at_64.preparer().prepare([EncodeInput(text=LONG), EncodeInput(text="short")], "candidate")
    want = cut_at_64.processor(text=[LONG, "short"], padding=True, truncation=True, max_length=64, return_tensors="pt")
    assert batch["input_ids"].tolist() == want["input_ids"].tolist()
    assert batch["input_ids"].shape[1] == 64
    assert cut_at_64.preparer().sequence_lengths([EncodeInput(text=LONG), EncodeInput(text="short")])[0] == 64


def test_the_cut_text_embeds_as_its_first_tokens_would(cut_at_64):
    tokenizer = cut_at_64.processor.tokenizer
    first = tokenizer.decode(tokenizer(LONG)["input_ids"][:64])
    assert tokenizer(first)["input_ids"] == tokenizer(LONG)["input_ids"][:64]  # a clean cut here
    np.testing.assert_allclose(
        cut_at_64.encode([EncodeInput(text=LONG)], "candidate"),
        cut_at_64.encode([EncodeInput(text=first)], "candidate"),
        atol=1e-6,
    )


def test_beside_an_image_row_the_long_text_row_is_cut_and_the_image_row_is_whole(cut_at_64, tmp_path: Path):
    image = tmp_path / "red.png"
    Image.new("RGB", (112, 112), "red").save(image)
    picture = EncodeInput(text="<|image|> " + "describe the picture in many words " * 10, image=image)
    mixed = cut_at_64.encode([EncodeInput(text=LONG), picture], "candidate")
    alone = np.vstack(
        [cut_at_64.encode([EncodeInput(text=LONG)], "candidate"), cut_at_64.encode([picture], "candidate")]
    )
    np.testing.assert_allclose(mixed, alone, atol=1e-5)
    lengths = cut_at_64.preparer().sequence_lengths([EncodeInput(text=LONG), picture])
    assert lengths[0] == 64 and lengths[1] > 64  # the image row keeps every token


def test_max_text_tokens_must_be_positive():
    from harness.errors import ModelError

    with pytest.raises(ModelError, match="max_text_tokens"):
        create_encoder("vlm2vec", {**ARGS, "max_text_tokens": 0}, "cpu")
