"""Where downloaded files come from: the Hugging Face hub, or a local stand-in for it.

Both implement :class:`Fetcher`. :class:`HubFetcher` resolves the revision to a commit first and
then downloads that commit, so the files and the recorded commit always agree.
:class:`MirrorFetcher` (``--hub_mirror DIR``) copies from a folder laid out as
``DIR/<owner>/<name>/<files>``, whose commit id is the text of ``DIR/<owner>/<name>/.commit``
(``local`` when there is no such file); it serves offline machines and the tests.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from harness.data.paths import resolve_inside
from harness.errors import DataError

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
"""A hub repository id, ``owner/name``."""
COMMIT_FILE = ".commit"
"""File in a mirror repository folder holding the commit id it stands for."""
_COMMIT_TEXT = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def check_repo_id(repo_id: str) -> None:
    """Refuse anything but ``owner/name`` (no ``..``, no absolute path, no URL)."""
    if not REPO_ID.match(repo_id) or ".." in repo_id.split("/"):
        raise DataError(f"{repo_id[:100]!r} is not a hub repository id (owner/name)")


@runtime_checkable
class Fetcher(Protocol):
    """Downloads the files of one dataset repository."""

    def snapshot(self, repo_id: str, revision: str | None, patterns: Sequence[str], destination: Path) -> str:
        """Put the files of ``repo_id`` at ``revision`` (None: the default branch) that match one
        of ``patterns`` (fnmatch, over paths relative to the repository) under ``destination``,
        keeping their relative paths; return the commit id the files are from."""
        ...


class HubFetcher:
    """The Hugging Face hub, through ``huggingface_hub`` (token and endpoint from its usual
    environment: ``HF_TOKEN``, ``HF_ENDPOINT``)."""

    def snapshot(self, repo_id: str, revision: str | None, patterns: Sequence[str], destination: Path) -> str:
        check_repo_id(repo_id)
        from huggingface_hub import HfApi, snapshot_download

        try:
            commit = HfApi().dataset_info(repo_id, revision=revision).sha
            if not commit:
                raise DataError(f"hub dataset {repo_id} at {revision or 'the default branch'}: no commit id returned")
            snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=commit,
                allow_patterns=list(patterns),
                local_dir=destination,
            )
        except DataError:
            raise
        except Exception as error:  # network, auth, unknown repo or revision: all user-actionable
            first = str(error).strip().splitlines()
            raise DataError(
                f"cannot download {repo_id} (revision {revision or 'default branch'}): {type(error).__name__}: "
                f"{first[0] if first else ''}. Offline? Use --hub_mirror DIR"
            ) from None
        return commit


class MirrorFetcher:
    """A local folder standing in for the hub: ``root/<owner>/<name>/<files>``."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise DataError(f"--hub_mirror {root}: not a folder")
        self.root = root

    def snapshot(self, repo_id: str, revision: str | None, patterns: Sequence[str], destination: Path) -> str:
        check_repo_id(repo_id)
        folder = resolve_inside(self.root, repo_id, what="mirror repository")
        if not folder.is_dir():
            raise DataError(f"repository {repo_id} is not in the mirror {self.root} (expected the folder {folder})")
        commit = self.commit_of(folder)
        if revision is not None and revision != commit:
            raise DataError(f"mirror {folder} holds commit {commit!r}, not the requested revision {revision!r}")
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if relative == COMMIT_FILE or not path.is_file():
                continue
            if any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        return commit

    @staticmethod
    def commit_of(folder: Path) -> str:
        """The commit id a mirror repository folder stands for."""
        marker = folder / COMMIT_FILE
        if not marker.is_file():
            return "local"
        text = marker.read_text(encoding="utf-8", errors="replace").strip()
        if not _COMMIT_TEXT.match(text):
            raise DataError(f"{marker}: expected a commit id (letters, digits, ._-), got {text[:60]!r}")
        return text
