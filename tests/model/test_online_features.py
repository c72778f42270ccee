"""Features on demand reproduce the batch's: known flights computed as if they were requests
(from their rows, not their stored features) get exactly their batch features, at every horizon
the session trained."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.models.online import OnlineFeatures
from lakehouse.platform.pipeline import PipelineRun

pytestmark = pytest.mark.warehouse


@pytest.fixture(scope="module")
def online(pipeline_run: PipelineRun) -> OnlineFeatures:
    return OnlineFeatures.load(pipeline_run.paths.warehouse)


def test_flights_computed_on_demand_get_exactly_their_batch_features(
    pipeline_run: PipelineRun, online: OnlineFeatures
) -> None:
    assert len(pipeline_run.features) >= 2
    for horizon, batch in pipeline_run.features.items():
        # every kind of flight: cancelled, without a tail, early and late in the day and year
        sample = pl.concat(
            [
                batch.sample(150, seed=horizon),
                batch.filter(pl.col("is_cancelled")).head(10),
                batch.head(5),
                batch.tail(5),
            ]
        ).unique("flight_id")
        ids = sample["flight_id"].to_list()
        computed = online.build(online.known(ids), horizon).sort("flight_id")
        expected = batch.filter(pl.col("flight_id").is_in(ids)).sort("flight_id")
        assert computed.schema == expected.schema
        assert computed.equals(expected), f"at {horizon} min the on-demand features differ"
