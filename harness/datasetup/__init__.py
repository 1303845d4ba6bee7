"""Data setup: check that a task's data is all there, and download what it needs.

``check_tasks`` reads each task's rows and tables through :mod:`harness.data` and counts every
medium its records name (``harness data check``). ``plan_downloads`` / ``download_items`` fetch
the media archives (listed in :mod:`.manifest`) and hub tables the tasks need, through a
:class:`Fetcher` (the hub, or a local mirror), extract them safely and mark each item done
(``harness data download``). See ``docs/data.md``.
"""

from harness.datasetup.archives import ExtractLimits, extract_archive
from harness.datasetup.check import check_task, check_tasks
from harness.datasetup.download import DownloadReport, ItemResult, download_items, plan_downloads
from harness.datasetup.fetch import Fetcher, HubFetcher, MirrorFetcher
from harness.datasetup.manifest import FAMILY_ARCHIVES, ArchiveSpec, HubTable
from harness.datasetup.report import CheckReport, MediaCheck, TaskCheck, VideoCheck

__all__ = [
    "FAMILY_ARCHIVES",
    "ArchiveSpec",
    "CheckReport",
    "DownloadReport",
    "ExtractLimits",
    "Fetcher",
    "HubFetcher",
    "HubTable",
    "ItemResult",
    "MediaCheck",
    "MirrorFetcher",
    "TaskCheck",
    "VideoCheck",
    "check_task",
    "check_tasks",
    "download_items",
    "extract_archive",
    "plan_downloads",
]
