"""One run at a time per data folder, each building in a folder of its own.

A run holds an exclusive `flock` on `data/.run.lock` (its PID written inside) from its start to
its end: a second run refuses at once, naming the first one's PID, or waits for it (`lakehouse run
--wait`). The lock goes with the process, so a killed run never leaves it held.

Each run builds in `data/build/<run id>/`: no run deletes, writes or publishes another's build
(dbt reaches it through `data/build/active`, the same path on every run, gone when the run ends). A
run that does not publish leaves its build there and points `data/build/latest` at it (what
`lakehouse query --build` and `lakehouse validate` read); a run that publishes moves its build
out and removes `latest`. `latest` never names a build being written: a reader would block its
writer. A run starting keeps the newest `KEPT_BUILDS - 1` builds beside its own."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lakehouse.common.progress import Progress, quiet
from lakehouse.config import KEPT_BUILDS, Build, Paths
from lakehouse.quality.gate import RUN_ID

# The one build of the layout before per-run folders, removed by the first run that finds it.
_OLD_LAYOUT = ("warehouse.duckdb", "warehouse.duckdb.wal", "lake")


class RunInProgressError(RuntimeError):
    """Another run is using the data folder; the message names its PID."""


class DataFolderError(RuntimeError):
    """The data folder cannot be written (read-only, full, not a folder)."""


def _holder(lock: Path) -> str:
    return lock.read_text().strip() or "unknown"


@contextmanager
def run_lock(p: Paths, wait: bool = False, waiting: Progress = quiet) -> Iterator[None]:
    """Hold the data folder's run lock for the block: raise RunInProgressError when another run holds it,
    or with `wait` say so through `waiting` and wait for it."""
    try:
        p.run_lock.parent.mkdir(parents=True, exist_ok=True)
        # Append mode does not truncate: the holder's PID stays readable until this process holds it.
        lock = open(p.run_lock, "a")  # noqa: SIM115 (closed by the block below)
    except OSError as error:
        raise DataFolderError(
            f"cannot write in the data folder {p.run_lock.parent}: {error.strerror or error}"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = f"another lakehouse run (PID {_holder(p.run_lock)}) is using {p.warehouse.parent}"
            if not wait:
                raise RunInProgressError(f"{other}: wait for it to end, or run with --wait") from None
            waiting(f"{other}: waiting for it to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


def builds_to_remove(folders: dict[str, int], keep: int) -> list[str]:
    """The run folders beyond the newest `keep`, given each folder's name and modification time
    (ns). A run id names its start to the second; within a second, the later folder is newer."""
    runs = sorted((name[:16], mtime, name) for name, mtime in folders.items() if RUN_ID.fullmatch(name))
    return [name for _, _, name in runs[: max(len(runs) - keep, 0)]]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def start_build(p: Paths, build: Build, keep: int = KEPT_BUILDS) -> None:
    """Make the run's own build folder, after removing the oldest builds beyond `keep` with it."""
    p.builds.mkdir(parents=True, exist_ok=True)
    folders = {e.name: e.lstat().st_mtime_ns for e in p.builds.iterdir()}
    for name in [*builds_to_remove(folders, keep - 1), *_OLD_LAYOUT]:
        _remove(p.builds / name)
    if p.latest_build.is_symlink() and not p.latest_build.exists():
        p.latest_build.unlink()
    build.folder.mkdir()
    _symlink(p.active_build.folder, build.folder.name)


def _symlink(path: Path, target: str) -> None:
    """Make `path` a symlink to `target` in one rename."""
    staged = path.with_name(f".{path.name}.link")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target)
    os.replace(staged, path)


def keep_build(p: Paths, build: Build) -> Path | None:
    """After a run that did not publish: `latest` names its build, kept for inspection; a run
    that wrote no warehouse leaves no folder (and no `latest`). Returns the build kept."""
    p.active_build.folder.unlink(missing_ok=True)
    if build.warehouse.exists():
        _symlink(p.latest_build, build.folder.name)
        return build.folder
    drop_build(p, build)
    return None


def drop_build(p: Paths, build: Build) -> None:
    """After a publish (the build moved out) or a run that built nothing: its folder goes, and
    `latest` with it (no build awaits publishing)."""
    if build.folder.exists():
        shutil.rmtree(build.folder)
    p.latest_build.unlink(missing_ok=True)
    p.active_build.folder.unlink(missing_ok=True)
