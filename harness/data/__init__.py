"""Task data: rows from files or the hub, rendered into query and candidate inputs."""

from harness.data.paths import resolve_inside
from harness.data.records import QueryRecord, TaskData, build_task_data
from harness.data.sources import DatasetRows, DataSourceMode, load_rows

__all__ = [
    "DataSourceMode",
    "DatasetRows",
    "QueryRecord",
    "TaskData",
    "build_task_data",
    "load_rows",
    "resolve_inside",
]
