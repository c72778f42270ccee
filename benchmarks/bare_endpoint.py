"""The floor of the serving benchmark: FastAPI on uvicorn calling the classification champion's
booster on one fixed row, nothing else (no validation, no features, no log)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi import FastAPI

from lakehouse.config import paths
from lakehouse.models.registry import current_champion, load_model

_entry = current_champion(paths().model_registry, "classification", 120)
assert _entry is not None, "run `make run` first"
_model = load_model(Path(_entry.artifact_dir))
_row = np.zeros((1, len(_model.pre.tree_features)))

app = FastAPI()


@app.post("/predict")
def predict() -> dict[str, float]:
    booster = _model.booster
    return {
        "probability_late": float(
            booster.predict(_row, num_iteration=booster.best_iteration, num_threads=1)[0]
        )
    }
