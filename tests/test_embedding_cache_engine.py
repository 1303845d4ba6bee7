"""The engine with an embedding cache: only misses are encoded, every batch is committed, hits
are exact, and a key changes whenever anything that decides the embedding changes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.encoder_metadata import CheckpointFacts, EncoderMetadata
from harness.engine.cache_keys import encoder_identity, input_keys
from harness.engine.embedding_cache import EncodeCounts, RunCache
from harness.engine.encode import encode_distinct
from harness.engine.encoding import encoding_for
from harness.inputs import EncodeInput, ImageData, Side, VideoRef


class MemoryStore:
    """A dict-backed store that records what it was asked (the real one is harness.cache)."""

    def __init__(self) -> None:
        self.items: dict[str, np.ndarray] = {}
        self.puts: list[int] = []
        self.hashed: list[Path] = []

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: self.items[k].copy() for k in keys if k in self.items}

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        self.puts.append(len(items))
        for key, value in items:
            self.items.setdefault(key, np.array(value, dtype=np.float32))

    def file_digest(self, path: Path) -> str:
        self.hashed.append(path)
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Counting:
    """A dense fake encoder: the embedding is a function of the text; counts forward rows."""

    def __init__(self, tokens: bool = False) -> None:
        self.rows = 0
        if tokens:
            self.encode_tokens = self._tokens

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        self.rows += len(inputs)
        return np.array([[len(i.text), sum(map(ord, i.text)) % 97, 1.0] for i in inputs], dtype=np.float32)

    def _tokens(self, inputs: Sequence[EncodeInput], side: Side) -> list[np.ndarray]:
        rows = self.encode(inputs, side)
        return [row[None, :].repeat(1 + len(i.text) % 3, axis=0) for i, row in zip(inputs, rows, strict=True)]

    def metadata(self) -> Any:
        return {"adapter": "counting"}


INPUTS = [EncodeInput(text=f"input number {i}") for i in range(23)]


def run(encoder: Counting, store: MemoryStore, inputs: Sequence[EncodeInput] = INPUTS, identity: str = "model-a"):
    counts = EncodeCounts()
    cache = RunCache(store, identity)
    table = encode_distinct(encoding_for(encoder), inputs, "candidate", 4, cache=cache, counts=counts)
    return table, counts


def test_a_second_pass_encodes_nothing_and_gives_the_same_embeddings():
    store = MemoryStore()
    first, cold = run(Counting(), store)
    encoder = Counting()

    second, warm = run(encoder, store)

    assert encoder.rows == 0 and (warm.cache_hits, warm.forward_rows) == (23, 0)
    assert (cold.cache_hits, cold.forward_rows) == (0, 23)
    np.testing.assert_array_equal(first, second)


def test_every_batch_is_committed_as_soon_as_it_is_encoded():
    store = MemoryStore()

    run(Counting(), store)

    assert store.puts == [4, 4, 4, 4, 4, 3]


def test_only_the_missing_inputs_are_encoded():
    store = MemoryStore()
    run(Counting(), store, INPUTS[:10])
    encoder = Counting()

    table, counts = run(encoder, store)

    assert encoder.rows == 13 and (counts.cache_hits, counts.forward_rows) == (10, 13)
    uncached, _ = run(Counting(), MemoryStore())
    np.testing.assert_array_equal(table, uncached)


def test_another_encoder_identity_never_hits():
    store = MemoryStore()
    run(Counting(), store, identity="model-a")
    encoder = Counting()

    _, counts = run(encoder, store, identity="model-b")

    assert counts.cache_hits == 0 and encoder.rows == 23


def test_token_matrices_are_cached_the_same_way():
    store = MemoryStore()
    first, _ = run(Counting(tokens=True), store)
    encoder = Counting(tokens=True)

    second, counts = run(encoder, store)

    assert counts.forward_rows == 0 and encoder.rows == 0
    for index in range(len(INPUTS)):
        np.testing.assert_array_equal(first.matrix(index), second.matrix(index))
    first.close()
    second.close()


# --- what a key covers ------------------------------------------------------------------------


def keys_of(*inputs: EncodeInput, side: Side = "query", identity: str = "id", store: MemoryStore | None = None):
    return input_keys(identity, side, inputs, store or MemoryStore())


def test_the_text_the_side_and_the_encoder_are_in_the_key():
    base = keys_of(EncodeInput("a prompt"))

    assert keys_of(EncodeInput("a prompt")) == base
    assert keys_of(EncodeInput("a prompt ")) != base  # a changed prompt never hits
    assert keys_of(EncodeInput("a prompt"), side="candidate") != base
    assert keys_of(EncodeInput("a prompt"), identity="other") != base


def test_an_image_is_keyed_by_its_bytes_not_its_path(tmp_path: Path):
    first, second, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    first.write_bytes(b"same bytes")
    second.write_bytes(b"same bytes")
    other.write_bytes(b"other bytes")

    a, b, c, data = keys_of(
        EncodeInput("<|image|>", image=first),
        EncodeInput("<|image|>", image=second),
        EncodeInput("<|image|>", image=other),
        EncodeInput("<|image|>", image=ImageData(b"same bytes")),
    )

    assert a == b == data and a != c


def test_a_video_is_keyed_by_its_sampled_frames(tmp_path: Path):
    frames = [tmp_path / f"{i}.jpg" for i in range(4)]
    for i, frame in enumerate(frames):
        frame.write_bytes(bytes([i]))
    two = VideoRef(tmp_path, (0, 2), (frames[0], frames[2]), 4)
    other = VideoRef(tmp_path, (0, 3), (frames[0], frames[3]), 4)

    first, same, changed = keys_of(
        EncodeInput("<|video|>", video=two), EncodeInput("<|video|>", video=two), EncodeInput("<|video|>", video=other)
    )

    assert first == same != changed


def metadata(tmp_path: Path, **changes: Any) -> EncoderMetadata:
    (tmp_path / "model.safetensors").write_bytes(changes.pop("weights", b"weights"))
    facts = {
        "adapter": "vlm2vec",
        "dtype": "float32",
        "device": "cpu",
        "settings": {"pooling": "eos", "max_pixels": 1003520},
        "checkpoint": CheckpointFacts(local_path=str(tmp_path), weight_files={"model.safetensors": 7}),
    }
    return EncoderMetadata(**{**facts, **changes})


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"pooling": "eos", "max_pixels": 50176}},  # a pixel bound
        {"settings": {"pooling": "mean", "max_pixels": 1003520}},  # pooling
        {"dtype": "bfloat16"},
        {"weights": b"other weights"},  # the checkpoint changed in place
        {"transformers_version": "9.9"},
    ],
    ids=["pixel-bound", "pooling", "dtype", "weights", "library"],
)
def test_anything_that_decides_the_embedding_changes_the_encoder_identity(tmp_path: Path, change: dict[str, Any]):
    store = MemoryStore()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    base = encoder_identity(metadata(tmp_path / "a"), store)

    changed = encoder_identity(metadata(tmp_path / "b", **change), store)

    assert base is not None and changed is not None and changed != base


def test_the_same_weights_in_another_folder_or_on_another_gpu_index_are_the_same_encoder(tmp_path: Path):
    store = MemoryStore()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    a = encoder_identity(metadata(tmp_path / "a", device="cuda:0"), store)
    b = encoder_identity(metadata(tmp_path / "b", device="cuda:1"), store)

    assert a == b


def test_an_encoder_that_names_no_weights_is_not_cached():
    assert encoder_identity(EncoderMetadata(adapter="plugin"), MemoryStore()) is None
    assert encoder_identity(EncoderMetadata(adapter="hub", resolved_revision="abc123"), MemoryStore()) is not None
