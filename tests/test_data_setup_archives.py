"""Safe extraction of downloaded archives: hostile members are refused with one line, and nothing
is ever written outside the destination."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from harness.datasetup import ExtractLimits, extract_archive
from harness.errors import DataError


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"frame") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _files_outside(root: Path, destination: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if destination not in p.parents and p != destination}


def test_a_plain_archive_is_extracted_with_the_sha256_of_its_bytes(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [_file("K700/v1/frame_1.jpg"), _file("K700/v1/frame_2.jpg")])
    result = extract_archive([archive], tmp_path / "out")
    assert (tmp_path / "out" / "K700" / "v1" / "frame_2.jpg").read_bytes() == b"frame"
    assert result.members == 2
    assert result.sha256 == {"a.tar.gz": hashlib.sha256(archive.read_bytes()).hexdigest()}


def test_split_parts_are_read_as_one_archive_in_order(tmp_path):
    whole = _tar(tmp_path / "qa.tar.gz", [_file(f"video_qa/NExTQA/v/{i}.jpeg", bytes(500)) for i in range(20)])
    data = whole.read_bytes()
    parts = []
    for i, start in enumerate(range(0, len(data), len(data) // 3 + 1)):
        part = tmp_path / f"qa.tar.gz-0{i}"
        part.write_bytes(data[start : start + len(data) // 3 + 1])
        parts.append(part)
    result = extract_archive(parts, tmp_path / "out")
    assert len(list((tmp_path / "out" / "video_qa" / "NExTQA" / "v").iterdir())) == 20
    assert set(result.sha256) == {p.name for p in parts}


def test_a_stripped_prefix_moves_members_up(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_file("MMEB/ImageNet-1K/a.jpg"), _file("MMEB/CIRR/b.jpg")])
    result = extract_archive([archive], tmp_path / "out", strip_prefix="MMEB/")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["CIRR", "ImageNet-1K"]
    assert result.outside_prefix == 0


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_file("../escaped.txt"), "with '..'"),
        (_file("a/../../escaped.txt"), "with '..'"),
        (_file("/tmp/absolute-escape.txt"), "absolute path"),
        (_link("link", "/etc/passwd", tarfile.SYMTYPE), "link to an absolute path"),
        (_link("a/link", "../../../etc/passwd", tarfile.SYMTYPE), "link pointing outside"),
        (_link("hard", "../outside.txt", tarfile.LNKTYPE), "outside"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-absolute", "symlink-outside", "hardlink-outside"],
)
def test_members_escaping_the_destination_are_refused_and_nothing_lands_outside(tmp_path, member, reason):
    (tmp_path / "outside.txt").write_text("mine")
    archive = _tar(tmp_path / "evil.tar", [_file("ok.jpg"), member], mode="w")
    before = _files_outside(tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match=reason) as error:
        extract_archive([archive], tmp_path / "out")
    assert "\n" not in str(error.value) and "evil.tar" in str(error.value)
    assert _files_outside(tmp_path, tmp_path / "out") == before
    assert (tmp_path / "outside.txt").read_text() == "mine"


def test_a_device_file_is_refused(tmp_path):
    info = tarfile.TarInfo("dev/null-ish")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    archive = _tar(tmp_path / "dev.tar", [(info, None)], mode="w")
    with pytest.raises(DataError, match="device or FIFO"):
        extract_archive([archive], tmp_path / "out")


def test_too_many_members_are_refused_as_a_bomb(tmp_path):
    archive = _tar(tmp_path / "many.tar.gz", [_file(f"f{i}", b"") for i in range(11)])
    with pytest.raises(DataError, match="more than 10 members"):
        extract_archive([archive], tmp_path / "out", limits=ExtractLimits(max_members=10))


def test_members_declaring_too_many_bytes_together_are_refused_before_they_are_written(tmp_path):
    archive = _tar(tmp_path / "big.tar.gz", [_file(f"f{i}", bytes(400)) for i in range(3)])
    with pytest.raises(DataError, match="more than 1,000 bytes together"):
        extract_archive([archive], tmp_path / "out", limits=ExtractLimits(max_total_bytes=1000))
    assert not (tmp_path / "out" / "f2").exists()


def test_one_oversized_member_is_refused(tmp_path):
    archive = _tar(tmp_path / "one.tar.gz", [_file("huge", bytes(2000))])
    with pytest.raises(DataError, match="declares 2,000 bytes"):
        extract_archive([archive], tmp_path / "out", limits=ExtractLimits(max_member_bytes=1000))


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_or_truncated_archive_is_one_line(tmp_path, damage):
    archive = _tar(tmp_path / "x.tar.gz", [_file(f"f{i}", bytes(range(256)) * 40) for i in range(5)])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a tar archive at all" * 10)
    with pytest.raises(DataError) as error:
        extract_archive([archive], tmp_path / "out")
    assert "x.tar.gz" in str(error.value) and "\n" not in str(error.value)


def test_the_destination_must_be_new(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [_file("a.jpg")])
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        extract_archive([archive], tmp_path / "out")
