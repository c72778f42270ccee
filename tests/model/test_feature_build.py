"""The month-by-month feature build (bounded memory and time a month, at any scale) gives every
flight exactly the features of the one-pass build, on the 5% sample's warehouse: a year of months,
each reaching back 28 days and its horizon for its running totals, reading only the flights around
it, and starting from the totals carried from month to month."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import Sample
from lakehouse.config import DEFAULT_HORIZON_MINUTES
from lakehouse.models.features.build import build_features, monthly_windows, write_features
from lakehouse.models.features.sql import portable_feature_sql

pytestmark = pytest.mark.warehouse


@pytest.fixture(scope="module")
def whole(sample: Sample) -> pl.DataFrame:
    """The one-pass build of the sample's published warehouse."""
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        return build_features(connection)


def test_the_monthly_build_equals_the_whole_build_bit_for_bit(
    sample: Sample, whole: pl.DataFrame, tmp_path: Path
) -> None:
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        assert len(monthly_windows(connection)) == 13  # 2013 in UTC runs into January 2014
        files = write_features(connection, tmp_path / "features")
    monthly = pl.concat([pl.read_parquet(f) for f in files])
    assert whole.height > 15_000
    assert monthly.equals(whole)


def test_a_build_of_the_last_months_alone_gives_them_the_same_features(
    sample: Sample, whole: pl.DataFrame, tmp_path: Path
) -> None:
    """Starting late: the totals before the first month built are added up from all history."""
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        last = monthly_windows(connection)[-3:]
        files = write_features(connection, tmp_path / "features", months=last)
    months = pl.concat([pl.read_parquet(f) for f in files])
    assert months.height > 2_000
    assert months.equals(whole.filter(pl.col("scheduled_departure_utc") >= last[0][0]))


def test_the_lookups_without_asof_joins_find_the_same_rows(sample: Sample, whole: pl.DataFrame) -> None:
    """The portable form of the lookups (a union ordered by time, for Spark) on DuckDB: every
    feature of the year equal to the ASOF joins' bit for bit."""
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        portable = connection.sql(portable_feature_sql(DEFAULT_HORIZON_MINUTES)).pl()
    assert portable.equals(whole)


def test_the_lookups_without_asof_joins_of_the_last_months_find_the_same_rows(
    sample: Sample, whole: pl.DataFrame
) -> None:
    """The portable form over a range of flights (Spark's `scheduled_between`): each running total
    starts from what every earlier event adds up to."""
    with duckdb.connect(str(sample.second.paths.warehouse), read_only=True) as connection:
        last = monthly_windows(connection)[-3:]
        sql = portable_feature_sql(DEFAULT_HORIZON_MINUTES, scheduled_between=(last[0][0], last[-1][1]))
        months = connection.sql(sql).pl()
    assert months.height > 2_000
    assert months.equals(whole.filter(pl.col("scheduled_departure_utc") >= last[0][0]))
