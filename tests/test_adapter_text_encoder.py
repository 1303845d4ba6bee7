"""The text_encoder adapter pools a transformers encoder's hidden states by hand-checkable rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_checkpoints import tiny_bert

from harness.errors import ModelError
from harness.inputs import EncodeInput
from harness.models import create_encoder

TEXTS = ["a red square", "the blue circle photo of a cat", "dog"]
IMAGE = Path(__file__).parent / "data" / "golden" / "media" / "image-tasks" / "synthetic" / "img01_120x90.png"


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert"))


def _hidden_alone(encoder, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = encoder.tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        return encoder.model(**tokens).last_hidden_state[0], tokens["attention_mask"][0]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_pooling_matches_a_hand_computation_on_the_last_hidden_state(bert, pooling):
    encoder = create_encoder("text_encoder", {"pretrained": str(bert), "pooling": pooling}, "cpu")

    ours = encoder.encode([EncodeInput(text=t) for t in TEXTS], "query")

    expected = []
    for text in TEXTS:
        hidden, mask = _hidden_alone(encoder, text)
        vector = hidden[0] if pooling == "cls" else hidden[mask.bool()].mean(dim=0)
        expected.append(torch.nn.functional.normalize(vector, dim=0).numpy())
    assert ours.shape == (3, 32) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.stack(expected), atol=1e-5)


def test_embeddings_do_not_depend_on_batch_size(bert):
    encoder = create_encoder("text_encoder", {"pretrained": str(bert)}, "cpu")
    inputs = [EncodeInput(text=t) for t in TEXTS]

    alone = np.concatenate([encoder.encode([item], "candidate") for item in inputs])

    np.testing.assert_allclose(encoder.encode(inputs, "candidate"), alone, atol=1e-5)


def test_prefixes_are_put_before_queries_and_candidates(bert):
    encoder = create_encoder(
        "text_encoder", {"pretrained": str(bert), "query_prefix": "query ", "candidate_prefix": "passage "}, "cpu"
    )
    plain = create_encoder("text_encoder", {"pretrained": str(bert)}, "cpu")

    np.testing.assert_allclose(
        encoder.encode([EncodeInput(text="cat")], "query"), plain.encode([EncodeInput(text="query cat")], "query")
    )
    np.testing.assert_allclose(
        encoder.encode([EncodeInput(text="cat")], "candidate"),
        plain.encode([EncodeInput(text="passage cat")], "candidate"),
    )


def test_an_input_with_an_image_is_refused_naming_it(bert):
    encoder = create_encoder("text_encoder", {"pretrained": str(bert)}, "cpu")

    with pytest.raises(ModelError, match=r"text_encoder: query input 1 \('<\|image\|> a cat'\) carries an image"):
        encoder.encode([EncodeInput(text="dog"), EncodeInput(text="<|image|> a cat", image=IMAGE)], "query")


def test_metadata_records_model_facts(bert):
    meta = create_encoder("text_encoder", {"pretrained": str(bert), "pooling": "cls"}, "cpu").metadata()

    assert meta.adapter == "text_encoder" and meta.pooling == "cls"
    assert meta.embedding_dim == 32 and meta.num_parameters > 0
    assert meta.dtype == "float32" and meta.attn_implementation == "sdpa"
    assert meta.model_type == "bert" and meta.resolved_revision is None


def test_pretrained_is_required():
    with pytest.raises(ModelError, match="text_encoder needs --model_args pretrained=CHECKPOINT"):
        create_encoder("text_encoder", {}, "cpu")
