"""Result files: per-task outputs, the run file, the output folder, and the aggregation rules."""

from harness.results.files import read_embeddings, task_paths, write_embeddings, write_json, write_jsonl
from harness.results.run_file import RUN_FILE_SCHEMA_VERSION, GroupScore, RunFile, TaskScore

__all__ = [
    "RUN_FILE_SCHEMA_VERSION",
    "GroupScore",
    "RunFile",
    "TaskScore",
    "read_embeddings",
    "task_paths",
    "write_embeddings",
    "write_json",
    "write_jsonl",
]
