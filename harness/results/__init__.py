"""Result files: per-task outputs and the standardized leaderboard entry."""

from harness.results.files import read_embeddings, task_paths, write_embeddings, write_json, write_jsonl
from harness.results.leaderboard import LEADERBOARD_SCHEMA_VERSION, GroupScore, LeaderboardEntry, TaskScore

__all__ = [
    "LEADERBOARD_SCHEMA_VERSION",
    "GroupScore",
    "LeaderboardEntry",
    "TaskScore",
    "read_embeddings",
    "task_paths",
    "write_embeddings",
    "write_json",
    "write_jsonl",
]
