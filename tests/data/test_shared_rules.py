"""Rules the dbt models and the Python package share (the late rule, the log-loss clipping) give
the same numbers on both sides, on the session's real pipeline run."""

import duckdb
import pytest

pytestmark = pytest.mark.warehouse


def test_the_marts_and_training_agree_on_the_label_and_the_log_loss(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    """The mean log loss of the champion classifier on December (out of its fitting months), as
    the monitoring mart computes it (dbt's late rule and epsilon), equals the one training
    recorded for its test month (Python's)."""
    rows = warehouse.execute(
        """
        with champion as (
            select model_id, run_id, model_name from ml.model_registry
            where task = 'classification' and is_champion and horizon_minutes = 120
        )
        select
            (select avg(log_loss) from fct_flight_predictions
                where model_id = champion.model_id and evaluation_split = 'out_of_sample'),
            (select value from ml.model_metrics as metrics
                where metrics.run_id = champion.run_id and task = 'classification'
                and model_name = champion.model_name and split = 'test' and horizon_minutes = 120
                and segment_kind = 'overall' and metric = 'log_loss'),
            (select count(*) from fct_flight_predictions
                where model_id = champion.model_id and evaluation_split = 'out_of_sample'),
            (select value from ml.model_metrics as metrics
                where metrics.run_id = champion.run_id and task = 'classification'
                and model_name = champion.model_name and split = 'test' and horizon_minutes = 120
                and segment_kind = 'overall' and metric = 'rows')
        from champion
        """
    ).fetchall()
    ((mart_log_loss, training_log_loss, mart_rows, training_rows),) = rows
    assert mart_rows == training_rows > 25_000
    assert mart_log_loss == pytest.approx(training_log_loss, rel=1e-9)
