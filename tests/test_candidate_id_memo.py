"""Candidate ids that depend only on the candidate are rendered once per distinct candidate.

A classification task lists the same labels in every row: 300 rows x 100 labels rendered the id
template 30,000 times for 1,620 labels. The memo must never change an id: it applies only to
templates that read nothing but ``cand`` and draw no random numbers, and its key tells apart
values that render differently (1, 1.0, True, -0.0, 0.0).
"""

from __future__ import annotations

import pytest

from harness.data.records import _CandidateIds, _exact_key, _RowContext
from harness.taskspec.template_refs import depends_only_on

CAND = frozenset({"cand"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ cand.tgt_text }}", True),
        ("{{ cand['corpus-id'] }}:{{ cand.tgt_text | trim }}", True),
        ("{{ row['query-id'] }}", False),
        ("{{ cand.tgt_text }}{{ cand_index }}", False),
        ("{{ [cand.a, cand.b] | random }}", False),
        ("{% set x = cand.a %}{{ x }}", True),
        ("{{ cand.a", False),  # does not parse: never memoised
    ],
)
def test_only_templates_reading_the_candidate_alone_are_memoised(source: str, expected: bool):
    assert depends_only_on(source, CAND) is expected


def test_values_that_render_differently_have_different_keys():
    values = ["1", 1, 1.0, True, 0.0, -0.0, None, "None"]
    keys = {_exact_key(v) for v in values}
    assert len(keys) == len(values)
    assert _exact_key({"a": 1, "b": "x"}) == _exact_key({"a": 1, "b": "x"})
    assert _exact_key({"a": 1, "b": "x"}) != _exact_key({"b": "x", "a": 1})  # {{ cand }} renders in key order
    assert _exact_key({"a": 1}) != _exact_key({"a": True})
    assert _exact_key({"a": [1, 2]}) is None and _exact_key([1]) is None


def test_memoised_ids_equal_rendered_ids():
    context = _RowContext("t", "rows.jsonl:1", None, False)  # type: ignore[arg-type]
    ids = _CandidateIds("{{ cand.tgt_text | upper }}")
    candidates = [{"tgt_text": t} for t in ["cat", "dog", "cat", "-0.0", "0.0", "cat"]]
    rendered = [ids.render(context, {"cand": c, "row": {}}) for c in candidates]
    assert rendered == ["CAT", "DOG", "CAT", "-0.0", "0.0", "CAT"]
    assert len(ids.rendered) == 4


def test_a_template_reading_the_row_is_rendered_for_every_row():
    context = _RowContext("t", "rows.jsonl:1", None, False)  # type: ignore[arg-type]
    ids = _CandidateIds("{{ row.n }}-{{ cand.v }}")
    assert [ids.render(context, {"cand": {"v": "x"}, "row": {"n": n}}) for n in (1, 2)] == ["1-x", "2-x"]
    assert ids.rendered == {}


def test_candidates_whose_keys_come_in_another_order_keep_their_own_ids():
    context = _RowContext("t", "rows.jsonl:1", None, False)  # type: ignore[arg-type]
    ids = _CandidateIds('{{ cand | join("/") }}')
    rendered = [ids.render(context, {"cand": c}) for c in ({"a": "1", "b": "2"}, {"b": "2", "a": "1"})]
    assert rendered == ["a/b", "b/a"]
