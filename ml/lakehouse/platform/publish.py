"""Publishing: a checked build becomes the published warehouse and lake in one rename.

Publishing moves the build's warehouse and lake into a new folder `data/published/<version>/` and
switches the symlink `data/current` to it: a reader (or a crash) sees the old version or the new
one, never a warehouse from one build beside Parquet files of another. `data/warehouse.duckdb`
and `data/lake` are symlinks through `data/current`. The published file is never written in place
(a reader would block the write): a change is made on a copy, switched in the same way."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.config import Build, Paths


class PublishError(RuntimeError):
    """Nothing is published to change; the message says what to run first."""


@contextmanager
def publishing(p: Paths) -> Iterator[None]:
    """One publisher at a time (a build's publish, a training run's registry update)."""
    p.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with open(p.warehouse.parent / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def new_version_name() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"


def _new_version(p: Paths, name: str | None = None) -> Path:
    version = p.published_versions / (name or new_version_name())
    version.mkdir(parents=True)
    return version


def _symlink(path: Path, target: str) -> None:
    """Make `path` a symlink to `target` in one rename (replacing a file or a link)."""
    staged = path.with_name(f".{path.name}.link")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target)
    if path.is_dir() and not path.is_symlink():
        # A data folder from before versioned publishing: its lake moves aside, once.
        shutil.rmtree(path)
    os.replace(staged, path)


def _switch(p: Paths, version: Path) -> None:
    """Publish `version`: the one rename readers can observe, then the stable links and the
    cleanup. Keeps the previous version (a reader may still have it open)."""
    previous = p.current.resolve() if p.current.is_symlink() else None
    _symlink(p.current, str(version.relative_to(p.current.parent)))
    for path in (p.warehouse, p.lake):
        if not path.is_symlink():
            _symlink(path, f"{p.current.name}/{path.name}")
    for old in p.published_versions.iterdir():
        if old.resolve() not in {version.resolve(), previous}:
            shutil.rmtree(old)


def republish(p: Paths, update: Callable[[Path, Path], object]) -> None:
    """Change the published warehouse the only safe way: copy it and its lake into a new version,
    change the copy (`update(warehouse, lake)`), switch to it. Readers keep the file they opened;
    nobody waits for them. When `update` fails, nothing is published."""
    if not p.warehouse.exists():
        raise PublishError(f"no published warehouse at {p.warehouse}: run `make run` first")
    with publishing(p):
        version = _new_version(p)
        try:
            shutil.copyfile(p.warehouse, version / "warehouse.duckdb")
            shutil.copytree(p.lake, version / "lake")
            update(version / "warehouse.duckdb", version / "lake")
        except BaseException:
            shutil.rmtree(version)
            raise
        _switch(p, version)


def publish_build(p: Paths, build: Build, name: str | None = None) -> Path:
    """Move a run's audited build (its warehouse and lake) into a new version (`name`, or one
    named now) and switch to it. The pipeline passes its own run's build (`data/build/<run id>/`):
    no run can publish another's."""
    with publishing(p):
        version = _new_version(p, name)
        os.replace(build.warehouse, version / "warehouse.duckdb")
        os.replace(build.lake, version / "lake")
        _switch(p, version)
    return version
