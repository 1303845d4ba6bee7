"""The batch plan: inputs sorted by sequence length, cut by size and by a padded-token cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.engine.batching import IMAGE_COST, batch_cost, estimated_length, plan_batches
from harness.inputs import EncodeInput


def test_the_plan_puts_the_longest_inputs_first_and_keeps_input_order_among_equals():
    assert plan_batches([3, 9, 3, 7, 9], 2) == [[1, 4], [3, 0], [2]]


def test_a_token_cap_cuts_a_batch_before_its_padded_tokens_exceed_it():
    lengths = [100, 90, 10, 10, 10, 10]
    assert plan_batches(lengths, 4, max_batch_tokens=200) == [[0, 1], [2, 3, 4, 5]]


def test_an_input_longer_than_the_cap_is_a_batch_alone():
    assert plan_batches([500, 20, 20], 8, max_batch_tokens=100) == [[0], [1, 2]]


def test_batch_cost_is_size_times_the_longest_input():
    assert batch_cost([5, 9, 2], [0, 2]) == 10
    assert batch_cost([5, 9, 2], [0, 1, 2]) == 27


@pytest.mark.parametrize(("batch_size", "cap"), [(0, None), (2, 0)])
def test_bad_batching_options_are_refused(batch_size: int, cap: int | None):
    with pytest.raises(ValueError):
        plan_batches([1, 2], batch_size, cap)


def test_estimated_lengths_count_characters_and_media():
    assert estimated_length(EncodeInput("x" * 40)) == 10
    assert estimated_length(EncodeInput("")) == 1
    assert estimated_length(EncodeInput("<|image|>", image=Path("a.png"))) == 3 + IMAGE_COST


@given(
    st.lists(st.integers(min_value=1, max_value=5000), max_size=60),
    st.integers(min_value=1, max_value=17),
    st.one_of(st.none(), st.integers(min_value=1, max_value=20000)),
)
def test_every_input_is_in_exactly_one_batch_within_the_limits(lengths: list[int], size: int, cap: int | None):
    batches = plan_batches(lengths, size, cap)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= size
        assert cap is None or len(batch) == 1 or batch_cost(lengths, batch) <= cap
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
