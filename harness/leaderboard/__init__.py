"""Leaderboard entries (schema 2.0): read, check, store, compare, export and publish as a static site."""

from harness.leaderboard.checks import EntryError, check_entry, compute_aggregates
from harness.leaderboard.compare import Comparison, Delta, ScoreComparison, compare_entries, compare_tables
from harness.leaderboard.entry import (
    ENTRY_SCHEMA_VERSION,
    Aggregates,
    Benchmark,
    LeaderboardEntry,
    ModelCard,
    Provenance,
    TaskResult,
    entry_json_schema,
)
from harness.leaderboard.export import to_markdown, to_mmeb
from harness.leaderboard.files import entry_from_payload, entry_text, load_entry, write_entry
from harness.leaderboard.folder import StoredEntry, add_entry, entry_path, list_entries
from harness.leaderboard.migrate import migrate_run_entry
from harness.leaderboard.paired import RunComparison, compare_runs
from harness.leaderboard.publish import publish_run
from harness.leaderboard.published import resolve_published
from harness.leaderboard.reference import BENCHMARK as REFERENCE_BENCHMARK
from harness.leaderboard.reference import SCORE_SETS, TaskInfo, import_reference
from harness.leaderboard.run_folder import RunFolder, read_run_folder, read_scores
from harness.leaderboard.score_table import ScoreTable
from harness.leaderboard.site import build_site

__all__ = [
    "ENTRY_SCHEMA_VERSION",
    "SCORE_SETS",
    "Aggregates",
    "Benchmark",
    "Comparison",
    "Delta",
    "EntryError",
    "LeaderboardEntry",
    "ModelCard",
    "Provenance",
    "RunComparison",
    "RunFolder",
    "ScoreComparison",
    "ScoreTable",
    "StoredEntry",
    "TaskResult",
    "add_entry",
    "build_site",
    "check_entry",
    "compare_entries",
    "compare_runs",
    "compare_tables",
    "compute_aggregates",
    "entry_from_payload",
    "entry_json_schema",
    "entry_path",
    "entry_text",
    "import_reference",
    "REFERENCE_BENCHMARK",
    "TaskInfo",
    "migrate_run_entry",
    "publish_run",
    "read_run_folder",
    "read_scores",
    "resolve_published",
    "list_entries",
    "load_entry",
    "to_markdown",
    "to_mmeb",
    "write_entry",
]
