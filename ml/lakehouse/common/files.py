"""Files that appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl


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
