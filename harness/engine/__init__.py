"""The evaluation engine: encode unique inputs, rank, score, write results."""

from harness.engine.encode import encode_inputs, unique_inputs
from harness.engine.evaluate import EvalOptions, evaluate_task
from harness.engine.rank import Rankings, rank_global, rank_local, top_indices
from harness.engine.run import LEADERBOARD_FILE, RunResult, run_tasks

__all__ = [
    "LEADERBOARD_FILE",
    "EvalOptions",
    "Rankings",
    "RunResult",
    "encode_inputs",
    "evaluate_task",
    "rank_global",
    "rank_local",
    "run_tasks",
    "top_indices",
    "unique_inputs",
]
