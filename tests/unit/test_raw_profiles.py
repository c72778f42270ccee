"""Each raw file's measures against the accepted files: one impossible reading is an outlier (a
warning), a file of them, a column of NULLs, a constant column or a shifted median is a broken
source (critical), named by file and column. On small base tables of every source with many rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from lakehouse.quality.profiles import declared_measures, profile_checks, profile_files

FILES = 3
ROWS = 300


def _values(index: int, low: float, high: float) -> float:
    """Varied, in-range readings, about the middle of the bounds."""
    middle, spread = (low + high) / 2, (high - low) / 10
    return round(middle + spread * ((index * 37) % 11 - 5) / 5, 2)


def _base_tables(path: Path, edit: Callable[[str, str, list[object], int], None] | None = None) -> Path:
    measures = declared_measures()
    with duckdb.connect(str(path)) as connection:
        for source in dict.fromkeys(m.source for m in measures):
            columns = [m for m in measures if m.source == source]
            data: dict[str, list[object]] = {"source_file": [], **{m.column: [] for m in columns}}
            for file in range(FILES):
                for row in range(ROWS):
                    data["source_file"].append(f"{source}/{source}_{file}.csv")
                    for m in columns:
                        value: object = _values(row + file, *m.bounds) if m.bounds else f"v{row % 7}"
                        data[m.column].append(value)
            if edit:
                for m in columns:
                    edit(source, m.column, data[m.column], ROWS)
            frame = pl.DataFrame(data, strict=False)  # noqa: F841 (read by DuckDB)
            connection.execute(f"create table base_nycflights__{source} as select * from frame")
    return path


def _failures(
    profiles: pl.DataFrame, accepted: pl.DataFrame | None, severity: str
) -> set[tuple[str, str, str]]:
    return {
        (r.table_name, r.column_name or "", r.expectation)
        for r in profile_checks(profiles, accepted)
        if not r.success and r.severity == severity
    }


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    return profile_files(_base_tables(tmp_path_factory.mktemp("accepted") / "w.duckdb"))


def test_files_like_the_accepted_ones_pass(accepted: pl.DataFrame) -> None:
    assert _failures(accepted, accepted, "critical") == set()
    assert _failures(accepted, None, "critical") == set()


# (source, column, how the first file's values change, the check that must fail)
DEFECTS = {
    "weather pressure in inches of mercury": (
        "weather",
        "pressure",
        lambda v: v / 33.8639,
        "values within bounds",
    ),
    "flight delays in seconds": ("flights", "dep_delay", lambda v: v * 60, "values within bounds"),
    "airport time zones in minutes": ("airports", "tz", lambda v: v * 60, "values within bounds"),
    "plane years in two digits": ("planes", "year", lambda v: v - 1900, "values within bounds"),
    "weather visibility scaled (km)": ("weather", "visib", lambda v: v * 1.609, "median per file"),
    "airport altitudes in metres": ("airports", "alt", lambda v: v * 0.3048, "median per file"),
    "a column of NULLs (weather)": ("weather", "temp", lambda v: None, "values present"),
    "a column of NULLs (flights tail numbers)": ("flights", "tailnum", lambda v: None, "values present"),
    "a column of NULLs (planes)": ("planes", "seats", lambda v: None, "values present"),
    "a column of NULLs (airlines)": ("airlines", "name", lambda v: None, "values present"),
    "a constant column (weather)": ("weather", "humid", lambda v: 50.0, "values vary"),
    "a constant column (flights)": ("flights", "distance", lambda v: 1000, "values vary"),
    "a constant column (planes)": ("planes", "manufacturer", lambda v: "BOEING", "values vary"),
    "a constant column (airports)": ("airports", "alt", lambda v: 0, "values vary"),
}


@pytest.mark.parametrize("case", list(DEFECTS))
def test_a_systematic_defect_in_one_file_is_a_broken_source(
    case: str, accepted: pl.DataFrame, tmp_path: Path
) -> None:
    source, column, change, check = DEFECTS[case]

    def edit(edited_source: str, edited_column: str, values: list[object], rows: int) -> None:
        if (edited_source, edited_column) == (source, column):
            values[:rows] = [change(v) for v in values[:rows]]

    profiles = profile_files(_base_tables(tmp_path / "w.duckdb", edit))
    failed = _failures(profiles, accepted, "critical")
    assert any(t == f"raw.{source}" and c == column and e.startswith(check) for t, c, e in failed), failed
    messages = [r.message() for r in profile_checks(profiles, accepted) if not r.success]
    assert any(f"{source}/{source}_0.csv" in m and column in m for m in messages)
    assert all(f"{source}_1.csv" not in m for m in messages)


def test_one_impossible_reading_is_an_outlier_not_a_broken_source(
    accepted: pl.DataFrame, tmp_path: Path
) -> None:
    def edit(source: str, column: str, values: list[object], rows: int) -> None:
        if (source, column) == ("weather", "wind_speed"):
            values[5] = 1048.0

    profiles = profile_files(_base_tables(tmp_path / "w.duckdb", edit))
    assert _failures(profiles, accepted, "critical") == set()
    assert _failures(profiles, accepted, "warning") == {
        ("raw.weather", "wind_speed", "no value out of bounds")
    }


def test_before_anything_is_accepted_a_file_is_judged_against_the_other_files(tmp_path: Path) -> None:
    def edit(source: str, column: str, values: list[object], rows: int) -> None:
        if (source, column) == ("weather", "pressure"):
            values[:rows] = [None] * rows

    profiles = profile_files(_base_tables(tmp_path / "w.duckdb", edit))
    assert _failures(profiles, None, "critical") == {("raw.weather", "pressure", "values present per file")}
