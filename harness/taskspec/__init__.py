"""Task files: schema, safe loading, templates and name resolution (no torch here)."""

from harness.inputs import IMAGE_MARKER, VIDEO_MARKER  # re-exported for compatibility; defined in harness.inputs
from harness.taskspec.index import LoadedGroup, LoadedTask, Selection, TaskIndex, builtin_task_dir, load_task_file
from harness.taskspec.names import NAME_MAX_LENGTH, NAME_PATTERN, check_name
from harness.taskspec.schema import (
    TASK_FORMAT_VERSION,
    CandidateSpec,
    DatasetSource,
    GroupSpec,
    MetricSpec,
    QuerySpec,
    TaskSpec,
)
from harness.taskspec.templates import TemplateError, render

__all__ = [
    "IMAGE_MARKER",
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "TASK_FORMAT_VERSION",
    "VIDEO_MARKER",
    "CandidateSpec",
    "DatasetSource",
    "GroupSpec",
    "LoadedGroup",
    "LoadedTask",
    "MetricSpec",
    "QuerySpec",
    "Selection",
    "TaskIndex",
    "TaskSpec",
    "TemplateError",
    "builtin_task_dir",
    "check_name",
    "load_task_file",
    "render",
]
