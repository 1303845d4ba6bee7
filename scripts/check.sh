#!/usr/bin/env bash
# The house-rule checks, in one place: CI (.ci/run) runs this before the tests, and so should you
# (CONTRIBUTING.md). Each check runs even when an earlier one failed; the status is 1 if any failed.
# Needs the test extra: pip install -e ".[test]".
set -euo pipefail
cd "$(dirname "$0")/.."

LINTED=(.)  # the whole tree (ruff skips .venv, build and the like by default): eval.py, docs examples too
failed=()

check() {
    echo "+ $*"
    "$@" || failed+=("$*")
}

check ruff check "${LINTED[@]}"
check ruff format --check "${LINTED[@]}"
check mypy harness
check lint-imports  # import contracts: [tool.importlinter] in pyproject.toml

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all checks passed"
