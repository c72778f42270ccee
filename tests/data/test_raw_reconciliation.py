"""Nothing is lost between the landing zone and the warehouse: for every source and every file,
raw rows = staged rows + quarantined rows, and each row knows its file and line."""

import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from lakehouse.config import paths
from lakehouse.platform.dbt import DbtError, run_dbt
from lakehouse.platform.landing import count_data_rows

STAGED = {
    "flights": "stg_nycflights__flights",
    "weather": "stg_nycflights__weather",
    "planes": "stg_nycflights__planes",
    "airports": "stg_nycflights__airports",
    "airlines": "stg_nycflights__airlines",
}


def raw_counts(raw: Path) -> dict[tuple[str, str], int]:
    return {
        (path.relative_to(raw).parts[0], str(path.relative_to(raw))): count_data_rows(path)
        for path in sorted(raw.rglob("*"))
        if path.is_file() and path.name != "README.md"
    }


def warehouse_counts(connection: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[int, int]]:
    """(source, file) -> (staged rows, quarantined rows)."""
    staged_sql = " union all ".join(
        f"select '{source}' as source_name, source_file, count(*) as n from {model} "
        # The airports the seed supplies are not raw rows.
        f"where source_file not like 'seeds/%' group by source_file"
        for source, model in STAGED.items()
    )
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for source, file, n in connection.execute(staged_sql).fetchall():
        counts[(source, file)] = (n, 0)
    for source, file, n in connection.execute(
        "select source_name, source_file, count(*) from quarantine.rejected_rows group by all"
    ).fetchall():
        counts[(source, file)] = (counts.get((source, file), (0, 0))[0], n)
    return counts


def assert_reconciles(raw: Path, connection: duckdb.DuckDBPyConnection) -> None:
    raw_rows = raw_counts(raw)
    in_warehouse = warehouse_counts(connection)
    assert set(in_warehouse) <= set(raw_rows), set(in_warehouse) - set(raw_rows)
    for key, rows in raw_rows.items():
        staged, quarantined = in_warehouse.get(key, (0, 0))
        assert staged + quarantined == rows, (
            f"{key}: {rows} raw rows, {staged} staged + {quarantined} quarantined"
        )


