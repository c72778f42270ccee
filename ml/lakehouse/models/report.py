"""The training report: PNG plots and one HTML page per training run (no network needed)."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from sklearn import metrics

from lakehouse.common.html import page, table, titled_table
from lakehouse.config import Tuned
from lakehouse.models.metrics import calibration
from lakehouse.models.tasks import LABEL
from lakehouse.models.train import TaskResult


def _save(figure: Any, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path.name


def classification_plots(
    result: TaskResult, y_validation: np.ndarray, y_test: np.ndarray, folder: Path
) -> list[str]:
    names = []
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for run in result.models:
        fpr, tpr, _ = metrics.roc_curve(y_test, run.predictions["test"])
        axis.plot(fpr, tpr, label=f"{run.name} ({run.metrics['test']['roc_auc']:.3f})")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, December (test)")
    axis.legend(fontsize=8)
    names.append(_save(figure, folder / "roc.png"))

    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for run in result.models:
        label = f"{run.name} ({run.metrics['test']['pr_auc']:.3f})"
        if np.ptp(run.predictions["test"]) == 0:
            # a constant score has one operating point: precision is the base rate at any recall
            axis.axhline(y_test.mean(), linestyle="--", color="grey", label=label)
            continue
        precision, recall, _ = metrics.precision_recall_curve(y_test, run.predictions["test"])
        axis.step(recall, precision, where="post", label=label)
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, December (test)", ylim=(0, 1.02))
    axis.legend(fontsize=8)
    names.append(_save(figure, folder / "pr.png"))

    final = result.final
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for split, y in (("validation", y_validation), ("test", y_test)):
        curve = calibration(y, final.predictions[split])
        axis.plot(curve.predicted, curve.observed, "o-", label=f"{split} (observed {y.mean():.1%} delayed)")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(
        xlabel="mean predicted probability",
        ylabel="observed delayed share",
        title=f"Calibration, {final.name}",
    )
    axis.legend(fontsize=8)
    names.append(_save(figure, folder / "calibration.png"))

    figure, axis = plt.subplots(figsize=(4.5, 4))
    predicted = (final.predictions["test"] >= final.threshold).astype(int)
    matrix = metrics.confusion_matrix(y_test.astype(int), predicted)
    axis.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        # white on the dark cells, black on the light ones
        color = "white" if count > matrix.max() / 2 else "black"
        axis.text(j, i, f"{count:,}", ha="center", va="center", color=color)
    axis.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["on time", "late"],
        yticklabels=["on time", "late"],
        xlabel="predicted",
        ylabel="actual",
        title=f"Confusion, threshold {final.threshold:.2f}",
    )
    names.append(_save(figure, folder / "confusion.png"))
    return names


def regression_plots(result: TaskResult, y_test: np.ndarray, folder: Path) -> list[str]:
    final = result.final
    predicted = final.predictions["test"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hexbin(predicted, y_test, gridsize=60, bins="log", cmap="viridis", extent=(-60, 240, -90, 400))
    left.plot([-60, 240], [-60, 240], ":", color="white")
    left.set(xlabel="predicted arrival delay (min)", ylabel="actual (min)", title="December (test)")
    right.hist(y_test - predicted, bins=np.arange(-150, 400, 10), color="#2b6cb0")
    right.set(xlabel="residual: actual - predicted (min)", ylabel="flights", title="Residuals")
    return [_save(figure, folder / "residuals.png")]


def bar_plot(values: dict[str, float], title: str, xlabel: str, path: Path, top: int = 25) -> str:
    """The `top` largest values as horizontal bars, largest first, each labelled in full."""
    largest = sorted(values.items(), key=lambda kv: kv[1], reverse=True)[:top]
    figure, axis = plt.subplots(figsize=(7, 0.28 * len(largest) + 1.2))
    axis.barh([n for n, _ in reversed(largest)], [v for _, v in reversed(largest)], color="#2b6cb0")
    axis.set(title=title, xlabel=xlabel)
    axis.tick_params(axis="y", labelsize=9)
    return _save(figure, path)


def write_report(
    folder: Path,
    run_id: str,
    horizon_minutes: int,
    results: list[TaskResult],
    frames: dict[str, dict[str, pl.DataFrame]],
    sections: dict[str, str],
    tuning: dict[str, Tuned],
) -> Path:
    """index.html with the side-by-side tables and the plots; `sections` adds per-task HTML."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>Training run {escape(run_id)}</h1>",
        f"<p class='note'>Decision time T = scheduled departure - {horizon_minutes} minutes. Each model is "
        "fitted on January-September and chosen on October-November (early stopping, threshold, champion): "
        "the validation tables. Then the same recipe is refitted on January-November (LightGBM's rounds "
        "scaled to the larger set), the model that scores, and tested once on December: the test tables. "
        "December is harder than autumn (about 30% delayed against 15%): compare <em>positive_rate</em> "
        "and <em>mean_predicted</em> for calibration in the large.</p>",
        backtest_placeholder(),
    ]
    for result in results:
        task = result.task
        y_validation, y_test = (
            frames[task][split][LABEL[task]].cast(pl.Float64).to_numpy() for split in ("validation", "test")
        )
        columns = (
            [
                "model",
                "roc_auc",
                "pr_auc",
                "log_loss",
                "brier",
                "brier_skill",
                "accuracy",
                "precision",
                "recall",
                "f1",
                "threshold",
                "positive_rate",
                "mean_predicted",
            ]
            if task == "classification"
            else ["model", "rmse", "mae", "mse", "r2", "mean_actual", "mean_predicted"]
        )
        parts.append(f"<h2>{task}: models side by side</h2>")
        for split in ("validation", "test"):
            rows = [{"model": run.name, **run.metrics[split]} for run in result.models]
            parts.append(f"<h3>{split}</h3>" + table(rows, columns))
        plots = (
            classification_plots(result, y_validation, y_test, folder)
            if task == "classification"
            else regression_plots(result, y_test, folder)
        )
        plots.append(
            bar_plot(
                result.importance_gain,
                f"LightGBM gain, {result.final.name}",
                "total gain",
                folder / f"importance_{task}.png",
            )
        )
        parts.append(
            "<div class='grid'>" + "".join(f"<img src='{name}' alt='{name}'>" for name in plots) + "</div>"
        )
        parts.append(sections.get(task, ""))
        parts.append(_tuning_section(tuning[task]))
    path = folder / "index.html"
    path.write_text(page(f"Training {run_id}", "".join(parts)))
    return path


