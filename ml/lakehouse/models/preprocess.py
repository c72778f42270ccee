"""Preprocessing in one place: the same fitted transform feeds training, scoring and any caller.

LightGBM gets float columns with NaN for missing values, and categories as integer codes it
treats as categorical (a polars Categorical, Enum, String or Date column makes LightGBM abort the
process, which pytest cannot catch). The linear baselines get the same columns with missing values
imputed by the training median, a missing-value indicator where the training data had gaps,
categories one-hot encoded (only the low-cardinality ones), and every column standardized."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from lakehouse.config import ONE_HOT_MAX_CATEGORIES


@dataclass
class Preprocessor:
    """Fitted on the training rows only; serializable to JSON for the registry."""

    numeric: list[str]
    categorical: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    with_missing_indicator: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, frame: pl.DataFrame, numeric: list[str], categorical: list[str]) -> Preprocessor:
        pre = cls(numeric=list(numeric), categorical=list(categorical))
        for column in categorical:
            pre.categories[column] = sorted(str(v) for v in frame[column].drop_nulls().unique().to_list())
        numbers = pre._numeric_frame(frame)
        for column in numeric:
            values = numbers[column].drop_nans().drop_nulls()
            pre.medians[column] = float(values.median()) if values.len() else 0.0  # type: ignore[arg-type]
            if numbers[column].is_nan().any():
                pre.with_missing_indicator.append(column)
        linear = pre._linear_unscaled(frame)
        for column in linear.columns:
            pre.means[column] = float(linear[column].mean())  # type: ignore[arg-type]
            std = float(linear[column].std() or 0.0)  # type: ignore[arg-type]
            pre.stds[column] = std if std > 0 else 1.0
        return pre

    def _numeric_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(pl.col(c).cast(pl.Float64).fill_null(float("nan")).alias(c) for c in self.numeric)

    def codes(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Integer codes of the categorical columns (NaN for missing or unseen values)."""
        return frame.select(
            pl.col(c)
            .cast(pl.String)
            .replace_strict(self.categories[c], list(range(len(self.categories[c]))), default=None)
            .cast(pl.Float64)
            .fill_null(float("nan"))
            .alias(c)
            for c in self.categorical
        )

    @property
    def tree_features(self) -> list[str]:
        return self.categorical + self.numeric

    def for_trees(self, frame: pl.DataFrame) -> np.ndarray:
        """The LightGBM input: categorical codes then numeric columns, float64 with NaN."""
        return pl.concat([self.codes(frame), self._numeric_frame(frame)], how="horizontal").to_numpy()

    def _linear_unscaled(self, frame: pl.DataFrame) -> pl.DataFrame:
        numbers = self._numeric_frame(frame)
        columns = [pl.col(c).fill_nan(self.medians[c]).alias(c) for c in self.numeric]
        columns += [
            pl.col(c).is_nan().cast(pl.Float64).alias(f"{c}__missing") for c in self.with_missing_indicator
        ]
        out = numbers.select(columns)
        one_hot = [
            (pl.col(c).cast(pl.String) == value).fill_null(False).cast(pl.Float64).alias(f"{c}={value}")
            for c in self.categorical
            if len(self.categories[c]) <= ONE_HOT_MAX_CATEGORIES
            for value in self.categories[c]
        ]
        return pl.concat([out, frame.select(one_hot)], how="horizontal") if one_hot else out

    def for_linear(self, frame: pl.DataFrame) -> np.ndarray:
        """The linear baselines' input: imputed, indicated, one-hot, standardized."""
        unscaled = self._linear_unscaled(frame)
        return unscaled.select(
            ((pl.col(c) - self.means[c]) / self.stds[c]).alias(c) for c in unscaled.columns
        ).to_numpy()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        return cls(**data)
