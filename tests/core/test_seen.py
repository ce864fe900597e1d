"""``SeenNumbers``: the campaign's set of numbers, against a plain Python set."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.core import seen as seen_module
from bulksend.core.seen import SeenNumbers, as_keys

numbers = st.integers(min_value=10**6, max_value=10**15 - 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(numbers | st.sampled_from([4670000001, 4670000002]), max_size=40), max_size=30))
def test_takes_exactly_the_first_occurrences_like_a_set(blocks: list[list[int]]) -> None:
    seen, model = SeenNumbers(), set()
    for block in blocks:
        mask = seen.take(np.array(block, dtype=np.int64)).tolist()
        expected = []
        for n in block:
            expected.append(n not in model)
            model.add(n)
        assert mask == expected
    assert len(seen) == len(model)
    assert all(n in seen for n in model)


def test_runs_stop_growing_at_the_cap_and_the_filter_grows(monkeypatch) -> None:
    monkeypatch.setattr(seen_module, "RUN_CAP", 64)
    seen = SeenNumbers()
    rng = np.random.default_rng(7)
    values = rng.choice(10**12, size=5000, replace=False).astype(np.int64) + 10**6
    for start in range(0, 5000, 50):
        assert seen.take(values[start:start + 50]).all()
    assert len(seen) == 5000
    assert not seen.take(values[::7]).any()  # every one of them is known now
    assert all(len(run) <= 64 for runs in seen._runs.values() for run in runs)


def test_keys_from_normalized_numbers() -> None:
    assert as_keys([]).tolist() == []
    assert as_keys(["46700000001", "999999999999999"]).tolist() == [46700000001, 999999999999999]
    assert as_keys([str(46700000000 + i) for i in range(100)])[-1] == 46700000099
