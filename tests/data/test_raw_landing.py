"""The landing zone in the repository is exactly what `lakehouse land` makes from the package."""

import hashlib
from pathlib import Path

from lakehouse.config import paths
from lakehouse.platform.landing import count_data_rows, land


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_land_rebuilds_the_committed_raw_files_byte_for_byte(tmp_path: Path) -> None:
    written = land(tmp_path)
    committed = sorted(
        p.relative_to(paths().raw) for p in paths().raw.rglob("*") if p.is_file() and p.name != "README.md"
    )
    assert sorted(p.relative_to(tmp_path) for p in written) == committed
    for relative in committed:
        assert _digest(tmp_path / relative) == _digest(paths().raw / relative), relative


def test_landed_row_counts_match_the_published_tables() -> None:
    raw = paths().raw
    assert sum(count_data_rows(f) for f in raw.glob("flights/*/*.csv.gz")) == 336_776
    assert sum(count_data_rows(f) for f in raw.glob("weather/*/*.jsonl")) == 26_115
    assert count_data_rows(raw / "planes" / "planes.csv") == 3_322
    assert count_data_rows(raw / "airports" / "airports.csv") == 1_458
    assert count_data_rows(raw / "airlines" / "airlines.csv") == 16
