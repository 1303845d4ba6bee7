"""``harness data download`` from a hub mirror: archives and hub tables land where the task files
look, reruns fetch nothing, a changed revision redoes an item, an interrupted download leaves no
finished-looking folder, and nothing is written outside ``--to``."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from data_setup_fixtures import PAGES, beir_tables, image_mirror, video_mirror, write_jsonl

from harness.cli import main
from harness.data import load_task_data
from harness.datasetup import MirrorFetcher, download_items, plan_downloads
from harness.datasetup.markers import STATE_DIR, marker_path, read_marker
from harness.taskspec import TaskIndex


class CountingFetcher:
    """A mirror that counts its snapshot calls."""

    def __init__(self, root: Path) -> None:
        self.mirror = MirrorFetcher(root)
        self.root = root
        self.calls: list[tuple[str, str | None]] = []

    def snapshot(self, repo_id: str, revision: str | None, patterns: Sequence[str], destination: Path) -> str:
        self.calls.append((repo_id, revision))
        return self.mirror.snapshot(repo_id, revision, patterns, destination)


def _download(tasks: list[str], to: Path, fetcher, revisions=None, lines=None):
    index = TaskIndex()
    items, errors = plan_downloads(index.select(tasks).tasks, index)
    assert errors == []
    return download_items(items, to, fetcher, revisions or {}, (lines if lines is not None else []).append)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_the_image_archive_and_rows_are_placed_where_the_task_reads_them_and_the_check_passes(tmp_path, capsys):
    mirror = image_mirror(tmp_path / "mirror")
    to = tmp_path / "data"
    code = main(["data", "download", "--tasks", "ImageNet-1K", "--to", str(to), "--hub_mirror", str(mirror)])
    assert code == 0, capsys.readouterr()
    assert (to / "image-tasks" / "synthetic" / "img00_40x56.png").is_file()  # MMEB/ moved up
    assert (to / "MMEB_Test_Instruct" / "ImageNet-1K" / "test-00000-of-00001.jsonl").is_file()
    loaded = load_task_data(TaskIndex().tasks["ImageNet-1K"].spec, to, "local", None)  # what a run reads
    assert len(loaded.data.queries) == 4
    assert "4 rows" not in capsys.readouterr().err  # the table goes to stdout


def test_a_rerun_after_success_fetches_nothing(tmp_path):
    fetcher = CountingFetcher(image_mirror(tmp_path / "mirror"))
    first = _download(["ImageNet-1K"], tmp_path / "data", fetcher)
    assert [r.status for r in first.items] == ["downloaded", "downloaded"]
    fetcher.calls.clear()
    again = _download(["ImageNet-1K"], tmp_path / "data", fetcher)
    assert fetcher.calls == []
    assert [r.status for r in again.items] == ["skipped", "skipped"]


def test_an_unpinned_revision_warns_once_per_repository_and_records_the_resolved_commit(tmp_path):
    lines: list[str] = []
    report = _download(
        ["ImageNet-1K"], tmp_path / "data", MirrorFetcher(image_mirror(tmp_path / "mirror")), lines=lines
    )
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 2 and all("no revision pinned" in w for w in warnings)
    assert report.warnings == warnings
    marker = read_marker(tmp_path / "data", report.items[0].item)
    assert marker is not None and marker.status == "done"
    assert marker.revision_requested is None and marker.revision_resolved == "c0ffee1"
    assert (
        set(marker.sha256) == {"image-tasks/mmeb_v1.tar.gz"} and len(marker.sha256["image-tasks/mmeb_v1.tar.gz"]) == 64
    )


def test_a_mirror_without_a_commit_file_is_recorded_as_local(tmp_path):
    report = _download(
        ["ImageNet-1K"], tmp_path / "data", MirrorFetcher(image_mirror(tmp_path / "mirror", commit=None))
    )
    assert {r.revision for r in report.items} == {"local"}


def test_a_changed_revision_redoes_the_item(tmp_path):
    mirror = image_mirror(tmp_path / "mirror")
    fetcher = CountingFetcher(mirror)
    _download(["ImageNet-1K"], tmp_path / "data", fetcher)
    (mirror / "TIGER-Lab" / "MMEB-V2" / ".commit").write_text("beef002")
    fetcher.calls.clear()
    report = _download(["ImageNet-1K"], tmp_path / "data", fetcher, {"TIGER-Lab/MMEB-V2": "beef002"})
    assert fetcher.calls == [("TIGER-Lab/MMEB-V2", "beef002")]
    assert [r.status for r in report.items] == ["downloaded", "skipped"]
    marker = read_marker(tmp_path / "data", report.items[0].item)
    assert marker is not None and marker.revision_resolved == "beef002"
    assert (tmp_path / "data" / "image-tasks" / "synthetic" / "img00_40x56.png").is_file()


def test_a_pin_the_mirror_does_not_hold_fails_that_item_with_one_line_and_the_others_go_on(tmp_path):
    report = _download(
        ["ImageNet-1K"],
        tmp_path / "data",
        MirrorFetcher(image_mirror(tmp_path / "mirror")),
        {"TIGER-Lab/MMEB-V2": "abc"},
    )
    assert [r.status for r in report.items] == ["failed", "downloaded"]
    assert "holds commit 'c0ffee1', not the requested revision 'abc'" in report.items[0].message
    assert not (tmp_path / "data" / "image-tasks").exists()


def test_an_interrupted_extraction_leaves_no_marker_no_folder_and_no_staging(tmp_path, monkeypatch):
    mirror = image_mirror(tmp_path / "mirror")
    real = tarfile.TarFile.extract
    count = [0]

    def killed(self, member, path="", **kwargs):
        count[0] += 1
        if count[0] == 3:
            raise KeyboardInterrupt
        return real(self, member, path, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", killed)
    with pytest.raises(KeyboardInterrupt):
        _download(["ImageNet-1K"], tmp_path / "data", MirrorFetcher(mirror))
    to = tmp_path / "data"
    item = plan_downloads(TaskIndex().select(["ImageNet-1K"]).tasks, TaskIndex())[0][0].item_id
    assert not marker_path(to, item).exists()
    assert not (to / "image-tasks").exists()
    assert _files(to / STATE_DIR) == set()
    monkeypatch.setattr(tarfile.TarFile, "extract", real)
    assert [r.status for r in _download(["ImageNet-1K"], to, MirrorFetcher(mirror)).items] == ["downloaded"] * 2


def test_a_placement_cut_short_is_undone_and_redone_by_the_next_run(tmp_path):
    mirror = image_mirror(tmp_path / "mirror")
    to = tmp_path / "data"
    report = _download(["ImageNet-1K"], to, MirrorFetcher(mirror))
    path = marker_path(to, report.items[0].item)
    marker = json.loads(path.read_text())
    path.write_text(json.dumps({**marker, "status": "placing"}))  # as if killed between the moves
    again = _download(["ImageNet-1K"], to, MirrorFetcher(mirror))
    assert [r.status for r in again.items] == ["downloaded", "skipped"]
    assert (to / "image-tasks" / "synthetic" / "img00_40x56.png").is_file()


def test_a_corrupt_archive_fails_with_one_line_and_leaves_nothing_placed(tmp_path):
    mirror = image_mirror(tmp_path / "mirror")
    archive = mirror / "TIGER-Lab" / "MMEB-V2" / "image-tasks" / "mmeb_v1.tar.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    report = _download(["ImageNet-1K"], tmp_path / "data", MirrorFetcher(mirror))
    assert report.items[0].status == "failed" and "\n" not in report.items[0].message
    assert "mmeb_v1.tar.gz" in report.items[0].message
    assert not (tmp_path / "data" / "image-tasks").exists()


def test_a_hostile_archive_writes_nothing_outside_to(tmp_path):
    mirror = image_mirror(tmp_path / "mirror")
    archive = mirror / "TIGER-Lab" / "MMEB-V2" / "image-tasks" / "mmeb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("MMEB/../../../escaped.txt")
        tar.addfile(info)
    before = _files(tmp_path)
    report = _download(["ImageNet-1K"], tmp_path / "data", MirrorFetcher(mirror))
    assert report.items[0].status == "failed" and "refused" in report.items[0].message
    outside = {f for f in _files(tmp_path) - before if not f.startswith("data/")}
    assert outside == set()


def test_an_existing_folder_not_placed_by_a_download_is_never_overwritten(tmp_path):
    to = tmp_path / "data"
    (to / "image-tasks" / "synthetic").mkdir(parents=True)
    (to / "image-tasks" / "synthetic" / "mine.png").write_bytes(b"user data")
    report = _download(["ImageNet-1K"], to, MirrorFetcher(image_mirror(tmp_path / "mirror")))
    assert report.items[0].status == "failed" and "already exists" in report.items[0].message
    assert (to / "image-tasks" / "synthetic" / "mine.png").read_bytes() == b"user data"


def test_a_foreign_file_the_rows_pattern_matches_is_refused_as_it_would_double_the_rows(tmp_path):
    to = tmp_path / "data"
    write_jsonl(to / "MMEB_Test_Instruct" / "ImageNet-1K" / "test.jsonl", [{"a": 1}])
    report = _download(["ImageNet-1K"], to, MirrorFetcher(image_mirror(tmp_path / "mirror")))
    assert report.items[1].status == "failed" and "would read both" in report.items[1].message


def test_a_relative_to_keeps_every_write_inside_it(tmp_path, monkeypatch):
    mirror = image_mirror(tmp_path / "mirror")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["data", "download", "--tasks", "ImageNet-1K", "--to", "sub/data", "--hub_mirror", str(mirror)]) == 0
    assert {f.split("/")[0] for f in _files(work)} == {"sub"}
    assert all(f.startswith("sub/data/") for f in _files(work))


def test_video_frames_and_rows_download_and_check(tmp_path, capsys):
    mirror = video_mirror(tmp_path / "mirror")
    to = tmp_path / "data"
    assert main(["data", "download", "--tasks", "MSR-VTT", "--to", str(to), "--hub_mirror", str(mirror)]) == 0
    assert len(list((to / "video-tasks" / "frames" / "video_ret" / "MSR-VTT" / "video7001").iterdir())) > 8
    out = capsys.readouterr()
    assert "1 complete" in out.out


def test_only_the_archives_a_video_task_uses_are_planned():
    index = TaskIndex()
    items, _ = plan_downloads(index.select(["MSR-VTT", "Charades-STA"]).tasks, index)
    archives = [item.files for item in items if hasattr(item, "files")]
    assert archives == [("video-tasks/frames/video_ret.tar.gz",), ("video-tasks/frames/video_mret.tar.gz",)]


@pytest.mark.parametrize("layout", ["readme", "convention"])
def test_beir_tables_are_placed_under_the_task_patterns_so_a_local_run_reads_them(tmp_path, layout):
    mirror = tmp_path / "mirror"
    beir_tables(mirror / "vidore" / "arxivqa_test_subsampled_beir", "ViDoRe_arxivqa", layout)
    to = tmp_path / "data"
    report = _download(["ViDoRe_arxivqa"], to, MirrorFetcher(mirror))
    assert [r.status for r in report.items] == ["downloaded"] * 3
    folder = to / "visdoc-tasks" / "data" / "ViDoRe_arxivqa"
    assert sorted(p.name for p in folder.iterdir()) == [
        "corpus-test-00000-of-00001.parquet",
        "qrels-test-00000-of-00001.parquet",
        "queries-test-00000-of-00001.parquet",
    ]
    loaded = load_task_data(TaskIndex().tasks["ViDoRe_arxivqa"].spec, to, "local", None)
    assert len(loaded.data.queries) == 2 and len(loaded.data.candidates) == len(list(PAGES.glob("*.png")))


def test_a_missing_config_is_one_line_naming_the_repository_and_the_configs(tmp_path):
    mirror = tmp_path / "mirror"
    folder = mirror / "vidore" / "arxivqa_test_subsampled_beir"
    beir_tables(folder, "ViDoRe_arxivqa")
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: queries\n  data_files: queries/*\n---\n")
    report = _download(["ViDoRe_arxivqa"], tmp_path / "data", MirrorFetcher(mirror))
    failed = [r.message for r in report.items if r.status == "failed"]
    assert len(failed) == 3
    assert "no split 'test'" in failed[0]
    assert "no config 'corpus' (configs: queries)" in failed[1]


def test_a_repository_missing_from_the_mirror_fails_that_item_only(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    report = _download(["ImageNet-1K"], tmp_path / "data", MirrorFetcher(mirror))
    assert all(r.status == "failed" and "is not in the mirror" in r.message for r in report.items)


def test_bad_revision_flags_and_a_missing_mirror_are_one_line(tmp_path, capsys):
    assert main(["data", "download", "--tasks", "ImageNet-1K", "--to", str(tmp_path), "--revision", "x"]) == 2
    assert "expected REPO=COMMIT" in capsys.readouterr().err
    assert main(["data", "download", "--tasks", "ImageNet-1K", "--to", str(tmp_path), "--revision", "../x=1"]) == 2
    assert "not a hub repository id" in capsys.readouterr().err
    code = main(["data", "download", "--tasks", "ImageNet-1K", "--to", str(tmp_path), "--hub_mirror", "/nonexistent"])
    assert code == 2 and "not a folder" in capsys.readouterr().err


def test_the_hub_fetcher_resolves_the_commit_first_and_downloads_that_commit(tmp_path, monkeypatch):
    import huggingface_hub

    from harness.datasetup import HubFetcher

    calls: list[dict] = []

    class Info:
        sha = "0123abc"

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", lambda self, repo, revision=None: Info())
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *args, **kwargs: calls.append(kwargs))
    commit = HubFetcher().snapshot("TIGER-Lab/MMEB-V2", None, ["image-tasks/mmeb_v1.tar.gz"], tmp_path)
    assert commit == "0123abc"
    assert calls == [
        {
            "repo_type": "dataset",
            "revision": "0123abc",
            "allow_patterns": ["image-tasks/mmeb_v1.tar.gz"],
            "local_dir": tmp_path,
        }
    ]


def test_a_hub_failure_is_one_line_suggesting_the_mirror(tmp_path, monkeypatch):
    import huggingface_hub

    from harness.datasetup import HubFetcher
    from harness.errors import DataError

    def offline(self, repo, revision=None):
        raise OSError("Name or service not known\nmore detail")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", offline)
    with pytest.raises(DataError, match="cannot download TIGER-Lab/MMEB-V2 .*--hub_mirror") as error:
        HubFetcher().snapshot("TIGER-Lab/MMEB-V2", None, ["x"], tmp_path)
    assert "\n" not in str(error.value)
