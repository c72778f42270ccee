"""The service's watcher of published versions: a version that fails to load is tried again less
and less often, an error goes once what failed is no longer published, and each state loaded is
told to its listener (the live feed resumes on it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lakehouse.config import RELOAD_RETRY_MAX_SECONDS, paths
from lakehouse.serving import state as serving_state
from lakehouse.serving.state import StateHolder


def _publish(data: Path, version: str) -> None:
    folder = data / "published" / version
    folder.mkdir(parents=True, exist_ok=True)
    link = data / "current"
    link.unlink(missing_ok=True)
    link.symlink_to(folder)


def test_a_broken_version_is_tried_again_less_often_and_a_good_one_is_loaded_and_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    tries: list[str] = []
    broken = {"v2"}

    def load_state(p: Any) -> Any:
        version = p.current.resolve().name
        tries.append(version)
        if version in broken:
            raise RuntimeError(f"{version} is broken")
        return SimpleNamespace(version=version)

    monkeypatch.setattr(serving_state, "load_state", load_state)
    told: list[str] = []
    holder = StateHolder(paths(), on_loaded=lambda state: told.append(state.version))

    _publish(tmp_path, "v1")
    holder.refresh(now=0)
    assert (tries, told, holder.error) == (["v1"], ["v1"], None)

    _publish(tmp_path, "v2")
    for now in range(0, 30):
        holder.refresh(now=now)
    # tried at 0, then 4 s later, then 8 s after that: 0, 4, 12, 28
    assert tries == ["v1", "v2", "v2", "v2", "v2"]
    assert getattr(holder.state, "version", None) == "v1"
    assert "v2 is broken" in (holder.error or "")
    assert "again in 32 s" in (holder.error or "")

    for now in range(30, 5000, 2):  # the wait stops growing at its maximum
        holder.refresh(now=now)
    assert f"again in {RELOAD_RETRY_MAX_SECONDS:.0f} s" in (holder.error or "")
    assert len(tries) < 5 + 5000 / RELOAD_RETRY_MAX_SECONDS + 5

    _publish(tmp_path, "v1")  # the broken version withdrawn: its error goes
    holder.refresh(now=5000)
    assert holder.error is None

    _publish(tmp_path, "v3")  # a new version is tried at once
    holder.refresh(now=5001)
    assert (tries[-1], told, holder.error) == ("v3", ["v1", "v3"], None)


@pytest.mark.parametrize(("sent", "status"), [("clé".encode(), 503), (b"cle", 401)])
def test_a_key_beyond_ascii_is_accepted_as_its_utf8_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: bytes, status: int
) -> None:
    """A header's bytes are decoded as latin-1 by the server: the key is compared as bytes (503:
    past the key, nothing published)."""
    import httpx

    from lakehouse.serving.app import create_app

    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    app = create_app(paths(), api_key="clé")

    async def statuses() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            header = await client.get("/models", headers={"X-API-Key": sent})  # type: ignore[dict-item]
            query = await client.get("/board", params={"key": "clé"})
        return header.status_code, query.status_code

    assert asyncio.run(statuses()) == (status, 200)
