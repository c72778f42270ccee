"""The training report: PNG plots and one HTML page per training run (no network needed)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from sklearn import metrics

from lakehouse.common.html import page, table
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
        precision, recall, _ = metrics.precision_recall_curve(y_test, run.predictions["test"])
        axis.plot(recall, precision, label=f"{run.name} ({run.metrics['test']['pr_auc']:.3f})")
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, December (test)")
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
        axis.text(j, i, f"{count:,}", ha="center", va="center", color="black")
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


def importance_plot(result: TaskResult, folder: Path) -> str:
    top = sorted(result.importance_gain.items(), key=lambda kv: kv[1], reverse=True)[:25]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 6))
    left.barh([n for n, _ in reversed(top)], [v for _, v in reversed(top)], color="#2b6cb0")
    left.set(title="LightGBM gain (all features)", xlabel="total gain")
    permutation = sorted(result.importance_permutation.items(), key=lambda kv: kv[1], reverse=True)[:25]
    right.barh([n for n, _ in reversed(permutation)], [v for _, v in reversed(permutation)], color="#2f855a")
    right.set(title="Permutation on validation", xlabel="metric lost when shuffled")
    for axis in (left, right):
        axis.tick_params(axis="y", labelsize=7)
    return _save(figure, folder / f"importance_{result.task}.png")


def write_report(
    folder: Path,
    run_id: str,
    horizon_minutes: int,
    results: list[TaskResult],
    frames: dict[str, dict[str, pl.DataFrame]],
    sections: dict[str, str],
) -> Path:
    """index.html with the side-by-side tables and the plots; `sections` adds per-task HTML."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>Training run {escape(run_id)}</h1>",
        f"<p class='note'>Decision time T = scheduled departure - {horizon_minutes} minutes. Fit on January-"
        "September, chosen on October-November (early stopping, tuning, threshold, feature selection), "
        "tested once on December. December is harder than autumn (about 30% delayed against 15%): compare "
        "<em>positive_rate</em> and <em>mean_predicted</em> for calibration in the large.</p>",
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
        plots.append(importance_plot(result, folder))
        parts.append(
            "<div class='grid'>" + "".join(f"<img src='{name}' alt='{name}'>" for name in plots) + "</div>"
        )
        parts.append(sections.get(task, ""))
        dropped = [{"feature": k, "permutation importance": v} for k, v in sorted(result.dropped.items())]
        parts.append(
            "<h3>Feature selection</h3><p class='note'>Features whose shuffling on validation did not "
            "worsen the validation metric were dropped and the model refitted; the selection is kept only "
            "if validation does not get worse.</p>"
            + (
                table(dropped, ["feature", "permutation importance"])
                if dropped
                else "<p>Nothing dropped.</p>"
            )
        )
        if result.trials:
            parts.append(
                "<h3>Tuning trials (mean over the expanding-window folds)</h3>"
                + table(result.trials, list(result.trials[0]))
            )
    path = folder / "index.html"
    path.write_text(page(f"Training {run_id}", "".join(parts)))
    return path
