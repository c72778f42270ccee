"""The served log: past days' JSON Lines files become Parquet, and every reader finds each answer
once whichever form it is in."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from lakehouse.serving.log import (
    SERVED_SCHEMA,
    compact_served,
    load_rejected_into,
    load_served_into,
    logged_pushes,
    served_files,
    served_versions,
)

TODAY = date(2026, 3, 10)


def _answer(request: str, model: str, feed: str | None = None) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(SERVED_SCHEMA)
    row.update(
        request_id=request,
        served_at="2026-03-01T10:00:00+00:00",
        flight_id=f"flight-{request}",
        decision_at_utc="2013-06-01T10:00:00",
        horizon_minutes=120,
        classification_model_id=model,
        probability_late=0.25,
        source="feed" if feed else "request",
        feed_id=feed,
    )
    return row


def _write(directory: Path, name: str, rows: list[dict[str, object]], cut: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (directory / name).write_text(text + ('{"request_id": "cut' if cut else ""), encoding="utf-8")


def _table(warehouse: Path, directory: Path) -> list[tuple[object, ...]]:
    load_served_into(warehouse, directory)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute("select * from ml.served_predictions order by request_id").fetchall()


def test_days_before_yesterday_become_parquet_and_every_answer_stays(tmp_path: Path) -> None:
    served = tmp_path / "served"
    _write(served, "served-20260301-11.jsonl", [_answer("a", "m1"), _answer("b", "m1", "feed-1")], cut=True)
    _write(served, "served-20260301-12.jsonl", [_answer("c", "m2")])
    _write(served, "served-20260309-11.jsonl", [_answer("d", "m3")])  # yesterday: may still grow
    _write(served, "served-20260310-11.jsonl", [_answer("e", "m3", "feed-1")])
    before = _table(tmp_path / "before.duckdb", served)
    assert [row[0] for row in before] == ["a", "b", "c", "d", "e"]  # the cut line skipped

    written = compact_served(served, TODAY)

    assert sorted(path.name for path in written) == [
        "served-20260301-11.parquet",
        "served-20260301-12.parquet",
    ]
    assert sorted(path.name for path in served.iterdir()) == [
        "served-20260301-11.parquet",
        "served-20260301-12.parquet",
        "served-20260309-11.jsonl",
        "served-20260310-11.jsonl",
    ]
    assert _table(tmp_path / "after.duckdb", served) == before
    assert served_versions(served) == {"m1", "m2", "m3"}
    assert logged_pushes(served, "feed-1") == {("flight-b", 120), ("flight-e", 120)}
    assert compact_served(served, TODAY) == []  # nothing left to convert


def test_a_file_converted_by_a_run_stopped_before_removing_it_is_read_once(tmp_path: Path) -> None:
    served = tmp_path / "served"
    _write(served, "served-20260301-11.jsonl", [_answer("a", "m1")])
    compact_served(served, TODAY)
    _write(served, "served-20260301-11.jsonl", [_answer("a", "m1")])  # as if never removed
    assert served_files(served) == ([served / "served-20260301-11.parquet"], [])
    assert [row[0] for row in _table(tmp_path / "w.duckdb", served)] == ["a"]
    compact_served(served, TODAY)
    assert [path.name for path in served.iterdir()] == ["served-20260301-11.parquet"]


def test_no_served_files_load_an_empty_table_with_its_columns(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    assert load_served_into(warehouse, tmp_path / "none") == 0
    assert compact_served(tmp_path / "none", TODAY) == []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = connection.execute("describe ml.served_predictions").fetchall()
    assert [(name, kind) for name, kind, *_ in columns] == [
        (name, kind.upper()) for name, kind in SERVED_SCHEMA.items()
    ]


def test_a_refusal_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    refusal = {"received_at": "2026-03-01T10:00:00+00:00", "feed_id": "feed-1", "reason_kind": "late"}
    _write(tmp_path / "live" / "feed-1", "rejected.jsonl", [refusal], cut=True)
    assert load_rejected_into(tmp_path / "w.duckdb", tmp_path / "live") == 1