@pytest.mark.warehouse
def test_bundled_raw_rows_reconcile_with_staged_and_quarantined(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert_reconciles(paths().raw, warehouse)


@pytest.mark.warehouse
def test_every_staged_flight_points_at_its_raw_line(warehouse: duckdb.DuckDBPyConnection) -> None:
    lines: dict[tuple[str, int], list[str]] = {}
    for path in paths().raw.glob("flights/*/*.csv.gz"):
        with gzip.open(path, "rt") as handle:
            for number, line in enumerate(handle, start=1):
                lines[(str(path.relative_to(paths().raw)), number)] = line.rstrip("\n").split(",")
    rows = warehouse.execute(
        "select source_file, source_line, carrier_code, flight_number, scheduled_departure_hhmm, "
        "scheduled_departure_date from stg_nycflights__flights"
    ).fetchall()
    mismatched = [
        row
        for row in rows
        if (raw := lines[(row[0], row[1])])
        and (raw[9], int(raw[10]), int(raw[4]), (int(raw[0]), int(raw[1]), int(raw[2])))
        != (row[2], row[3], row[4], (row[5].year, row[5].month, row[5].day))
    ]
    assert len(rows) == 336_776
    assert not mismatched, mismatched[:3]


@pytest.fixture(scope="module")
def broken_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small landing zone (January only) with defects a source system really sends."""
    raw = tmp_path_factory.mktemp("broken") / "raw"
    for table in ("planes", "airports", "airlines"):
        (raw / table).mkdir(parents=True)
        shutil.copy(paths().raw / table / f"{table}.csv", raw / table)
    with gzip.open(paths().raw / "flights/2013/flights_2013-01.csv.gz", "rt") as handle:
        header, *rows = handle.read().splitlines()[:501]
    rows[9] = rows[9].replace("2013,1,1,", "2013,2,30,", 1)  # impossible date, line 11
    fields = rows[19].split(",")
    fields[5] = "abc"  # unparseable dep_delay, line 21
    rows[19] = ",".join(fields)
    rows.append(rows[0])  # a key that collides with line 2, at line 502
    (raw / "flights/2013").mkdir(parents=True)
    with gzip.open(raw / "flights/2013/flights_2013-01.csv.gz", "wt") as handle:
        handle.write("\n".join([header, *rows]) + "\n")
    # The same export delivered twice under another name: every row collides.
    shutil.copy(raw / "flights/2013/flights_2013-01.csv.gz", raw / "flights/2013/flights_2013-01b.csv.gz")
    weather = (paths().raw / "weather/2013/weather_2013-01.jsonl").read_text().splitlines()[:100]
    weather[4] = weather[4][:40]  # truncated JSON, line 5
    record = json.loads(weather[6])
    record["wind_speed"] = "calm"  # unparseable, line 7
    weather[6] = json.dumps(record)
    (raw / "weather/2013").mkdir(parents=True)
    (raw / "weather/2013/weather_2013-01.jsonl").write_text("\n".join(weather) + "\n")
    return raw


def _build(raw: Path, *selectors: str) -> Path:
    """dbt build of the selected models (no data tests) on a landing zone; returns the warehouse."""
    root = raw.parent
    run_dbt(
        ["build", "--select", *selectors, "--exclude", "test_type:data"],
        project_dir=paths().dbt_project,
        warehouse=root / "warehouse.duckdb",
        raw_dir=raw,
        lake_dir=root / "lake",
        target_dir=root / "target",
    )
    return root / "warehouse.duckdb"


@pytest.fixture(scope="module")
def broken_warehouse(broken_raw: Path) -> Path:
    return _build(broken_raw, "+quarantine", "+staging")


def test_defective_rows_are_quarantined_with_file_line_and_rule(broken_warehouse: Path) -> None:
    with duckdb.connect(str(broken_warehouse), read_only=True) as connection:
        rejected = connection.execute(
            "select source_file, source_line, rejection_reason from quarantine.rejected_rows "
            "where source_file not like '%01b%' order by source_file, source_line"
        ).fetchall()
        duplicates_of_copy = connection.execute(
            "select count(*) from quarantine.rejected_rows where source_file like '%01b%' "
            "and rejection_reason like 'duplicate scheduled flight: same key as %2013-01.csv.gz line %'"
        ).fetchall()[0][0]
    assert rejected == [
        ("flights/2013/flights_2013-01.csv.gz", 11, "impossible date 2013-2-30"),
        (
            "flights/2013/flights_2013-01.csv.gz",
            21,
            "unparseable dep_delay: 'abc' is not a valid integer; "
            "dep_time and dep_delay disagree on whether the flight left",
        ),
        (
            "flights/2013/flights_2013-01.csv.gz",
            502,
            "duplicate scheduled flight: same key as flights/2013/flights_2013-01.csv.gz line 2",
        ),
        ("weather/2013/weather_2013-01.jsonl", 5, "line is not a JSON object"),
        ("weather/2013/weather_2013-01.jsonl", 7, "unparseable wind_speed: 'calm' is not a valid double"),
    ]
    # Every row of the second copy collides; the ones already quarantined in the first copy
    # (bad date, bad delay) are quarantined for those reasons instead.
    assert duplicates_of_copy == 501 - 2


def test_defective_landing_zone_still_reconciles(broken_raw: Path, broken_warehouse: Path) -> None:
    with duckdb.connect(str(broken_warehouse), read_only=True) as connection:
        assert_reconciles(broken_raw, connection)


def _small_landing_zone(root: Path, flights_header: list[str], rows: list[list[str]]) -> Path:
    """Reference tables, one weather file and one flights file written with the given columns."""
    raw = root / "raw"
    for table in ("planes", "airports", "airlines"):
        (raw / table).mkdir(parents=True)
        shutil.copy(paths().raw / table / f"{table}.csv", raw / table)
    (raw / "weather/2013").mkdir(parents=True)
    weather = (paths().raw / "weather/2013/weather_2013-01.jsonl").read_text().splitlines()[:50]
    (raw / "weather/2013/weather_2013-01.jsonl").write_text("\n".join(weather) + "\n")
    (raw / "flights/2013").mkdir(parents=True)
    with gzip.open(raw / "flights/2013/flights_2013-01.csv.gz", "wt") as handle:
        handle.write("\n".join(",".join(row) for row in [flights_header, *rows]) + "\n")
    return raw


def _bundled_january(limit: int) -> tuple[list[str], list[list[str]]]:
    with gzip.open(paths().raw / "flights/2013/flights_2013-01.csv.gz", "rt") as handle:
        header, *rows = handle.read().splitlines()[: limit + 1]
    return header.split(","), [row.split(",") for row in rows]


def test_a_month_file_with_its_columns_in_another_order_reads_by_name(tmp_path: Path) -> None:
    header, rows = _bundled_january(100)
    order = list(reversed(range(len(header))))
    raw = _small_landing_zone(tmp_path, [header[i] for i in order], [[row[i] for i in order] for row in rows])
    with duckdb.connect(str(_build(raw, "+stg_nycflights__flights")), read_only=True) as connection:
        staged = connection.execute(
            "select carrier_code, flight_number, dep_delay_minutes from stg_nycflights__flights "
            "order by source_line"
        ).fetchall()
    at = {name: header.index(name) for name in ("carrier", "flight", "dep_delay")}
    expected = [
        (
            row[at["carrier"]],
            int(row[at["flight"]]),
            None if row[at["dep_delay"]] == "NA" else int(row[at["dep_delay"]]),
        )
        for row in rows
    ]
    assert staged == expected


def test_a_month_file_missing_a_column_stops_the_build_naming_file_and_column(tmp_path: Path) -> None:
    header, rows = _bundled_january(100)
    dropped = header.index("arr_delay")
    raw = _small_landing_zone(
        tmp_path,
        header[:dropped] + header[dropped + 1 :],
        [row[:dropped] + row[dropped + 1 :] for row in rows],
    )
    # A second month keeps every column, so the glob's schema has arr_delay.
    with gzip.open(paths().raw / "flights/2013/flights_2013-02.csv.gz", "rt") as handle:
        february = handle.read().splitlines()[:20]
    with gzip.open(raw / "flights/2013/flights_2013-00.csv.gz", "wt") as handle:
        handle.write("\n".join(february) + "\n")
    with pytest.raises(DbtError, match=r"(?s)flights_2013-01\.csv\.gz.*arr_delay"):
        _build(raw, "+stg_nycflights__flights")