def _tuning_section(tuned: Tuned) -> str:
    """What the final model's parameters and features come from (`lakehouse tune`)."""
    search = [{"setting": key, "value": value} for key, value in tuned.search.items()]
    params = [{"parameter": key, "value": value} for key, value in tuned.params.items()]
    return (
        titled_table(
            "Tuned parameters",
            params,
            ["parameter", "value"],
            "Chosen by `lakehouse tune` (the reviewed tuned_params.yml); the search that found them below.",
        )
        + table(search, ["setting", "value"])
        + "<p class='note'>Features dropped by the selection: "
        + f"{escape(', '.join(tuned.dropped_features) or 'none')}.</p>"
    )


BACKTEST_SECTION = re.compile(r"<!-- backtest -->.*?<!-- /backtest -->", re.S)


def backtest_placeholder() -> str:
    """The place a training report keeps for the backtest of its procedure."""
    return (
        "<!-- backtest --><h2>Rolling backtest</h2><p class='note'>No backtest of this procedure (code, "
        "settings, tuned parameters and data) yet: <span class='mono'>lakehouse backtest</span> runs it "
        "and fills this section in.</p><!-- /backtest -->"
    )


def fill_backtest(report: Path, section: str) -> None:
    """Put a backtest's section into a training report, in place of the one it has."""
    if report.exists():
        text = report.read_text()
        report.write_text(BACKTEST_SECTION.sub(lambda _: section, text, count=1))
