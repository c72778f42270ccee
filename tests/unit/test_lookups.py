"""The sort-based lookups against the rule they implement, checked row by row on small random
sources: for each probe, the sum of its key's values strictly before its instant (at or before it
for an inclusive lookup), NULL where there is no such row, and for rows (not sums) the values of
the last such row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from lakehouse.models.features.lookups import Axis, Timeline, Values


def _source(seed: int, rows: int) -> pl.DataFrame:
    """Rows with few distinct instants (ties) and keys, a key missing here and there, NULL values."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "instant": rng.integers(0, 20, rows),
            "code": rng.integers(-1, 4, rows),
            "value": pl.Series(rng.integers(-5, 10, rows)).set(pl.Series(rng.random(rows) < 0.3), None),
        }
    )


def _probes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    return rng.integers(-1, 5, 200), rng.integers(-2, 23, 200)


def _expected_sum(source: pl.DataFrame, code: int, instant: int, inclusive: bool) -> int | None:
    before = source.filter(
        (pl.col("code") == code)
        & ((pl.col("instant") <= instant) if inclusive else (pl.col("instant") < instant))
    )
    if code < 0 or before.height == 0 or before["value"].null_count() == before.height:
        return None
    return int(before["value"].sum())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("inclusive", [False, True])
def test_a_running_total_found_is_the_sum_of_its_keys_values_before_the_instant(
    seed: int, inclusive: bool
) -> None:
    source = _source(seed, rows=60)
    axis = Axis.of(Values.of(source["instant"]))
    timeline = Timeline.of(
        axis, source["code"].to_numpy(), {"value": Values.of(source["value"])}, running=True
    )
    codes, instants = _probes(seed)
    found = timeline.brought(timeline.find(codes, axis.rank(instants, inclusive)))
    got = found.field("value").to_pylist()
    expected = [
        _expected_sum(source, int(c), int(t), inclusive) for c, t in zip(codes, instants, strict=True)
    ]
    assert got == expected


@pytest.mark.parametrize("seed", range(3))
def test_a_row_found_is_the_last_of_its_key_at_or_before_the_instant(seed: int) -> None:
    # one row per (key, instant), as the weather has: the last row is then the only candidate
    source = _source(seed, rows=80).filter(pl.col("code") >= 0).unique(["code", "instant"], keep="first")
    axis = Axis.of(Values.of(source["instant"]))
    timeline = Timeline.of(
        axis, source["code"].to_numpy(), {"value": Values.of(source["value"])}, running=False
    )
    codes, instants = _probes(seed)
    row = timeline.find(codes, axis.rank(instants, inclusive=True))
    got = timeline.brought(row).field("value").to_pylist()
    for code, instant, value, was_found in zip(codes, instants, got, row >= 0, strict=True):
        earlier = source.filter((pl.col("code") == code) & (pl.col("instant") <= instant)).sort("instant")
        assert was_found == (earlier.height > 0)
        assert value == (earlier["value"][-1] if earlier.height else None)


def test_an_empty_source_finds_nothing() -> None:
    empty = pl.DataFrame(
        {"instant": [], "code": [], "value": []},
        schema={"instant": pl.Int64, "code": pl.Int64, "value": pl.Int64},
    )
    axis = Axis.of(Values.of(empty["instant"]))
    timeline = Timeline.of(axis, empty["code"].to_numpy(), {"value": Values.of(empty["value"])}, running=True)
    codes, instants = _probes(0)
    found = timeline.brought(timeline.find(codes, axis.rank(instants, inclusive=False)))
    assert found.field("value").to_pylist() == [None] * len(codes)
    assert found.type.field("value").type == pa.int64()


def test_a_running_total_of_anything_but_integers_is_refused() -> None:
    """Sums of floats would depend on the order of the rows: not the same on every engine."""
    source = pl.DataFrame({"instant": [1, 2], "code": [0, 0], "value": [0.1, 0.2]})
    axis = Axis.of(Values.of(source["instant"]))
    with pytest.raises(TypeError, match="adds up integers"):
        Timeline.of(axis, source["code"].to_numpy(), {"value": Values.of(source["value"])}, running=True)
