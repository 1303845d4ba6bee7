"""Image lists in the record contract: ``EncodeInput.images``, their cache keys, batch lengths and
the vlm2vec adapter's reading of them (VLM2Vec 44f991d, ``src/model/processor.py``,
``Qwen2_VL_process_fn``: all images present -> the processor gets them in order; any missing ->
the text alone, its image tokens as plain tokens)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from harness.engine.batching import IMAGE_COST, estimated_length
from harness.engine.cache_keys import DirectDigests, input_keys
from harness.inputs import IMAGE_MARKER as M
from harness.inputs import EncodeInput, ImageData
from harness.models.base import accepts_image_lists, create_encoder


def png(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path.resolve()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    return [
        png(folder / "a.png", (64, 48), (200, 30, 30)),
        png(folder / "b.png", (30, 90), (30, 200, 30)),
        png(folder / "c.png", (20, 20), (30, 30, 200)),
    ]


@pytest.fixture(scope="module")
def vlm2vec(tiny_checkpoint: Path):  # type: ignore[no-untyped-def]
    return create_encoder("vlm2vec", {"pretrained": str(tiny_checkpoint), "max_pixels": 50176}, "cpu")


# --- the record --------------------------------------------------------------------------------


def test_an_input_has_an_image_or_an_image_list_not_both(images: list[Path]):
    with pytest.raises(ValueError, match="an image or an image list"):
        EncodeInput(M, image=images[0], images=(images[1], images[2]))


def test_all_images_are_the_image_or_the_present_slots_in_order(images: list[Path]):
    a, b, c = images
    assert EncodeInput(M, image=a).all_images() == (a,)
    assert EncodeInput(M * 4, images=(c, None, a, c)).all_images() == (c, a, c)
    assert EncodeInput("text").all_images() == ()
    assert EncodeInput(M, images=(None,)).has_media() and not EncodeInput("text").has_media()


# --- cache keys and batch lengths ---------------------------------------------------------------


def key(item: EncodeInput) -> str:
    return input_keys("identity", "candidate", [item], DirectDigests())[0]


def test_the_cache_key_changes_with_the_second_image(images: list[Path]):
    a, b, c = images
    base = key(EncodeInput(M + M, images=(a, b)))
    assert base == key(EncodeInput(M + M, images=(a, b)))
    assert base != key(EncodeInput(M + M, images=(a, c)))
    assert base != key(EncodeInput(M + M, images=(b, a)))  # order counts
    assert key(EncodeInput(M + M, images=(a, None))) != key(EncodeInput(M + M, images=(None, a)))
    data = ImageData(a.read_bytes())
    assert key(EncodeInput(M + M, images=(data, b))) == key(EncodeInput(M + M, images=(a, b)))  # by content


def test_a_single_image_key_is_unchanged_by_image_lists(images: list[Path]):
    # The key format of an input without an image list, written out: no "images" entry joins it.
    digest = hashlib.sha256(images[0].read_bytes()).hexdigest()
    payload = {"encoder": "identity", "side": "candidate", "text": f"{M} x", "image": digest}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    assert key(EncodeInput(f"{M} x", image=images[0])) == hashlib.sha256(text.encode("ascii")).hexdigest()


def test_the_estimated_length_counts_every_image_of_a_list(images: list[Path]):
    a, b, _ = images
    text = EncodeInput(M * 3)
    assert estimated_length(EncodeInput(M * 3, images=(a, None, b))) == estimated_length(text) + 2 * IMAGE_COST
    assert estimated_length(EncodeInput(M * 3, image=a)) == estimated_length(text) + IMAGE_COST


# --- the vlm2vec adapter ------------------------------------------------------------------------


def batch_inputs(images: list[Path]) -> list[EncodeInput]:
    a, b, c = images
    return [
        EncodeInput(f"{M} find {M} the cat", images=(a, c)),
        EncodeInput(f"{M} lost {M}", images=(None, b)),  # a slot without an image: text alone
        EncodeInput(f"{M} one image", image=b),
        EncodeInput("plain text"),
        EncodeInput(f"{M}{M}{M}", images=(b, b, a)),
    ]


def test_vlm2vec_takes_image_lists_and_others_refuse(vlm2vec, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tiny_checkpoints import tiny_bert

    assert accepts_image_lists(vlm2vec)
    bert = create_encoder("text_encoder", {"pretrained": str(tiny_bert(tmp_path / "bert"))}, "cpu")
    assert not accepts_image_lists(bert)


def test_sequence_lengths_are_the_prepared_batchs_tokens(vlm2vec, images: list[Path]):  # type: ignore[no-untyped-def]
    inputs = batch_inputs(images)
    preparer = vlm2vec.preparer()
    prepared = preparer.prepare(inputs, "query")
    assert preparer.sequence_lengths(inputs) == prepared["attention_mask"].sum(-1).tolist()
    assert prepared["text_only_rows"].tolist() == [False, True, False, False, False]


def test_a_list_with_every_image_is_the_processors_images_in_order(vlm2vec, images: list[Path]):  # type: ignore[no-untyped-def]
    from harness.models.qwen2_vl.preprocess import load_image

    a, _, c = images
    batch = vlm2vec.processor(
        text=["<|image_pad|> find <|image_pad|> the cat"],
        images=[load_image(a), load_image(c)],
        padding=True,
        return_tensors="pt",
    )
    expected = vlm2vec.encode_prepared(dict(batch))
    got = vlm2vec.encode([EncodeInput(f"{M} find {M} the cat", images=(a, c))], "query")
    np.testing.assert_allclose(got, expected, atol=1e-6)
    swapped = vlm2vec.encode([EncodeInput(f"{M} find {M} the cat", images=(c, a))], "query")
    assert np.abs(swapped - got).max() > 1e-4


def test_a_list_with_a_slot_without_an_image_is_the_text_alone_with_plain_image_tokens(vlm2vec, images: list[Path]):  # type: ignore[no-untyped-def]
    # The reference's processor tokenises such a text as it is (transformers 5's refuses image tokens
    # without images: its tokenizer gives the same ids).
    batch = vlm2vec.processor.tokenizer(["<|image_pad|> lost <|image_pad|>"], padding=True, return_tensors="pt")
    image_token = vlm2vec.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert (batch["input_ids"] == image_token).sum() == 2  # two plain tokens, no pixels
    expected = vlm2vec.encode_prepared(dict(batch))
    got = vlm2vec.encode([EncodeInput(f"{M} lost {M}", images=(None, images[1]))], "query")
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_mixed_batch_embeds_each_row_as_alone(vlm2vec, images: list[Path]):  # type: ignore[no-untyped-def]
    inputs = batch_inputs(images)
    together = vlm2vec.encode(inputs, "query")
    alone = np.concatenate([vlm2vec.encode([item], "query") for item in inputs])
    np.testing.assert_allclose(together, alone, atol=1e-5)
