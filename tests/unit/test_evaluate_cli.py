"""`lakehouse evaluate` on a hand-made registry of two training runs: list, pick, compare."""

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from conftest import registry_entry
from lakehouse.cli import app
from lakehouse.models.registry import save_entries


def _run(registry: Path, run_id: str, auc: float, promoted: bool, horizon: int = 120) -> None:
    entry = dataclasses.replace(
        registry_entry(run_id, "classification", Path(f"runs/{run_id}/classification-120"), 0),
        model_id=f"{run_id}-classification-{horizon}",
        horizon_minutes=horizon,
        created_at=datetime(2026, 1, int(run_id[-1]), tzinfo=UTC),
        validation_value=auc,
        test_value=auc - 0.01,
        is_promoted=promoted,
        report_path=f"runs/{run_id}/report/index.html",
    )
    metrics = pl.DataFrame(
        [
            {
                "run_id": run_id,
                "task": "classification",
                "horizon_minutes": at,
                "model_name": model,
                "split": split,
                "segment_kind": "overall",
                "segment": "all",
                "metric": metric,
                "value": value,
            }
            for at, model, shift in (
                (horizon, "prior", -0.25),
                (horizon, "lightgbm", 0.0),
                # the final model alone at another horizon
                (horizon // 2, "lightgbm", 0.01),
            )
            for split in ("validation", "test")
            for metric, value in (("rows", 1000.0), ("roc_auc", auc + shift), ("log_loss", 0.5 - shift))
        ]
    )
    save_entries(registry, run_id, [entry], metrics)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_MODELS_DIR", str(tmp_path / "models"))
    registry = tmp_path / "models" / "registry"
    _run(registry, "20260101T000000Z-1", 0.75, promoted=True)
    _run(registry, "20260102T000000Z-2", 0.7501, promoted=False)
    return registry


def _evaluate(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *arguments], terminal_width=200)
    return result.exit_code, result.output


def test_evaluate_lists_the_runs(registry: Path) -> None:
    code, output = _evaluate("--list")
    assert code == 0
    assert "2 training runs" in output
    first, second = (line for line in output.splitlines() if "T000000Z" in line)
    assert "20260101T000000Z-1" in first
    assert "roc_auc 0.7500" in first
    assert "1 of 1" in first
    assert "20260102T000000Z-2" in second
    assert "roc_auc 0.7501" in second
    assert "0 of 1" in second


def test_evaluate_shows_the_latest_run_or_the_one_asked_for(registry: Path) -> None:
    code, output = _evaluate()
    assert code == 0
    assert "training run 20260102T000000Z-2" in output
    assert "0.7501" in output
    code, output = _evaluate("--run", "20260101T000000Z-1")
    assert code == 0
    assert "training run 20260101T000000Z-1" in output
    assert "0.7501" not in output
    # the champion is the promoted one, its report under this models folder
    assert f"report: {registry.parent / 'runs' / '20260101T000000Z-1' / 'report' / 'index.html'}" in output


def test_evaluate_compares_two_runs_side_by_side(registry: Path) -> None:
    code, output = _evaluate("--compare", "20260101T000000Z-1", "20260102T000000Z-2")
    assert code == 0
    assert "classification, validation: lightgbm at 120 min" in output
    roc = next(line for line in output.splitlines() if line.strip().startswith("roc_auc"))
    assert roc.split()[1:] == ["0.7500", "0.7501", "0.0001"]
    rows = next(line for line in output.splitlines() if line.strip().startswith("rows"))
    assert rows.split()[1:] == ["1,000", "1,000", "0"]


def test_evaluate_shows_a_run_at_the_horizon_it_was_trained_at(registry: Path) -> None:
    _run(registry, "20260103T000000Z-3", 0.74, promoted=False, horizon=46)
    code, output = _evaluate("--run", "20260103T000000Z-3")
    assert code == 0
    prior = next(line for line in output.splitlines() if line.strip().startswith("prior"))
    assert "0.4900" in prior  # 0.74 - 0.25, at 46 minutes
    lightgbm = [line for line in output.splitlines() if line.strip().startswith("lightgbm")]
    assert lightgbm
    assert all("0.7400" in line for line in lightgbm)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("--run", "nope"), "'nope'"),
        (("--compare", "20260101T000000Z-1", "nope"), "'nope'"),
        (("--run", ""), "''"),  # not taken for the latest
    ],
)
def test_evaluate_names_an_unknown_run_in_one_line(
    registry: Path, arguments: tuple[str, ...], named: str
) -> None:
    code, output = _evaluate(*arguments)
    assert code == 1
    assert output.strip() == f"no training run {named}: `lakehouse evaluate --list` lists the runs"


@pytest.mark.parametrize("kind", ["models", "metrics"])
@pytest.mark.parametrize("damage", [b"", b"not parquet at all", None])
def test_a_registry_file_that_cannot_be_read_is_named_in_one_line(
    registry: Path, kind: str, damage: bytes | None
) -> None:
    damaged = registry / f"20260101T000000Z-1.{kind}.parquet"
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[: len(whole) // 2] if damage is None else damage)
    code, output = _evaluate("--run", "20260101T000000Z-1")
    assert code == 1
    assert output.splitlines()[-1].startswith(f"{damaged} cannot be read as Parquet (")
    assert "restore it from a backup, or move both files of its run" in output
    assert "Traceback" not in output


def test_a_run_whose_metrics_file_is_gone_is_named_in_one_line(registry: Path) -> None:
    metrics = registry / "20260102T000000Z-2.metrics.parquet"
    metrics.unlink()
    code, output = _evaluate()
    assert code == 1
    assert output.splitlines()[-1].startswith(f"{metrics} is missing or not a file: restore it")


def test_a_registry_in_a_folder_named_like_a_pattern_is_read_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_MODELS_DIR", str(tmp_path / "models [2013]"))
    _run(tmp_path / "models [2013]" / "registry", "20260101T000000Z-1", 0.75, promoted=True)
    code, output = _evaluate("--list")
    assert code == 0, output
    assert "1 training run" in output
