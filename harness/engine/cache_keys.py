"""What an embedding's cache key covers, so that a cached vector is never stale.

The key of one embedding is a SHA-256 over canonical JSON of:

- the **encoder identity** (:func:`encoder_identity`): every fact the adapter reports about
  itself (:class:`~harness.encoder_metadata.EncoderMetadata`: adapter, settings as given such as
  pooling, normalisation, pixel bounds and prompts, model class and type, dtype, attention,
  device type and hardware name, torch and transformers versions, parameter count) with the
  model's own fingerprint: the hub commit it resolved to and the content hash of every local
  weight file (the checkpoint folder's and, for a LoRA adapter, its base folder's);
- the **side** (query or candidate);
- the **rendered text** (the task's prompt included);
- the **media content**: the SHA-256 of an image's bytes (a file or in-memory data alike), of
  each image of an image list in order (null for a slot without an image), and for a video the
  sampled frame indices with each sampled frame file's hash (frame folders) or the video file's
  hash; for an audio clip the file's (or in-memory data's) hash with everything that decides its
  waveform: window start and end, sample rate, head crop, minimum length.

File hashes come from the store's memo (by path, size and modification time), so a file is
read for hashing once, not on every run. An encoder that reports neither a hub commit nor local
weight files cannot be told apart from a changed one: its embeddings are not cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from harness.encoder_metadata import EncoderMetadata
from harness.inputs import AudioData, EncodeInput, ImageData, Side

KEY_FORMAT = 1
# Audio added keys only for inputs with audio, image lists only for inputs with an image list;
# every other input's key is unchanged.
"""Bumped whenever what a key covers changes, so that old entries can never match."""


class FileDigests(Protocol):
    """Gives the SHA-256 of a file's bytes (memoised by the cache store)."""

    def file_digest(self, path: Path) -> str:
        """Hex SHA-256 of the file's content."""
        ...


class DirectDigests:
    """File hashes read afresh every time (for runs that do not use the cache store and its memo)."""

    def file_digest(self, path: Path) -> str:
        """Hex SHA-256 of the file's content, read in 8 MiB chunks."""
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(8 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def encoder_identity(metadata: EncoderMetadata, digests: FileDigests) -> str | None:
    """The hex SHA-256 naming an encoder and its weights, or None when its weights cannot be named."""
    facts = metadata.model_dump(mode="json")
    checkpoint = facts.pop("checkpoint", None) or {}
    weights = _weight_digests(checkpoint, digests)
    if not weights and not metadata.resolved_revision:
        return None
    facts["device"] = (metadata.device or "").split(":")[0]  # cuda:0 and cuda:1 compute alike
    facts["checkpoint"] = {k: v for k, v in checkpoint.items() if k not in ("local_path", "weight_files")}
    return _sha256({"key_format": KEY_FORMAT, "encoder": facts, "weights": weights})


def input_keys(identity: str, side: Side, inputs: Iterable[EncodeInput], digests: FileDigests) -> list[str]:
    """The cache key of each input's embedding by the encoder ``identity`` on ``side``."""
    return [_sha256({"encoder": identity, "side": side, **_content(item, digests)}) for item in inputs]


def _content(item: EncodeInput, digests: FileDigests) -> dict[str, Any]:
    content: dict[str, Any] = {"text": item.text}
    if item.image is not None:
        image = item.image
        content["image"] = image.digest if isinstance(image, ImageData) else digests.file_digest(image)
    if item.images:
        content["images"] = [
            None if slot is None else slot.digest if isinstance(slot, ImageData) else digests.file_digest(slot)
            for slot in item.images
        ]
    if item.video is not None:
        video = item.video
        frames = [digests.file_digest(frame) for frame in video.frame_files]
        content["video"] = {
            "frames": list(video.frame_indices),
            "content": frames if frames else digests.file_digest(video.source),
        }
    if item.audio is not None:
        audio = item.audio
        source = audio.source
        content["audio"] = {
            "content": source.digest if isinstance(source, AudioData) else digests.file_digest(source),
            "start": audio.start,
            "end": audio.end,
            "sample_rate": audio.sample_rate,
            "max_seconds": audio.max_seconds,
            "min_seconds": audio.min_seconds,
        }
    return content


def _weight_digests(checkpoint: dict[str, Any], digests: FileDigests) -> dict[str, str]:
    """Content hashes of the checkpoint folder's weight files, and of a local LoRA base's."""
    found: dict[str, str] = {}
    local = checkpoint.get("local_path")
    for name in sorted(checkpoint.get("weight_files") or {}):
        if local:
            found[f"checkpoint/{name}"] = digests.file_digest(Path(local) / name)
    base = (checkpoint.get("lora") or {}).get("base_model")
    if base and Path(base).is_dir():
        for path in sorted(Path(base).glob("*.safetensors")):
            found[f"base/{path.name}"] = digests.file_digest(path)
    return found


def _sha256(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
