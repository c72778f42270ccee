"""A model's predictions for feature rows: the one function training, evaluation, batch scoring
and any caller use."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression, Ridge

from lakehouse.models.preprocess import Preprocessor


def predict(model: Any, pre: Preprocessor, frame: pl.DataFrame) -> np.ndarray:
    """P(late) for a classifier, minutes for a regression; a constant model (the prior rate or
    the mean) predicts itself for every row."""
    if isinstance(model, lgb.Booster):
        return np.asarray(model.predict(pre.for_trees(frame), num_iteration=model.best_iteration))
    if isinstance(model, LogisticRegression):
        return np.asarray(model.predict_proba(pre.for_linear(frame))[:, 1])
    if isinstance(model, Ridge):
        return np.asarray(model.predict(pre.for_linear(frame)))
    return np.full(frame.height, float(model))
