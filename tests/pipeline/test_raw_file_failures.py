"""Every raw file that cannot be read stops the run in its first step with the file and the cause
named, recorded as a critical `raw_files` check (history and report), like any failed check: a
gzip month cut short or corrupt, a file that is not gzip, not UTF-8, a binary JSON Lines file, a
CSV row with more or fewer fields than its header, a blank line between rows, a path that cannot be
read. On a copy of the bundled landing zone (no dbt runs)."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from conftest import run_quietly
from lakehouse.config import paths
from lakehouse.platform.pipeline import PipelineError

JANUARY = "flights/2013/flights_2013-01.csv.gz"
MARCH_WEATHER = "weather/2013/weather_2013-03.jsonl"


def cut_in_half(raw: Path) -> None:
    path = raw / JANUARY
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_gzip(raw: Path) -> None:
    path = raw / JANUARY
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(200) + data[300:])


def not_gzip(raw: Path) -> None:
    path = raw / JANUARY
    path.write_bytes(gzip.decompress(path.read_bytes()))


def latin_1(raw: Path) -> None:
    """A Latin-1 export: the é of a manufacturer's name is one byte, 0xe9, on line 3."""
    path = raw / "planes/planes.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b",", "é,".encode("latin-1"), 1)
    path.write_bytes(b"\n".join(lines))


def gzip_as_jsonl(raw: Path) -> None:
    path = raw / MARCH_WEATHER
    path.write_bytes(gzip.compress(path.read_bytes(), mtime=0))


def nul_bytes_in_jsonl(raw: Path) -> None:
    """Binary that decodes as UTF-8: a file of NUL bytes."""
    (raw / MARCH_WEATHER).write_bytes(bytes(4096))


def _rewrite_january(raw: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    path = raw / JANUARY
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    path.write_bytes(gzip.compress(b"\n".join(change(lines)), mtime=0))


def extra_field(raw: Path) -> None:
    """Line 100 (a data row) with one field more than the header."""
    _rewrite_january(raw, lambda lines: [*lines[:99], lines[99] + b",EXTRA", *lines[100:]])


def cut_mid_line(raw: Path) -> None:
    """A whole gzip of a file cut in the middle of line 1,000."""
    _rewrite_january(raw, lambda lines: [*lines[:999], lines[999][:20]])


def blank_line(raw: Path) -> None:
    """An empty line after line 100."""
    _rewrite_january(raw, lambda lines: [*lines[:100], b"", *lines[100:]])


def unreadable(raw: Path) -> None:
    """A path the files' pattern matches that cannot be read as a file."""
    (raw / "flights/2013/flights_2013-13.csv.gz").mkdir()


# how the landing zone is broken: (the file named, words of the cause)
BROKEN = {
    "gzip cut in half": (
        cut_in_half,
        JANUARY,
        "corrupt gzip: Compressed file ended before the end-of-stream marker",
    ),
    "corrupt gzip": (corrupt_gzip, JANUARY, "corrupt gzip: Error -3 while decompressing data"),
    "not gzip": (not_gzip, JANUARY, "not gzip: Not a gzipped file (b'ye')"),
    "not UTF-8": (latin_1, "planes/planes.csv", "not UTF-8: byte 0xe9 on line 3"),
    "binary JSON Lines": (gzip_as_jsonl, MARCH_WEATHER, "binary, not text: a NUL byte on line 1"),
    "NUL bytes": (nul_bytes_in_jsonl, MARCH_WEATHER, "binary, not text: a NUL byte on line 1"),
    "unreadable": (unreadable, "flights/2013/flights_2013-13.csv.gz", "unreadable: Is a directory"),
    "a row with an extra field": (extra_field, JANUARY, "not a table: line 100 has 20 fields, the header 19"),
    "cut mid-line": (cut_mid_line, JANUARY, "not a table: line 1000 has 7 fields, the header 19"),
    "a blank line": (blank_line, JANUARY, "not a table: line 101 is blank, between rows"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_raw_file_that_cannot_be_read_is_named_recorded_and_reported(case: str, tmp_path: Path) -> None:
    breaks, file, cause = BROKEN[case]
    raw = shutil.copytree(paths().raw, tmp_path / "raw")
    breaks(raw)
    data = tmp_path / "data"

    with pytest.raises(PipelineError) as stopped:
        run_quietly(data, raw)

    message = str(stopped.value)
    assert message.startswith("step 'raw files' failed: 1 critical expectation(s) failed:"), message
    assert f'"{file}": "{cause}' in message
    (failed,) = (
        pl.read_parquet(data / "quality/validation_results/*.parquet").filter(~pl.col("success")).to_dicts()
    )
    assert (failed["suite"], failed["expectation"], failed["severity"]) == (
        "raw_files",
        "files can be read",
        "critical",
    )
    assert file in failed["observed_value"]
    assert cause in failed["observed_value"]
    (record,) = pl.read_parquet(data / "quality/pipeline_runs/*.parquet").to_dicts()
    assert (record["outcome"], record["step"]) == ("refused", "raw files")
    (report,) = (data / "quality/reports").glob("2*.html")
    assert file in report.read_text()
    # nothing was built
    assert not (data / "build" / "latest").exists()
