"""Command line: ``harness run | tasks | validate | models | leaderboard | cache | data``.

Errors caused by input (task files, data, model arguments) print one line and exit with
status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.version import VERSION as __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script and ``python -m harness``."""
    args = build_parser().parse_args(argv)
    if not hasattr(args, "handler"):
        build_parser().print_help()
        return 2
    return run_handler(args.handler, args)


def run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Call ``handler``; input errors become one line on stderr and status 2 (unless ``--debug``)."""
    try:
        return handler(args)
    except HarnessError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files of finished tasks are kept", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from harness.cli import cache_commands, data_commands, leaderboard_commands, run_command, task_commands

    parser = argparse.ArgumentParser(prog="harness", description="Evaluate multimodal embedding models.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(title="commands")
    run_command.add_parser(subparsers)
    task_commands.add_parsers(subparsers)
    leaderboard_commands.add_parsers(subparsers)
    cache_commands.add_parsers(subparsers)
    data_commands.add_parsers(subparsers)
    return parser


def add_media_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the commands that decode media (run, validate)."""
    from harness.media.image import DEFAULT_MAX_IMAGE_PIXELS

    parser.add_argument(
        "--max_image_pixels",
        type=positive_int,
        default=DEFAULT_MAX_IMAGE_PIXELS,
        metavar="N",
        help=f"refuse images (and video frames) over N pixels before decoding (default {DEFAULT_MAX_IMAGE_PIXELS:,})",
    )


def add_audio_flags(parser: argparse.ArgumentParser) -> None:
    """``--audio_max_seconds`` (the reference's name), for the commands that run tasks (run, eval.py)."""
    parser.add_argument(
        "--audio_max_seconds",
        type=float,
        default=None,
        metavar="S",
        help="keep the first S seconds of every audio clip, in every task that reads audio "
        "(replaces the tasks' audio.max_seconds, recorded with the results; default: each task's own, 10.24 s)",
    )


def add_cache_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the commands that encode (run, eval.py, the modality runner)."""
    parser.add_argument(
        "--cache_dir",
        type=Path,
        default=None,
        help="embedding cache folder (default: $HARNESS_CACHE_DIR, else the user cache folder)",
    )
    parser.add_argument("--no_cache", action="store_true", help="neither read nor write the embedding cache")


def add_throughput_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the commands that encode: preprocessing workers and the batch token cap.

    ``--dataloader_num_workers`` (the reference's name) is the same flag as ``--num_workers``.
    """
    parser.add_argument(
        "--num_workers",
        "--dataloader_num_workers",
        dest="num_workers",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="processes that decode, resize and tokenise batches ahead of the model "
        "(default: 1 on a CPU of 2+ cores, else 0; cores per GPU - 1, up to 8, on a GPU; 0: in the main process)",
    )
    parser.add_argument(
        "--max_batch_tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="also cut a batch before its padded tokens (inputs x longest) exceed N (default: no cap)",
    )


def add_metrics_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the commands that score (run, eval.py, the modality runner)."""
    parser.add_argument(
        "--metrics_compat",
        choices=["harness", "reference"],
        default="harness",
        help="graded qrels: pair each grade with its document (harness, the default) or as the reference "
        "does after its set() of labels (reference: the published visdoc numbers); tasks where the two "
        "differ say so and keep both in the score file",
    )


def encoding_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`harness.evaluate` arguments of the cache, throughput and metrics flags (one
    mapping for every door that adds them with :func:`add_cache_flags`,
    :func:`add_throughput_flags` and :func:`add_metrics_flags`)."""
    return {
        "cache_dir": args.cache_dir,
        "use_cache": not args.no_cache,
        "num_workers": args.num_workers,
        "max_batch_tokens": args.max_batch_tokens,
        "metrics_compat": args.metrics_compat,
    }


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(text, minimum=0)


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(text, minimum=1)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
    return value


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Flags every subcommand accepts."""
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument(
        "--include_path", action="append", default=[], metavar="DIR", help="add a folder of task files (repeatable)"
    )
