"""EMF takes at most 100 values of a metric per document: a batch's latencies are spread to at most 100
order statistics keeping the distribution (minimum, maximum, every percentile within a step)."""
from __future__ import annotations

from hypothesis import given, strategies as st

from marketing.app.telemetry import MAX_VALUES, spread


@given(st.lists(st.floats(0, 10_000, allow_nan=False), min_size=1, max_size=1_000))
def test_a_batch_of_latencies_keeps_its_distribution_in_at_most_100_values(values):
    kept = spread(values)
    assert len(kept) == min(len(values), MAX_VALUES)
    ordered = sorted(values)
    assert min(kept) == ordered[0] and max(kept) == ordered[-1]
    if len(values) > MAX_VALUES:
        for q in (0.5, 0.9, 0.99):   # each percentile of the kept values is within a step of the batch's
            rank = q * (len(ordered) - 1)
            step = (len(ordered) - 1) / (MAX_VALUES - 1)
            low, high = ordered[max(0, int(rank - step))], ordered[min(len(ordered) - 1, int(rank + step) + 1)]
            got = sorted(kept)[round(q * (len(kept) - 1))]
            assert low <= got <= high
