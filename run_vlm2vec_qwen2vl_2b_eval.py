"""Evaluate VLM2Vec-V2.0 (Qwen2-VL-2B) on MMEB-V2 by modality: ``--modality image|video|visdoc|all``.

Outputs go to ``<output_basedir>/<model>/<modality>/`` (per-task files and leaderboard.json).
"""

import sys

from harness.cli.modality_runner import main

if __name__ == "__main__":
    sys.exit(main())
