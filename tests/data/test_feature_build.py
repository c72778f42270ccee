"""The month-by-month feature build (bounded memory at any scale) gives every flight exactly the
features of the whole-year build, on the 5% sample's warehouse: a year of months, each reaching
back over the month before it for its running totals and carrying the totals from before that."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import Sample
from lakehouse.features import build_features, monthly_windows, write_features

pytestmark = pytest.mark.warehouse


def test_the_monthly_build_equals_the_whole_build_bit_for_bit(sample: Sample, tmp_path: Path) -> None:
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        whole = build_features(connection)
        assert len(monthly_windows(connection)) == 13  # 2013 in UTC runs into January 2014
        files = write_features(connection, tmp_path / "features")
    monthly = pl.concat([pl.read_parquet(f) for f in files])
    assert whole.height > 15_000
    assert monthly.equals(whole)
