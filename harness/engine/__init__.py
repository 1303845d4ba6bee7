"""The evaluation engine: encode unique inputs, rank, score, write results."""

from harness.engine.embeddings import DenseEmbeddings, Embeddings, TokenEmbeddings
from harness.engine.encode import encode_distinct, encode_inputs, unique_inputs
from harness.engine.encoding import Encoding, encoding_for
from harness.engine.evaluate import EvalOptions, evaluate_task
from harness.engine.rank import Rankings, rank_global, rank_local, top_indices
from harness.engine.run import LEADERBOARD_FILE, RunResult, run_tasks

__all__ = [
    "LEADERBOARD_FILE",
    "DenseEmbeddings",
    "Embeddings",
    "Encoding",
    "EvalOptions",
    "Rankings",
    "RunResult",
    "TokenEmbeddings",
    "encode_distinct",
    "encode_inputs",
    "encoding_for",
    "evaluate_task",
    "rank_global",
    "rank_local",
    "run_tasks",
    "top_indices",
    "unique_inputs",
]
