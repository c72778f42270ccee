"""The service under test: `lakehouse serve` in a child process on loopback, on a copy of the
session's published data folder."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lakehouse.platform.pipeline import PipelineRun

KEY = "test-key"
LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    data: Path
    port: int
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = {"X-API-Key": KEY, "Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, payload, sent)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        return response.status, json.loads(text) if text.startswith(("{", "[")) else text

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def server_environment(data: Path) -> dict[str, str]:
    return {**os.environ, "LAKEHOUSE_DATA_DIR": str(data), "LAKEHOUSE_API_KEY": KEY}


def copy_published(pipeline_run: PipelineRun, folder: Path) -> Path:
    """A copy of the session's data folder (without builds and locks) under `folder`."""
    data = folder / "data"
    source = pipeline_run.paths.warehouse.parent
    shutil.copytree(source, data, symlinks=True, ignore=shutil.ignore_patterns("build", "*.lock"))
    return data


def start_server(data: Path, port: int) -> Server:
    """`lakehouse serve` on `data`, once it answers /health ready."""
    process = subprocess.Popen(
        [LAKEHOUSE, "serve", "--port", str(port)],
        env=server_environment(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Server(data, port, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, health = running.call("GET", "/health")
            if status == 200 and health["ready"]:
                return running
        except OSError:
            pass
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.5)
    process.kill()
    pytest.fail("the service did not become ready")
