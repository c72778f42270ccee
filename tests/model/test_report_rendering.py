"""The training report of a small synthetic run, rendered by headless Chromium: the page and its
plots load offline, and the plots draw what they should."""

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from conftest import chromium_screenshot
from lakehouse.config import TrainingConfig, Tuned
from lakehouse.models.boosting import base_params
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.report import write_report
from lakehouse.models.split import task_splits
from lakehouse.models.train import TaskResult, constant_run, lightgbm_run, make_preprocessor


def _frame(rows: int = 3000) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    data: dict[str, object] = {
        name: rng.normal(size=rows) for name in FEATURES.all if name not in FEATURES.categorical
    }
    for name, values in (("carrier", ["UA", "AA"]), ("origin", ["EWR", "JFK"]), ("dest", ["ORD", "ATL"])):
        data[name] = rng.choice(values, rows)
    data["manufacturer"] = ["BOEING"] * rows
    data["is_delayed"] = 1.5 * np.asarray(data["origin_mean_delay_60m"]) + rng.normal(size=rows) > 1.0
    data["scheduled_departure_date"] = [date(2013, 1 + i % 12, 1 + i % 28) for i in range(rows)]
    data["flight_id"] = [f"f{i}" for i in range(rows)]
    return pl.DataFrame(data)


def test_the_training_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    config = TrainingConfig()
    splits = task_splits(_frame(), config, "classification")
    pre = make_preprocessor(splits["train"], [])
    prior = constant_run("classification", splits, pre, pre)
    final = lightgbm_run(
        "lightgbm", "classification", splits, list(FEATURES.all), base_params("classification", config)
    )
    gain = dict(zip(final.pre.tree_features, final.model.feature_importance("gain").tolist(), strict=True))
    result = TaskResult("classification", [prior, final], float(prior.model), float(prior.refit), gain)
    report = write_report(
        tmp_path / "report",
        "20260101T000000Z",
        120,
        [result],
        {"classification": splits},
        {},
        {"classification": Tuned({}, (), {"trials": 1})},
    )
    screenshot = tmp_path / "report.png"
    chromium_screenshot(report, screenshot, 1200, 2400)
    image = Image.open(screenshot).convert("RGB")
    colors = dict((rgb, count) for count, rgb in image.getcolors(maxcolors=10_000_000) or [])
    # the plots are drawn: matplotlib's first two colours (the prior's line, LightGBM's curve) and
    # the importance bars' blue, each in many pixels
    for rgb in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2B, 0x6C, 0xB0)):
        assert colors.get(rgb, 0) > 200, rgb
