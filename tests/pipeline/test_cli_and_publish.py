import os
import shutil
import socket
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.config import MAX_ROUNDS, QUICK_MAX_ROUNDS, TUNED_PARAMS_FILE, Paths, TrainingConfig, paths
from lakehouse.models import backtest, training_run, tuning_run
from lakehouse.platform import pipeline, publish
from lakehouse.quality.gate import new_run


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_query_prints_rows_from_the_published_warehouse(data_dir: Path) -> None:
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
        connection.execute("create table t as select * from (values ('UA', 3), ('AA', 1)) v(carrier, n)")
    result = CliRunner().invoke(app, ["query", "select carrier, n from t order by n desc"])
    assert result.exit_code == 0, result.output
    assert result.output.index("UA") < result.output.index("AA")


def test_query_names_the_missing_warehouse(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["query", "select 1"])
    assert result.exit_code == 1
    assert "run `make run` first" in result.output


@pytest.mark.parametrize("command", [["docs"], ["predict"], ["backtest"], ["export-features", "--to", "x"]])
def test_commands_on_the_published_warehouse_refuse_a_missing_or_empty_one(
    data_dir: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "run `make run` first" in result.output
    assert not (data_dir / "warehouse.duckdb").exists(), "nothing created"
    # a warehouse file no run published (a dbt command by hand, say): no fct_flights
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "has no fct_flights" in result.output
    assert "Traceback" not in result.output


def test_a_run_in_a_data_folder_it_cannot_write_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file where the folder should be (root writes through permissions: a mode would not do)
    (tmp_path / "data").write_text("")
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 1, result.output
    assert "cannot write in the data folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_query_reports_sql_errors_without_a_traceback(data_dir: Path) -> None:
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    result = CliRunner().invoke(app, ["query", "select missing_column"])
    assert result.exit_code == 1
    assert "query failed" in result.output
    assert "missing_column" in result.output


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select 'a'::int", "Could not convert string 'a'"),
        ("", "give one SQL statement, not 0"),
        ("select 1; select 2", "give one SQL statement, not 2"),
        ("create table t2 as select 1", "read-only"),
        ("copy (select 1) to 'out.csv'", "file system operations are disabled"),
        ("select * from read_csv('/etc/passwd')", "file system operations are disabled"),
        ("set enable_external_access = true", "configuration has been locked"),
    ],
)
def test_query_refuses_bad_sql_writes_and_file_access_in_one_line(
    data_dir: Path, sql: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    monkeypatch.chdir(data_dir)
    result = CliRunner().invoke(app, ["query", sql])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not raised
    assert message in result.output
    assert not (data_dir / "out.csv").exists()


def test_query_refuses_a_limit_below_one(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["query", "select 1", "--limit", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--limit'" in result.output


def test_validate_names_a_file_that_is_not_a_warehouse(data_dir: Path) -> None:
    notes = data_dir / "notes.txt"
    notes.write_text("not a database")
    result = CliRunner().invoke(app, ["validate", "--warehouse", str(notes)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not raised
    assert str(notes) in result.output


def test_validate_says_what_to_audit_when_there_is_no_build(data_dir: Path) -> None:
    """No build left (the last run published it): the advice is `--published`, not another run;
    a path given that does not exist is only that."""
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "run `make run` first" in result.output
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    result = CliRunner().invoke(app, ["validate"], terminal_width=250)
    assert result.exit_code == 1
    assert "the last run published it" in result.output
    assert "`lakehouse validate --published`" in result.output
    result = CliRunner().invoke(
        app, ["validate", "--warehouse", str(data_dir / "nope.duckdb")], terminal_width=250
    )
    assert result.exit_code == 1
    assert "make run" not in result.output
    assert str(data_dir / "nope.duckdb") in result.output


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        (["train", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler applies only to a training on Dask"),
        (["train", "--features", "lake", "--seed", "3"], "--features applies only to a training on Dask"),
        (
            ["evaluate", "--list", "--run", "r1"],
            "give one of --run, --list and --compare, not --run and --list",
        ),
        (["evaluate", "--run", "r1", "--compare", "a", "b"], "not --run and --compare"),
    ],
)
def test_options_that_do_not_go_together_are_refused_before_anything_runs(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], refusal: str
) -> None:
    (data_dir / "warehouse.duckdb").touch()
    monkeypatch.setattr(training_run, "run_training", lambda *_, **__: pytest.fail("trained"))
    result = CliRunner().invoke(app, arguments, terminal_width=250)
    assert result.exit_code == 1, result.output
    assert refusal in result.output


def test_serve_on_a_port_in_use_says_so_before_claiming_to_serve(data_dir: Path) -> None:
    (data_dir / "current").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port)], terminal_width=250)
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output
    assert "serving on" not in result.output


@pytest.mark.parametrize(
    ("output", "content", "refusal"),
    [
        ("nofolder/tuned.yml", None, "its folder does not exist"),
        ("tuned.yml", "num_leaves: [33\n", "is not valid YAML"),
        ("tuned.yml", "- a list\n", "expected a mapping of tasks"),
        ("tuned.yml", b"\xff\xfe\x00", "is not valid YAML"),
    ],
)
def test_tune_refuses_a_file_it_could_not_write_before_searching(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, output: str, content: str | bytes | None, refusal: str
) -> None:
    monkeypatch.setattr(tuning_run, "run_tuning", lambda *_, **__: pytest.fail("searched"))
    target = data_dir / output
    if content is not None:
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(app, ["tune", "--output", str(target)], terminal_width=250)
    assert result.exit_code == 1, result.output
    assert refusal in result.output
    assert str(target) in result.output


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_tuned_parameters_training_cannot_use_stop_it_before_the_features_in_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
        connection.execute("create table fct_flights (flight_id varchar)")
    tuned = data_dir / "tuned.yml"
    tuned.write_text(TUNED_PARAMS_FILE.read_text().replace("num_leaves: 33", "num_leaves: 33.5"))
    monkeypatch.setenv("LAKEHOUSE_TUNED_PARAMS", str(tuned))
    monkeypatch.setattr(training_run, "features_by_horizon", lambda *_, **__: pytest.fail("built features"))
    monkeypatch.setattr(backtest, "read_features", lambda *_, **__: pytest.fail("built features"))
    result = CliRunner().invoke(app, [command], terminal_width=250)
    assert result.exit_code == 1, result.output
    refusal = "classification.params.num_leaves: expected a whole number, got float 33.5"
    assert f"{tuned}: {refusal}" in result.output
    assert "Traceback" not in result.output


def test_a_run_with_tuned_parameters_training_cannot_use_stops_before_it_builds(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned = data_dir / "tuned.yml"
    tuned.write_text(TUNED_PARAMS_FILE.read_text().replace("dropped_features:", "dropped_feature:", 1))
    monkeypatch.setenv("LAKEHOUSE_TUNED_PARAMS", str(tuned))
    result = CliRunner().invoke(app, ["run"], terminal_width=250)
    assert result.exit_code == 1, result.output
    assert f"pipeline stopped: {tuned}: classification: unknown dropped_feature" in result.output
    assert sorted(path.name for path in data_dir.iterdir()) == ["tuned.yml"]


def test_serve_on_a_host_that_is_not_this_machines_names_the_host(data_dir: Path) -> None:
    (data_dir / "current").mkdir()
    result = CliRunner().invoke(
        app, ["serve", "--host", "nonexistent.invalid"], env={"LAKEHOUSE_API_KEY": "k"}, terminal_width=250
    )
    assert result.exit_code == 1, result.output
    assert "cannot listen on nonexistent.invalid:8000" in result.output
    assert "give another --host" in result.output
    assert "--port" not in result.output


@pytest.mark.parametrize("speed", ["0.5", "1e-300", "-1", "nan", "inf"])
def test_replay_refuses_a_speed_it_cannot_keep_before_calling_anything(data_dir: Path, speed: str) -> None:
    result = CliRunner().invoke(
        app, ["replay", "--speed", speed, "--url", "http://127.0.0.1:1"], terminal_width=250
    )
    assert result.exit_code == 1, result.output
    assert f"--speed {speed} is neither 0 nor a finite speed from 1" in result.output
    assert "does not answer" not in result.output


def _marker(warehouse: Path) -> list[tuple[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute("select version from marker").fetchall()  # type: ignore[return-value]


def _build(p: Paths, version: str, lake_files: dict[str, str]) -> pipeline.PipelineRun:
    """A run whose own build holds a warehouse marked `version` and these lake files."""
    run = pipeline.PipelineRun(p, new_run("test"))
    run.build.lake.mkdir(parents=True)
    with duckdb.connect(str(run.build.warehouse)) as connection:
        connection.execute(f"create table marker as select '{version}' as version")
    for name, content in lake_files.items():
        (run.build.lake / name).write_text(content)
    return run


@pytest.mark.parametrize(
    ("budget", "horizon", "others"), [("quick", 60, ()), ("default", 60, (30,)), ("default", 45, (60, 30))]
)
def test_train_trains_the_budget_with_each_horizon_once(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, budget: str, horizon: int, others: tuple[int, ...]
) -> None:
    (data_dir / "warehouse.duckdb").touch()
    configs: list[TrainingConfig] = []

    def stop(_paths: Paths, config: TrainingConfig, *_: object, **__: object) -> None:
        configs.append(config)
        raise SystemExit(3)

    monkeypatch.setattr(training_run, "run_training", stop)
    monkeypatch.setenv("LAKEHOUSE_TRAINING_BUDGET", budget)
    result = CliRunner().invoke(app, ["train", "--horizon", str(horizon), "--seed", "7"])
    assert result.exit_code == 3, result.output
    (config,) = configs
    assert (config.horizon_minutes, config.other_horizons_minutes, config.seed) == (horizon, others, 7)
    assert config.max_rounds == (QUICK_MAX_ROUNDS if budget == "quick" else MAX_ROUNDS)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("train", "--horizon", "0"),
        ("train", "--horizon", "10081"),
        ("train", "--seed", "-1"),
        ("tune", "--trials", "0"),
        ("tune", "--seed", "-1"),
        ("backtest", "--months", "0"),
    ],
)
def test_a_setting_out_of_range_is_refused_before_reading_anything(
    data_dir: Path, command: str, option: str, value: str
) -> None:
    result = CliRunner().invoke(app, [command, option, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert not (data_dir / "models").exists()


def test_publish_switches_warehouse_and_lake_together_and_keeps_one_previous_version(
    data_dir: Path,
) -> None:
    p = paths()
    pipeline.publish(_build(p, "first", {"fct_flights.parquet": "first", "dropped_mart.parquet": "first"}))
    assert p.warehouse.is_symlink()
    assert p.lake.is_symlink()
    assert _marker(p.warehouse) == [("first",)]
    # A reader holding the old warehouse open does not block the switch and keeps its snapshot.
    reader = duckdb.connect(str(p.warehouse), read_only=True)
    try:
        for version in ("second", "third"):
            pipeline.publish(_build(p, version, {"fct_flights.parquet": version}))
        assert reader.execute("select version from marker").fetchall() == [("first",)]
    finally:
        reader.close()
    assert _marker(p.warehouse) == [("third",)]
    assert sorted(f.name for f in p.lake.iterdir()) == ["fct_flights.parquet"]
    assert (p.lake / "fct_flights.parquet").read_text() == "third"
    # each build moved out of its run's folder, which is gone
    assert list(p.builds.iterdir()) == []
    # the current version and the one before it
    assert len(list(p.published_versions.iterdir())) == 2


class Killed(BaseException):
    """Stands for SIGKILL: nothing catches it, no cleanup runs after it."""


@pytest.mark.parametrize("renames_before_the_kill", [1, 2, 3])
def test_a_publish_killed_after_any_rename_leaves_one_whole_version_published(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, renames_before_the_kill: int
) -> None:
    p = paths()
    pipeline.publish(_build(p, "old", {"fct_flights.parquet": "old"}))
    new = _build(p, "new", {"fct_flights.parquet": "new"})
    replace = os.replace
    done = 0

    def rename_then_die(source: Path, target: Path) -> None:
        nonlocal done
        replace(source, target)
        done += 1
        if done == renames_before_the_kill:
            raise Killed

    monkeypatch.setattr(os, "replace", rename_then_die)
    with pytest.raises(Killed):
        publish.publish_build(p, new.build)
    monkeypatch.undo()
    # the warehouse and the lake always come from the same build: the old one until the switch
    # (the third rename), the new one after it
    (version,) = _marker(p.warehouse)[0]
    assert version == ("old" if renames_before_the_kill < 3 else "new")
    assert (p.lake / "fct_flights.parquet").read_text() == version
    # the next publish starts cleanly and leaves the current version and the one before it
    shutil.rmtree(p.builds)
    pipeline.publish(_build(p, "next", {"fct_flights.parquet": "next"}))
    assert _marker(p.warehouse) == [("next",)]
    assert len(list(p.published_versions.iterdir())) == 2


def test_publish_takes_over_a_data_folder_from_before_versions(data_dir: Path) -> None:
    p = paths()
    p.lake.mkdir(parents=True)
    (p.lake / "old.parquet").write_text("old")
    with duckdb.connect(str(p.warehouse)) as connection:
        connection.execute("create table marker as select 'old' as version")
    pipeline.publish(_build(p, "new", {"new.parquet": "new"}))
    assert _marker(p.warehouse) == [("new",)]
    assert sorted(f.name for f in p.lake.iterdir()) == ["new.parquet"]


def test_check_raw_names_what_is_missing(data_dir: Path) -> None:
    with pytest.raises(pipeline.PipelineError, match="make raw"):
        pipeline.check_raw(pipeline.PipelineRun(paths(), new_run("test")))


def test_republish_changes_a_copy_and_switches_to_it_without_disturbing_readers(data_dir: Path) -> None:
    p = paths()
    pipeline.publish(_build(p, "old", {"fct_flights.parquet": "old"}))
    reader = duckdb.connect(str(p.warehouse), read_only=True)
    try:

        def update(copy: Path, lake: Path) -> None:
            with duckdb.connect(str(copy)) as connection:
                connection.execute("update marker set version = 'new'")
            (lake / "fct_flights.parquet").write_text("new")

        publish.republish(p, update)
        assert reader.execute("select version from marker").fetchall() == [("old",)]
    finally:
        reader.close()
    assert _marker(p.warehouse) == [("new",)]
    assert (p.lake / "fct_flights.parquet").read_text() == "new"


def test_republish_publishes_nothing_when_the_update_fails(data_dir: Path) -> None:
    p = paths()
    pipeline.publish(_build(p, "old", {"fct_flights.parquet": "old"}))
    before = p.current.resolve()

    def update(copy: Path, lake: Path) -> None:
        with duckdb.connect(str(copy)) as connection:
            connection.execute("update marker set version = 'half-done'")
        raise RuntimeError("scoring failed")

    with pytest.raises(RuntimeError, match="scoring failed"):
        publish.republish(p, update)
    assert p.current.resolve() == before
    assert _marker(p.warehouse) == [("old",)]
    assert list(p.published_versions.iterdir()) == [before]


def test_republish_needs_a_published_warehouse(data_dir: Path) -> None:
    with pytest.raises(publish.PublishError, match="make run"):
        publish.republish(paths(), lambda copy, lake: None)
