"""Late interaction: ColPali (PaliGemma backbone) token matrices and MaxSim scoring.

The checkpoint is a tiny random ColPali (``tiny_checkpoints.tiny_colpali``): a 2-layer Gemma
and a 2-layer SigLIP on 28 px images (patch 14, so 4 image tokens), and a character-level Gemma
tokenizer, so a prompt's token count is its character count plus its special tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoints import COLPALI_EMBEDDING_DIM as EMBEDDING_DIM
from tiny_checkpoints import COLPALI_IMAGE_TOKENS as IMAGE_TOKENS
from tiny_checkpoints import tiny_colpali

from harness.engine.maxsim import maxsim_scores
from harness.inputs import EncodeInput
from harness.models.late_interaction import is_multivector

torch = pytest.importorskip("torch")

MEDIA = Path(__file__).parent / "data" / "golden" / "media"


@pytest.fixture(scope="module")
def colpali_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-colpali")
    tiny_colpali(folder)
    return folder


@pytest.fixture(scope="module")
def colpali(colpali_checkpoint):
    from harness.models import create_encoder

    return create_encoder("colpali", {"pretrained": str(colpali_checkpoint)}, "cpu")


@pytest.fixture(scope="module")
def images() -> list[Path]:
    found = sorted(p for p in MEDIA.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})[:3]
    assert len(found) == 3
    return found


TEXTS = ["a red circle", "which chart shows the yearly revenue of the company", "hi"]


def test_colpali_is_a_multivector_encoder_with_one_matrix_per_input(colpali, images):
    inputs = [EncodeInput(t) for t in TEXTS] + [EncodeInput("<|image|> Represent the image.", image=p) for p in images]
    matrices = colpali.encode_tokens(inputs, "query")
    assert is_multivector(colpali)
    assert len(matrices) == len(inputs)
    assert all(m.dtype == np.float32 and m.ndim == 2 and m.shape[1] == EMBEDDING_DIM for m in matrices)
    for text, matrix in zip(TEXTS, matrices[:3], strict=True):
        # <bos> + "Question: " + text + 10 <pad> buffer tokens (kept: they are not padding) + "\n"
        assert matrix.shape[0] == 1 + len("Question: ") + len(text) + 10 + 1
    for matrix in matrices[3:]:
        assert matrix.shape[0] == IMAGE_TOKENS + 1 + len("Describe the image.") + 1  # <image>s + <bos> + prompt + "\n"
    np.testing.assert_allclose(np.linalg.norm(np.concatenate(matrices), axis=1), 1.0, rtol=1e-5)


def test_token_matrices_do_not_depend_on_batch_composition(colpali, images):
    # Interleaved, so the texts are left-padded to the longest one and images and texts are split apart.
    inputs = [
        EncodeInput(TEXTS[2]),
        EncodeInput("", image=images[0]),
        EncodeInput(TEXTS[1]),
        EncodeInput("", image=images[1]),
        EncodeInput(TEXTS[0]),
        EncodeInput("", image=images[2]),
    ]
    together = colpali.encode_tokens(inputs, "candidate")
    assert len(together) == len(inputs)
    for item, batched in zip(inputs, together, strict=True):
        (alone,) = colpali.encode_tokens([item], "candidate")
        assert alone.shape == batched.shape
        np.testing.assert_allclose(alone, batched, atol=1e-5)
    assert not np.allclose(together[0][-1], together[2][-1])  # different inputs give different vectors


def test_maxsim_equals_a_hand_computation_from_the_model_outputs(colpali, images):
    from harness.media.image import open_image

    processor, model = colpali.processor, colpali.model
    with torch.no_grad():
        q_batch = processor.process_queries(text=TEXTS)
        d_batch = processor.process_images(images=[open_image(p) for p in images])
        q_out, d_out = model(**q_batch).embeddings, model(**d_batch).embeddings
    expected = np.zeros((3, 3))
    for i in range(3):
        q = q_out[i][q_batch["attention_mask"][i].bool()].double()
        for j in range(3):
            d = d_out[j][d_batch["attention_mask"][j].bool()].double()
            expected[i, j] = sum(float(max(float(q[a] @ d[b]) for b in range(len(d)))) for a in range(len(q)))
    q_tokens = colpali.encode_tokens([EncodeInput(t) for t in TEXTS], "query")
    d_tokens = colpali.encode_tokens([EncodeInput("a page", image=p) for p in images], "candidate")
    scores = maxsim_scores(
        np.concatenate(q_tokens),
        np.array([len(m) for m in q_tokens]),
        np.concatenate(d_tokens),
        np.array([len(m) for m in d_tokens]),
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_text_beside_an_image_and_media_markers_in_a_text_are_not_used(colpali, images):
    (a,) = colpali.encode_tokens([EncodeInput("one text", image=images[0])], "query")
    (b,) = colpali.encode_tokens([EncodeInput("another", image=images[0])], "query")
    np.testing.assert_array_equal(a, b)
    (marked,) = colpali.encode_tokens([EncodeInput("<|image|> hi")], "query")
    (plain,) = colpali.encode_tokens([EncodeInput("hi")], "query")
    np.testing.assert_allclose(marked, plain, atol=1e-6)


def test_metadata_records_adapter_checkpoint_size_dim_dtype_and_prompts(colpali, colpali_checkpoint):
    meta = colpali.metadata()
    assert meta.adapter == "colpali" and meta.model_type == "colpali"
    assert meta.pretrained == str(colpali_checkpoint)
    assert meta.model_class == "ColPaliForRetrieval"
    assert meta.embedding_dim == EMBEDDING_DIM and meta.similarity == "maxsim"
    assert meta.dtype == "float32" and meta.attn_implementation == "sdpa"
    assert meta.num_parameters == sum(p.numel() for p in colpali.model.parameters())
    assert meta.query_prefix == "Question: " and meta.visual_prompt_prefix == "Describe the image."
    recorded = json.loads(meta.model_dump_json())
    assert "revision" in recorded and "model.safetensors" in recorded["checkpoint"]["weight_files"]


def test_a_checkpoint_of_another_family_is_refused(tiny_checkpoint):
    from harness.errors import ModelError
    from harness.models import create_encoder

    with pytest.raises(ModelError, match="model_type 'qwen2_vl'"):
        create_encoder("colpali", {"pretrained": str(tiny_checkpoint)}, "cpu")
