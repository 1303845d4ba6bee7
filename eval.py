"""VLM2Vec-compatible entry point: ``python eval.py --model_name ... --dataset_config ...``.

Accepts the reference's evaluation flags and runs the harness; see README "Coming from VLM2Vec".
"""

import sys

from harness.cli.reference_compat import main

if __name__ == "__main__":
    sys.exit(main())
