"""Extract a (possibly split) tar archive safely into a fresh folder.

The archives come from a download mirror, so they are untrusted: every member goes through
Python's ``data`` extraction filter (no absolute paths, no ``..``, no links pointing outside the
destination, no device files or FIFOs, no set-uid bits) and through the bounds below, checked
before the member is written. A split archive (``video_qa.tar.gz-00`` .. ``-04``) is read as
one stream, part after part, without writing the concatenation to disk; each part's SHA-256 is
computed on the way.

Extraction goes into a new folder that the caller renames into place only once it completed, so
an interrupted or refused extraction never leaves a folder that looks finished.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from harness.errors import DataError

MAX_MEMBERS = 5_000_000
"""Most entries one archive may hold. The largest MMEB-V2 frame archive (video QA, about 11k
videos of up to 64 frames) has well under a million; five million leaves room and still stops
an archive made of millions of empty files before it exhausts the inodes."""
MAX_TOTAL_BYTES = 1 << 40
"""Most bytes (1 TiB) the members of one archive may declare, together. A gzip bomb declares its
real size in the tar headers, so it is refused before that much is written."""
MAX_MEMBER_BYTES = 64 << 30
"""Most bytes (64 GiB) one member may declare; frames and images are far smaller."""


@dataclass(frozen=True)
class ExtractLimits:
    """The bounds one extraction is held to (the module constants by default)."""

    max_members: int = MAX_MEMBERS
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_member_bytes: int = MAX_MEMBER_BYTES


@dataclass
class Extraction:
    """What an extraction wrote and read."""

    members: int = 0
    bytes: int = 0
    sha256: dict[str, str] = field(default_factory=dict)
    """Archive part file name → SHA-256 of its bytes."""
    outside_prefix: int = 0
    """Members not under the stripped prefix (extracted at their own path)."""


class _Parts(io.RawIOBase):
    """The archive parts as one readable stream, hashing each part as it is read."""

    def __init__(self, parts: Sequence[Path]) -> None:
        self._parts = list(parts)
        self._index = -1
        self._handle: BinaryIO | None = None
        self._hash: Any = None
        self.sha256: dict[str, str] = {}
        self._next()

    def _next(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self.sha256[self._parts[self._index].name] = self._hash.hexdigest()
        self._index += 1
        self._handle = None
        if self._index < len(self._parts):
            self._handle = open(self._parts[self._index], "rb")  # noqa: SIM115 - closed by _next / close
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._handle is not None:
            count = self._handle.readinto(view)  # type: ignore[attr-defined]
            if count:
                self._hash.update(view[:count])
                return count
            self._next()
        return 0

    def drain(self) -> None:
        """Read to the end, so that every part is hashed (tar stops before trailing padding)."""
        while self.readinto(bytearray(1 << 20)):
            pass

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        super().close()


def extract_archive(
    parts: Sequence[Path],
    destination: Path,
    strip_prefix: str = "",
    limits: ExtractLimits | None = None,
) -> Extraction:
    """Extract the tar archive made of ``parts`` (concatenated in order) into ``destination``.

    ``destination`` must not exist yet; it is created. A member under ``strip_prefix`` (e.g.
    ``MMEB/``) loses that prefix. Raises ``DataError`` with one line naming the archive and the
    member for anything refused, and for a corrupt or truncated archive; what was written so far
    stays in ``destination`` for the caller to remove.
    """
    limits = limits or ExtractLimits()
    shown = parts[0].name if len(parts) == 1 else f"{parts[0].name} (+{len(parts) - 1} parts)"
    destination.mkdir(parents=True, exist_ok=False)
    stream = _Parts(parts)
    result = Extraction()
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream, 1 << 20), mode="r|*") as archive:
            for member in archive:
                _admit(member, result, limits, shown)
                renamed = _strip(member, strip_prefix, result)
                if renamed is None:
                    continue
                try:
                    archive.extract(renamed, destination, filter=_filter)
                except tarfile.FilterError as error:
                    raise DataError(f"{shown}: member {member.name[:200]!r} refused: {_reason(error)}") from None
        stream.drain()
    except (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error) as error:
        raise DataError(f"{shown}: not a readable tar archive (corrupt or truncated?): {error}") from None
    except tarfile.TarError as error:
        raise DataError(f"{shown}: cannot extract: {error}") from None
    except OSError as error:
        raise DataError(f"{shown}: cannot extract into {destination}: {error.strerror or error}") from None
    finally:
        stream.close()
    result.sha256 = stream.sha256
    return result


def _admit(member: tarfile.TarInfo, result: Extraction, limits: ExtractLimits, shown: str) -> None:
    """Count the member against the limits before anything of it is written."""
    result.members += 1
    if result.members > limits.max_members:
        raise DataError(f"{shown}: more than {limits.max_members:,} members (limit); refused as a possible bomb")
    if member.size > limits.max_member_bytes:
        raise DataError(
            f"{shown}: member {member.name[:200]!r} declares {member.size:,} bytes "
            f"(limit {limits.max_member_bytes:,}); refused"
        )
    result.bytes += max(member.size, 0)
    if result.bytes > limits.max_total_bytes:
        raise DataError(
            f"{shown}: members declare more than {limits.max_total_bytes:,} bytes together (limit); "
            "refused as a possible bomb"
        )
    name = member.name.replace("\\", "/")
    if name.startswith("/") or os.path.isabs(member.name):
        # The data filter would strip the slash and extract it inside; an archive that names
        # absolute paths is not one we trust with the rest of its members either.
        raise DataError(f"{shown}: member {member.name[:200]!r} refused: absolute path")
    if ".." in name.split("/"):
        raise DataError(f"{shown}: member {member.name[:200]!r} refused: path with '..' (could leave the destination)")
    if member.ischr() or member.isblk() or member.isfifo():
        raise DataError(f"{shown}: member {member.name[:200]!r} is a device or FIFO; refused")


def _strip(member: tarfile.TarInfo, prefix: str, result: Extraction) -> tarfile.TarInfo | None:
    """The member with ``prefix`` removed from its name (and a hard link's target); None for the
    prefix folder itself."""
    if not prefix:
        return member
    name = member.name.removeprefix("./")
    if name.rstrip("/") == prefix.rstrip("/"):
        return None
    if not name.startswith(prefix):
        result.outside_prefix += 1
        return member
    changes: dict[str, Any] = {"name": name[len(prefix) :]}
    if member.islnk() and member.linkname.startswith(prefix):
        changes["linkname"] = member.linkname[len(prefix) :]
    return member.replace(**changes, deep=False)


def _filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """The standard ``data`` filter (which refuses what would escape ``path``)."""
    return tarfile.data_filter(member, path)


def _reason(error: tarfile.FilterError) -> str:
    reasons = {
        tarfile.AbsolutePathError: "absolute path",
        tarfile.OutsideDestinationError: "path outside the destination",
        tarfile.AbsoluteLinkError: "link to an absolute path",
        tarfile.LinkOutsideDestinationError: "link pointing outside the destination",
        tarfile.SpecialFileError: "device or special file",
    }
    for kind, reason in reasons.items():
        if isinstance(error, kind):
            return reason
    return str(error)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a folder or file) if it exists, never following a symlink out of it."""
    import shutil

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def replace_path(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` (same file system), creating ``target``'s parents."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
