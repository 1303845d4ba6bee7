"""Task data: rows from files or the hub, rendered into query and candidate inputs."""

from harness.data.paths import resolve_inside
from harness.data.records import QueryRecord, TaskData, build_task_data
from harness.data.signature import data_signature
from harness.data.sources import DatasetRows, DataSourceMode, load_rows
from harness.data.task_data import LoadedTaskData, load_task_data, row_limit

__all__ = [
    "DataSourceMode",
    "DatasetRows",
    "LoadedTaskData",
    "QueryRecord",
    "TaskData",
    "build_task_data",
    "data_signature",
    "load_rows",
    "load_task_data",
    "resolve_inside",
    "row_limit",
]
