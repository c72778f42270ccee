"""Files that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl


class DamagedFileError(RuntimeError):
    """A file the project wrote whole cannot be read back: damaged on disk, or replaced by hand."""


def first_line(error: BaseException) -> str:
    """An error's message in one line (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_parquet(path: Path, remedy: str, **options: Any) -> pl.DataFrame:
    """`pl.read_parquet(path, **options)`; a file that is not readable Parquet raises
    `DamagedFileError` naming it, what is wrong and what to do (`remedy`)."""
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing or not a file: {remedy}")
    try:
        # not a pattern: a folder named `[x]` is a folder
        return pl.read_parquet(path, glob=False, **options)
    except pl.exceptions.PolarsError as error:
        raise DamagedFileError(f"{path} cannot be read as Parquet ({first_line(error)}): {remedy}") from error


def check_parquet(path: Path, remedy: str) -> None:
    """That `path` is a Parquet file whose footer reads (a file cut short has none): else
    `DamagedFileError` as `read_parquet`'s."""
    if not path.is_file():
        raise DamagedFileError(f"{path} is missing or not a file: {remedy}")
    try:
        pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DamagedFileError(f"{path} cannot be read as Parquet ({first_line(error)}): {remedy}") from error


def write_parquet_atomically(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` through a temporary name in the same folder, then rename: a crash
    leaves the old file (or none), never part of a new one. The temporary name does not end in
    `.parquet`, so a glob of the folder's Parquet files never sees it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial")
    # zstd's fastest level: twice as fast as polars' default level here, and no larger
    frame.write_parquet(partial, compression="zstd", compression_level=1)
    os.replace(partial, path)
    return path
