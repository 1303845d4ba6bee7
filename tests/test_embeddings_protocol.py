"""Embeddings rank, write, check and release themselves; the Encoding of an encoder is chosen once.

``DenseEmbeddings`` and ``TokenEmbeddings`` hold one embedding per distinct input and a row per
query or candidate; they must give exactly the rankings and files of the ranking functions they
delegate to. ``DenseEncoding`` / ``TokenEncoding`` call the encoder and refuse broken batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.distributed import SINGLE_PROCESS
from harness.engine.embeddings import DenseEmbeddings, TokenEmbeddings
from harness.engine.encode import encode_distinct
from harness.engine.encoding import DenseEncoding, TokenEncoding, encoding_for
from harness.engine.finite import NonFiniteEmbeddingError
from harness.engine.maxsim import rank_global_maxsim, rank_local_maxsim
from harness.engine.rank import rank_global, rank_local
from harness.engine.tokens import TokenStore, read_token_embeddings
from harness.inputs import EncodeInput, Side
from harness.results.files import read_embeddings

CANDIDATE_IDS = ["a", "b", "c", "d"]
CANDIDATE_ROWS = np.array([0, 1, 2, 1])  # candidates b and d share one input
QUERY_ROWS = np.array([0, 1, 1])  # queries 1 and 2 share one input
CANDIDATE_LISTS = [["a", "b", "c"], ["d", "a"], ["c", "c", "b"]]  # ids may repeat


def vectors(rng: np.random.Generator, count: int, dim: int = 6) -> np.ndarray:
    return rng.standard_normal((count, dim)).astype(np.float32)


def token_store(rng: np.random.Generator, count: int, dim: int = 6) -> tuple[TokenStore, list[np.ndarray]]:
    matrices = [rng.standard_normal((int(rng.integers(1, 5)), dim)).astype(np.float32) for _ in range(count)]
    store = TokenStore(count)
    for index, matrix in enumerate(matrices):
        store.append(index, matrix)
    return store.finish(), matrices


@pytest.fixture
def dense() -> tuple[DenseEmbeddings, DenseEmbeddings]:
    rng = np.random.default_rng(7)
    return DenseEmbeddings(vectors(rng, 2), QUERY_ROWS), DenseEmbeddings(vectors(rng, 3), CANDIDATE_ROWS)


@pytest.fixture
def tokens():
    rng = np.random.default_rng(11)
    (queries, _), (candidates, _) = token_store(rng, 2), token_store(rng, 3)
    with TokenEmbeddings(queries, QUERY_ROWS) as q, TokenEmbeddings(candidates, CANDIDATE_ROWS) as c:
        yield q, c


# --- ranking: exactly the functions delegated to ----------------------------------------------


def test_dense_local_ranking_is_rank_local_on_one_vector_per_query_and_candidate(dense):
    queries, candidates = dense
    positions = {candidate_id: i for i, candidate_id in enumerate(CANDIDATE_IDS)}

    ranked = queries.rank_local(candidates, CANDIDATE_IDS, CANDIDATE_LISTS, depth=2)

    expected = rank_local(queries.vectors(), candidates.vectors(), positions, CANDIDATE_LISTS, 2)
    assert ranked == expected


def test_dense_global_ranking_is_rank_global_on_one_vector_per_query_and_candidate(dense):
    queries, candidates = dense

    ranked = queries.rank_global(candidates, CANDIDATE_IDS, depth=None)

    assert ranked == rank_global(queries.matrix[QUERY_ROWS], candidates.matrix[CANDIDATE_ROWS], CANDIDATE_IDS)


def test_token_local_ranking_is_maxsim_over_each_querys_stored_candidates(tokens):
    queries, candidates = tokens
    stored = dict(zip(CANDIDATE_IDS, CANDIDATE_ROWS.tolist(), strict=True))

    ranked = queries.rank_local(candidates, CANDIDATE_IDS, CANDIDATE_LISTS, depth=None)

    expected = rank_local_maxsim(queries.store, QUERY_ROWS, candidates.store, stored, CANDIDATE_LISTS)
    assert ranked == expected


def test_token_global_ranking_is_maxsim_over_every_candidate(tokens):
    queries, candidates = tokens

    ranked = queries.rank_global(candidates, CANDIDATE_IDS, depth=3)

    expected = rank_global_maxsim(queries.store, QUERY_ROWS, candidates.store, CANDIDATE_ROWS, CANDIDATE_IDS, 3)
    assert ranked == expected


# --- files ------------------------------------------------------------------------------------


def test_dense_embeddings_write_one_vector_per_item_named_by_its_id(dense, tmp_path: Path):
    _, candidates = dense

    candidates.write(tmp_path / "task_tgt", CANDIDATE_IDS)

    matrix, ids = read_embeddings(tmp_path / "task_tgt")
    assert ids == CANDIDATE_IDS
    np.testing.assert_array_equal(matrix, candidates.matrix[CANDIDATE_ROWS])


def test_token_embeddings_write_one_token_matrix_per_item_named_by_its_id(tokens, tmp_path: Path):
    _, candidates = tokens

    candidates.write(tmp_path / "task_tgt", CANDIDATE_IDS)

    matrices, ids = read_token_embeddings(tmp_path / "task_tgt")
    assert ids == CANDIDATE_IDS
    for matrix, row in zip(matrices, CANDIDATE_ROWS, strict=True):
        np.testing.assert_array_equal(matrix, candidates.store.matrix(int(row)))


# --- sanity and resources ---------------------------------------------------------------------


def test_dense_embeddings_warn_when_every_distinct_input_has_one_vector():
    same = DenseEmbeddings(np.tile(np.float32([0.6, 0.8]), (3, 1)), np.arange(3))

    message = same.degenerate_warning("T", "candidate")

    assert message is not None and message.startswith("task 'T': all 3 distinct candidate inputs have the same")


def test_dense_embeddings_that_differ_give_no_warning(dense):
    queries, _ = dense

    assert queries.degenerate_warning("T", "query") is None


def test_token_matrices_are_not_checked_for_one_repeated_embedding():
    store = TokenStore(3)
    for index in range(3):
        store.append(index, np.ones((2, 4), dtype=np.float32))
    with TokenEmbeddings(store.finish(), np.arange(3)) as same:
        assert same.degenerate_warning("T", "query") is None


def test_closing_token_embeddings_deletes_their_file():
    store, _ = token_store(np.random.default_rng(3), 2)

    with TokenEmbeddings(store, np.arange(2)):
        assert store.path.exists()

    assert not store.path.exists()


# --- encodings --------------------------------------------------------------------------------


class _Vectors:
    """A fake single-vector encoder: input ``i`` (text ``"... input i"``) gets ``[i, 1]``; ``poison`` gets NaN."""

    def __init__(self, poison: str | None = None, drop: bool = False) -> None:
        self.poison = poison
        self.drop = drop
        self.batches: list[list[str]] = []

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        self.batches.append([item.text for item in inputs])
        rows = np.asarray([[float(item.text.split()[-1]), 1.0] for item in inputs], dtype=np.float32)
        for i, item in enumerate(inputs):
            if item.text.endswith(str(self.poison)):
                rows[i, 0] = np.nan
        return rows[1:] if self.drop else rows

    def metadata(self) -> dict[str, Any]:
        return {"adapter": "fake"}


class _Tokens(_Vectors):
    """The same as token matrices: input ``i`` gets ``i + 1`` tokens ``[i, 1]``."""

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        raise AssertionError("a late-interaction encoder is never asked for one vector per input")

    def encode_tokens(self, inputs: Sequence[EncodeInput], side: Side) -> list[np.ndarray]:
        rows = super().encode(inputs, side)
        return [np.tile(row, (int(row[0]) + 1 if np.isfinite(row[0]) else 1, 1)) for row in rows]


def texts(count: int) -> list[EncodeInput]:
    """Inputs of different lengths, so the size-sorted batch plan is not input order."""
    return [EncodeInput(text=f"{'long ' * ((2 * i) % 5)}input {i}") for i in range(count)]


def test_an_encoder_with_encode_tokens_gets_the_token_encoding():
    assert isinstance(encoding_for(_Tokens()), TokenEncoding)
    assert isinstance(encoding_for(_Vectors()), DenseEncoding)


def test_dense_encoding_collects_one_row_per_input_in_input_order():
    encoding = DenseEncoding(_Vectors())

    matrix = encode_distinct(encoding, texts(5), "query", batching=2)

    assert matrix is not None
    np.testing.assert_array_equal(matrix, [[i, 1.0] for i in range(5)])


def test_token_encoding_collects_one_token_matrix_per_input_and_never_calls_encode():
    encoding = TokenEncoding(_Tokens())

    store = encode_distinct(encoding, texts(3), "candidate", batching=2)

    assert store is not None
    try:
        assert [store.matrix(i).shape for i in range(3)] == [(1, 2), (2, 2), (3, 2)]
    finally:
        store.close()


@pytest.mark.parametrize("encoder", [_Vectors(poison="input 3"), _Tokens(poison="input 3")], ids=["dense", "tokens"])
def test_a_non_finite_embedding_is_refused_naming_its_input(encoder):
    with pytest.raises(NonFiniteEmbeddingError) as caught:
        encode_distinct(encoding_for(encoder), texts(5), "query", batching=2)

    assert caught.value.index == 3


def test_a_wrong_number_of_rows_is_refused():
    with pytest.raises(RuntimeError, match="^encoder returned 1 rows for a batch of 2$"):
        DenseEncoding(_Vectors(drop=True)).encode_batch(texts(2), [0, 1], "query")


def test_a_wrong_number_of_token_matrices_is_refused():
    with pytest.raises(RuntimeError, match="^encoder returned 1 token matrices for a batch of 2$"):
        TokenEncoding(_Tokens(drop=True)).encode_batch(texts(2), [0, 1], "query")


def test_progress_is_reported_after_each_batch_in_plan_order():
    finished: list[int] = []

    encode_distinct(DenseEncoding(_Vectors()), texts(5), "query", 2, SINGLE_PROCESS, finished.append)

    assert finished == [2, 2, 1]


def test_a_single_process_error_is_raised_as_explained_with_its_own_type():
    class Explained(ValueError):
        pass

    def explain(error: Exception) -> Exception:
        return Explained(f"explained: {error}")

    with pytest.raises(Explained, match="^explained: the embedding of input 1 is not finite"):
        encode_distinct(DenseEncoding(_Vectors(poison="input 1")), texts(3), "query", 2, explain=explain)
