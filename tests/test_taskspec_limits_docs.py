"""The task-format documentation lists every limit with the value the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from harness.taskspec import limits, names

DOCS = Path(__file__).resolve().parents[1] / "docs" / "task_format.md"


def documented_limits() -> dict[str, str]:
    """``NAME -> value`` from the rows of the Limits table: ``| `NAME` | value ... |``."""
    return dict(re.findall(r"^\| `([A-Z_]+)` \| ([0-9.]+)", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_docs_list_every_limit_with_its_value():
    enforced = {name: value for name, value in vars(limits).items() if name.isupper()}
    enforced["NAME_MAX_LENGTH"] = names.NAME_MAX_LENGTH

    assert documented_limits() == {name: str(value) for name, value in enforced.items()}
