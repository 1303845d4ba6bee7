"""Late interaction: ColQwen2 token matrices, MaxSim scoring and memory-bounded ranking.

The model is a tiny random ColQwen2 built from the golden tiny Qwen2-VL config and tokenizer
(``tiny_checkpoints.tiny_colqwen2``); the ranking tests use random token matrices.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoints import tiny_colqwen2

from harness.engine.maxsim import MaxSimBudget, maxsim_scores, rank_global_maxsim, rank_local_maxsim
from harness.engine.tokens import TokenStore, read_token_embeddings
from harness.inputs import EncodeInput
from harness.models.late_interaction import is_multivector

torch = pytest.importorskip("torch")

MEDIA = Path(__file__).parent / "data" / "golden" / "media"


@pytest.fixture(scope="module")
def colqwen2_checkpoint(tmp_path_factory) -> Path:
    return tiny_colqwen2(tmp_path_factory.mktemp("tiny-colqwen2"))


@pytest.fixture(scope="module")
def colqwen2(colqwen2_checkpoint):
    from harness.models import create_encoder

    return create_encoder("colqwen2", {"pretrained": str(colqwen2_checkpoint)}, "cpu")


@pytest.fixture(scope="module")
def inputs() -> list[EncodeInput]:
    images = sorted(p for p in MEDIA.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})[:3]
    assert len(images) == 3
    texts = ["a red circle", "which chart shows the yearly revenue of the company", "hi"]
    return [EncodeInput(t) for t in texts] + [EncodeInput("<|image|> Represent the image.", image=p) for p in images]


def test_colqwen2_is_a_multivector_encoder_with_one_matrix_per_input(colqwen2, inputs):
    matrices = colqwen2.encode_tokens(inputs, "query")
    assert is_multivector(colqwen2)
    assert len(matrices) == len(inputs)
    assert all(m.dtype == np.float32 and m.ndim == 2 and m.shape[1] == 16 for m in matrices)
    processor = colqwen2.processor
    for item, matrix in zip(inputs[:3], matrices[:3], strict=True):
        expected = processor.process_queries(text=[item.text])["input_ids"].shape[1]
        assert matrix.shape[0] == expected  # "Query: " + text + 10 buffer tokens + "\n", no padding
    np.testing.assert_allclose(np.linalg.norm(matrices[0], axis=1), 1.0, rtol=1e-5)


def test_token_matrices_do_not_depend_on_batch_composition(colqwen2, inputs):
    together = colqwen2.encode_tokens(inputs, "candidate")
    for item, batched in zip(inputs, together, strict=True):
        (alone,) = colqwen2.encode_tokens([item], "candidate")
        assert alone.shape == batched.shape
        np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_maxsim_equals_a_hand_computation_from_the_model_outputs(colqwen2, inputs):
    queries, documents = inputs[:3], inputs[3:]
    processor, model = colqwen2.processor, colqwen2.model
    with torch.no_grad():
        q_batch = processor.process_queries(text=[q.text for q in queries])
        d_batch = processor.process_images(images=[colqwen2_image(d) for d in documents])
        q_out, d_out = model(**q_batch).embeddings, model(**d_batch).embeddings
    expected = np.zeros((3, 3))
    for i in range(3):
        q = q_out[i][q_batch["attention_mask"][i].bool()].double()
        for j in range(3):
            d = d_out[j][d_batch["attention_mask"][j].bool()].double()
            expected[i, j] = sum(float(max(float(q[a] @ d[b]) for b in range(len(d)))) for a in range(len(q)))
    q_tokens = colqwen2.encode_tokens(queries, "query")
    d_tokens = colqwen2.encode_tokens(documents, "candidate")
    scores = maxsim_scores(
        np.concatenate(q_tokens),
        np.array([len(m) for m in q_tokens]),
        np.concatenate(d_tokens),
        np.array([len(m) for m in d_tokens]),
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def colqwen2_image(item: EncodeInput):
    from harness.media.image import open_image

    assert item.image is not None
    return open_image(item.image)


def test_text_beside_an_image_is_not_used_and_videos_are_refused(colqwen2, inputs):
    from harness.errors import ModelError
    from harness.inputs import VideoRef

    image = inputs[3].image
    (a,) = colqwen2.encode_tokens([EncodeInput("one text", image=image)], "query")
    (b,) = colqwen2.encode_tokens([EncodeInput("another", image=image)], "query")
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ModelError, match="not videos"):
        colqwen2.encode_tokens([EncodeInput("x", video=VideoRef(Path("clip"), (0,)))], "query")
    assert not hasattr(colqwen2, "encode")  # a token-matrix encoder has no single-vector method


def test_metadata_records_adapter_checkpoint_size_dim_dtype_and_attention(colqwen2, colqwen2_checkpoint):
    meta = colqwen2.metadata()
    assert meta.adapter == "colqwen2"
    assert meta.pretrained == str(colqwen2_checkpoint)
    assert meta.model_class == "ColQwen2ForRetrieval"
    assert meta.embedding_dim == 16 and meta.similarity == "maxsim"
    assert meta.dtype == "float32" and meta.attn_implementation == "sdpa"
    assert meta.num_parameters == sum(p.numel() for p in colqwen2.model.parameters())
    recorded = json.loads(meta.model_dump_json())
    assert meta.query_prefix == "Query: " and "revision" in recorded and "weight_files" in recorded["checkpoint"]


def test_a_checkpoint_of_another_family_is_refused(tiny_checkpoint):
    from harness.errors import ModelError
    from harness.models import create_encoder

    with pytest.raises(ModelError, match="model_type 'qwen2_vl'"):
        create_encoder("colqwen2", {"pretrained": str(tiny_checkpoint)}, "cpu")


# --- scoring and ranking on random token matrices ---------------------------------------------


def random_store(rng: np.random.Generator, count: int, max_tokens: int, dim: int = 8) -> tuple[TokenStore, list]:
    store = TokenStore(count)
    sizes = rng.integers(1, max_tokens + 1, size=count)
    matrices = [rng.standard_normal((int(n), dim)).astype(np.float32) for n in sizes]
    for index in rng.permutation(count):  # stored out of order, as size-sorted batches are
        store.append(int(index), matrices[index])
    return store.finish(), matrices


def brute_force(queries: list, candidates: list) -> np.ndarray:
    return np.array([[float((q @ c.T).max(axis=1).sum()) for c in candidates] for q in queries])


def test_maxsim_ignores_which_other_candidates_are_scored_alongside():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 4)).astype(np.float32)
    short = -np.abs(rng.standard_normal((1, 4))).astype(np.float32)
    long = rng.standard_normal((6, 4)).astype(np.float32)
    alone = maxsim_scores(q, np.array([3]), short, np.array([1]))
    together = maxsim_scores(q, np.array([3]), np.concatenate([long, short]), np.array([6, 1]))
    assert together[0, 1] == pytest.approx(alone[0, 0], rel=1e-6)


def test_chunked_global_ranking_equals_the_brute_force_ranking():
    rng = np.random.default_rng(1)
    queries, q_mats = random_store(rng, 7, 5)
    candidates, c_mats = random_store(rng, 40, 9)
    query_rows = np.array([0, 1, 2, 3, 4, 5, 6, 2])  # a repeated query
    candidate_rows = np.arange(40)
    ids = [f"c{i}" for i in range(40)]
    tiny = MaxSimBudget(max_scores=80, max_similarities=60, max_query_tokens=6, max_candidate_tokens=10)
    chunked = rank_global_maxsim(queries, query_rows, candidates, candidate_rows, ids, depth=10, budget=tiny)
    full = brute_force([q_mats[r] for r in query_rows], c_mats)
    for row, ranked_ids, ranked_scores in zip(full, chunked.ids, chunked.scores, strict=True):
        order = np.argsort(-row, kind="stable")[:10]
        assert ranked_ids == [ids[i] for i in order]
        np.testing.assert_allclose(ranked_scores, row[order], rtol=1e-5)
    unchunked = rank_global_maxsim(queries, query_rows, candidates, candidate_rows, ids, depth=10)
    assert unchunked.ids == chunked.ids


def test_chunked_local_ranking_equals_the_brute_force_ranking():
    rng = np.random.default_rng(2)
    queries, q_mats = random_store(rng, 5, 4)
    candidates, c_mats = random_store(rng, 12, 6)
    stored = {f"c{i}": i for i in range(12)}
    lists = [[f"c{i}" for i in rng.choice(12, size=5, replace=False)] for _ in range(5)]
    lists[0].append(lists[0][0])  # ids may repeat, as in the reference
    tiny = MaxSimBudget(max_scores=12, max_similarities=20, max_query_tokens=4, max_candidate_tokens=8)
    ranked = rank_local_maxsim(queries, np.arange(5), candidates, stored, lists, budget=tiny)
    for q, ids, ranked_ids, ranked_scores in zip(q_mats, lists, ranked.ids, ranked.scores, strict=True):
        scores = brute_force([q], [c_mats[stored[i]] for i in ids])[0]
        order = np.argsort(-scores, kind="stable")
        assert ranked_ids == [ids[i] for i in order]
        np.testing.assert_allclose(ranked_scores, scores[order], rtol=1e-5)


def test_token_store_writes_rows_in_the_requested_order_and_reads_them_back(tmp_path):
    rng = np.random.default_rng(3)
    store, matrices = random_store(rng, 4, 5)
    store.write(tmp_path / "task_tgt", [2, 0, 2], ["a", "b", "c"])
    read, ids = read_token_embeddings(tmp_path / "task_tgt")
    assert ids == ["a", "b", "c"]
    for got, row in zip(read, [2, 0, 2], strict=True):
        np.testing.assert_array_equal(got, matrices[row])
    store.close()
    assert not store.path.exists()


# --- end to end --------------------------------------------------------------------------------


def test_harness_run_ranks_a_late_interaction_model_and_writes_token_files(colqwen2_checkpoint, tmp_path):
    from harness.cli import main
    from harness.demo import demo_paths

    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--model",
            "colqwen2",
            "--model_args",
            f"pretrained={colqwen2_checkpoint}",
            "--tasks",
            "demo_text_to_image",
            "--data_basedir",
            str(demo_paths().data_basedir),
            "--output_path",
            str(out),
            "--limit",
            "6",
            "--batch_size",
            "4",
        ]
    )
    assert code == 0
    queries, _ = read_token_embeddings(out / "demo_text_to_image_qry")
    candidates, candidate_ids = read_token_embeddings(out / "demo_text_to_image_tgt")
    first = json.loads((out / "demo_text_to_image_pred.jsonl").read_text().splitlines()[0])
    info = json.loads((out / "demo_text_to_image_info.jsonl").read_text().splitlines()[0])
    expected = brute_force([queries[0]], [candidates[candidate_ids.index(c)] for c in info["cand_names"]])[0]
    order = np.argsort(-expected, kind="stable")
    assert first["prediction"] == [info["cand_names"][i] for i in order]
    np.testing.assert_allclose(first["scores"], expected[order], rtol=1e-5)
    entry = json.loads((out / "leaderboard.json").read_text())
    assert entry["model"]["adapter_metadata"]["similarity"] == "maxsim"
