"""Every setting of the project: paths, the rules the SQL shares with Python, feature and training
settings, the quality gate's limits. A leaf: it imports nothing of the package, so any module can
read it.

Rules that the dbt models apply too are stated once, in the `vars` of dbt_project.yml, and read
from there (`DBT_VARS`): a plain `dbt build` and the Python package cannot disagree on them. Each
path can be overridden by an environment variable so that tests and benchmarks point the whole
pipeline elsewhere."""

from __future__ import annotations

import json
import operator
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# The repository root: ml/lakehouse/config.py -> ../../
REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@cache
def dbt_vars() -> dict[str, Any]:
    """The `vars` of dbt_project.yml: the rules the models and the package share."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    variables: dict[str, Any] = project["vars"]
    return variables


# --- Rules shared with the SQL (stated in dbt_project.yml) ----------------------------------------

# Each staged weather reading's physical range (raw_measures.weather under its staged name):
# outside it, staging sets the reading to NULL and flags the row.
WEATHER_READING_BOUNDS: dict[str, tuple[float, float]] = {
    name: (float(low), float(high))
    for raw, name in dbt_vars()["weather_measure_names"].items()
    for low, high in [dbt_vars()["raw_measures"]["weather"][raw]]
}
# A departure more than this many minutes late counts as delayed; within it, on time (US DOT).
LATE_AFTER_MINUTES: int = dbt_vars()["on_time_threshold_minutes"]
# A weather row labelled hour H holds the observation taken up to about H:51: known from H + lag.
WEATHER_LAG_MINUTES: int = dbt_vars()["weather_lag_minutes"]
# Probabilities are clipped to [eps, 1 - eps] in the log loss: a confident miss costs a finite amount.
LOG_LOSS_EPSILON: float = dbt_vars()["ml_log_loss_epsilon"]
# The time zone of the three New York airports the flights leave from.
ORIGIN_TIME_ZONE: str = dbt_vars()["origin_time_zone"]
# Why the live feed refuses an event (each refusal has one of these kinds).
FEED_REFUSAL_KINDS: tuple[str, ...] = tuple(dbt_vars()["feed_refusal_kinds"])
# A flight's label is settled when it leaves, or this long after its schedule if it has not left.
LABEL_KNOWN_AFTER_MINUTES: int = LATE_AFTER_MINUTES + 1

# --- Point-in-time features -----------------------------------------------------------------------

# How long a flight that has not left counts as waiting on the ground.
WAITING_CAP_MINUTES = 180
DEFAULT_HORIZON_MINUTES = 120
# A decision is made before the scheduled departure (at T = departure - horizon) and at most a week
# ahead: nothing live is known that far out, and the bound turns a unit slip (seconds or hours
# for minutes) into an error instead of a model of another problem.
MAX_HORIZON_MINUTES = 7 * 24 * 60
# The furthest any lookup looks back from T (flight_number_delay_rate_28d): a build of some months'
# flights needs the events from this long before their first decision time.
LOOKBACK_MINUTES = 28 * 24 * 60


def check_horizon(horizon_minutes: int) -> int:
    """`horizon_minutes` if it is a whole number of minutes from 1 to `MAX_HORIZON_MINUTES`: a
    horizon of 0 or less puts T at or after the scheduled departure, where the flight's own
    departure (or its being late) is known."""
    try:
        minutes = operator.index(horizon_minutes)  # an integer of any kind, not a float or a string
    except TypeError:
        raise ValueError(f"the horizon must be a whole number of minutes, not {horizon_minutes!r}") from None
    if isinstance(horizon_minutes, bool) or not 1 <= minutes <= MAX_HORIZON_MINUTES:
        raise ValueError(
            f"the horizon must be from 1 to {MAX_HORIZON_MINUTES} minutes (a week) before the scheduled"
            f" departure, not {horizon_minutes!r}"
        )
    return minutes


# --- Preprocessing and training -------------------------------------------------------------------

# Categories with at most this many values are one-hot encoded for the linear baselines; the others
# (destination, manufacturer) are left to the trees.
ONE_HOT_MAX_CATEGORIES = 20
# The floor of precision + recall when F1 is computed for every threshold (no division by zero).
F1_DENOMINATOR_FLOOR = 1e-6
# LightGBM's seed is a C int.
MAX_SEED = 2**31 - 1
MAX_ROUNDS = 1000
# The quick budget's cap (the tests): below the rounds early stopping reaches on the bundled year
# (about 200 for the classifier, 75 for the regression).
QUICK_MAX_ROUNDS = 30
EARLY_STOPPING_ROUNDS = 30
# LightGBM's parameters before tuning (and those tuning leaves alone), for both tasks.
LIGHTGBM_PARAMS: dict[str, Any] = {
    "learning_rate": 0.08,
    "num_leaves": 63,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


@dataclass(frozen=True)
class SearchRange:
    """One tuned LightGBM parameter: its kind, bounds and whether it is searched on a log scale."""

    kind: str  # "float" or "int"
    low: float
    high: float
    log: bool = False


# Optuna's search space, in the order the trials draw it (the order is part of the seeded search).
SEARCH_SPACE: dict[str, SearchRange] = {
    "learning_rate": SearchRange("float", 0.04, 0.2, log=True),
    "num_leaves": SearchRange("int", 15, 255, log=True),
    "min_data_in_leaf": SearchRange("int", 50, 2000, log=True),
    "feature_fraction": SearchRange("float", 0.4, 1.0),
    "bagging_fraction": SearchRange("float", 0.5, 1.0),
    "lambda_l2": SearchRange("float", 1e-3, 30.0, log=True),
}


# The tuned LightGBM parameters and the selected features of each task: written by `lakehouse
# tune`, reviewed and committed, read by every training run (LAKEHOUSE_TUNED_PARAMS moves it).
TUNED_PARAMS_FILE = Path(__file__).with_name("tuned_params.yml")


@dataclass(frozen=True)
class Tuned:
    """What tuning chose for a task: LightGBM parameters (on top of `LIGHTGBM_PARAMS`), the
    features it dropped, and how the search ran (`search`: trials, seed, folds, best value...)."""

    params: dict[str, Any]
    dropped_features: tuple[str, ...]
    search: dict[str, Any]


def tuned_params_file() -> Path:
    return _path("LAKEHOUSE_TUNED_PARAMS", TUNED_PARAMS_FILE)


class TunedParamsError(ValueError):
    """The tuned parameters file is missing, not valid YAML, or holds what training cannot use."""


TUNED_ENTRY_KEYS = ("params", "dropped_features", "search")


def tuned_document(path: Path) -> dict[Any, Any]:
    """The tuned parameters file as YAML: a mapping of tasks (empty for an empty file), a key given
    twice refused."""
    if path.is_dir():
        raise TunedParamsError(f"{path} is a folder, not a tuned parameters file")
    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise TunedParamsError(f"{path} is not valid YAML: {_yaml_problem(error)}") from error
    if not isinstance(document, dict):
        raise TunedParamsError(f"{path}: expected a mapping of tasks (classification, regression)")
    return document


def read_tuned(task: str, features: Collection[str], path: Path | None = None) -> Tuned:
    """The tuned parameters of `task` (from the committed file unless `path`), checked: each
    parameter one of `SEARCH_SPACE`, of its kind and within its range; each dropped feature one
    of `features` (the feature SQL's: a typo would keep the feature), and some left to train on."""
    path = path or tuned_params_file()
    if not path.exists():
        raise TunedParamsError(f"{path}: no tuned parameters; run `lakehouse tune` to write them")
    document = tuned_document(path)
    if task not in document:
        found = ", ".join(map(str, document)) or "nothing"
        raise TunedParamsError(
            f"{path}: no tuned parameters for {task} (it has {found}); run `lakehouse tune --task {task}`"
        )
    where = f"{path}: {task}"
    entry = document[task]
    if not isinstance(entry, dict):
        raise TunedParamsError(f"{where}: expected a mapping of {', '.join(TUNED_ENTRY_KEYS)}")
    unknown = sorted(set(map(str, entry)) - set(TUNED_ENTRY_KEYS))
    if unknown:
        raise TunedParamsError(
            f"{where}: unknown {', '.join(unknown)} (expected {', '.join(TUNED_ENTRY_KEYS)})"
        )
    params, search = (_mapping(f"{where}.{name}", entry.get(name)) for name in ("params", "search"))
    if "dropped_features" not in entry:
        raise TunedParamsError(f"{where}: missing dropped_features (an empty list when none is dropped)")
    dropped = entry["dropped_features"]
    dropped = [] if dropped is None else dropped
    if not isinstance(dropped, list) or not all(isinstance(name, str) for name in dropped):
        raise TunedParamsError(f"{where}.dropped_features: expected a list of feature names")
    strangers = sorted(set(dropped) - set(features))
    if strangers:
        raise TunedParamsError(
            f"{where}.dropped_features: not features of the feature SQL: {', '.join(strangers)}"
        )
    if not set(features) - set(dropped):
        raise TunedParamsError(f"{where}.dropped_features: every feature is dropped, none is left")
    for name, value in params.items():
        problem = _tuned_value_problem(name, value)
        if problem:
            raise TunedParamsError(f"{where}.params.{name}: {problem}")
    missing = [name for name in SEARCH_SPACE if name not in params]
    if missing:
        raise TunedParamsError(f"{where}.params: missing {', '.join(missing)} (tuning writes every one)")
    try:
        json.dumps(search)
    except (TypeError, ValueError) as error:
        problem = f"holds what is not text, a number or a list ({error}): quote it"
        raise TunedParamsError(f"{where}.search: {problem}") from error
    return Tuned(dict(params), tuple(dropped), dict(search))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader for a file people edit: a key given twice in a mapping is refused (YAML
    would keep the last), `1e-3` is a number (YAML 1.1 reads it as text), and a whole number
    is written in decimal (YAML 1.1 reads `033` as 27 and `1:05` as 65)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if not re.fullmatch(r"[-+]?(0|[1-9][0-9_]*)", text):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r}: write a whole number in decimal", node.start_mark
            )
        return int(text.replace("_", ""))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class _TunedDumper(yaml.SafeDumper):
    """Writes what `_UniqueKeyLoader` reads back the same: text it would take for a number (a
    fingerprint such as 1234e567) is quoted."""


_EXPONENT_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.?[0-9]+[eE][-+]?[0-9]+$")
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)
for _reader in (_UniqueKeyLoader, _TunedDumper):
    _reader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def tuned_yaml(document: dict[str, Any]) -> str:
    """The tuned parameters file's YAML for `document` (read back by `tuned_document`)."""
    return yaml.dump(document, Dumper=_TunedDumper, sort_keys=False, default_flow_style=False)


def _tuned_value_problem(name: Any, value: Any) -> str | None:
    """Why a tuned parameter cannot be used (None: it can): not searched, of the wrong kind or
    outside its search range."""
    if name not in SEARCH_SPACE:
        return f"not a tuned parameter (these are {', '.join(SEARCH_SPACE)})"
    bounds = SEARCH_SPACE[name]
    kinds = (int,) if bounds.kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = "a whole number" if bounds.kind == "int" else "a number"
        return f"expected {wanted}, got {_yaml_kind(value)} {value!r}"
    if not bounds.low <= value <= bounds.high:
        return (
            f"{value} lies outside its search range {bounds.low:g} to {bounds.high:g}: run `lakehouse "
            "tune`, or widen SEARCH_SPACE in config.py to try it"
        )
    return None


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TunedParamsError(f"{where}: expected a mapping, got {_yaml_kind(value)}")
    return value


def _yaml_kind(value: Any) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}
    return kinds.get(type(value), type(value).__name__)


def _yaml_problem(error: Exception) -> str:
    """A YAML error in one line, with its line and column."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def lightgbm_threads() -> int:
    """LightGBM's threads: LAKEHOUSE_LIGHTGBM_THREADS, or one per core of a 2-core machine. Two
    threads sharing their cores with other work wait on each other at every OpenMP barrier: a fit
    runs slower than on one thread (the test suite's two workers train on one each)."""
    value = os.environ.get("LAKEHOUSE_LIGHTGBM_THREADS", "2")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"LAKEHOUSE_LIGHTGBM_THREADS must be a whole number of at least 1, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class TrainingConfig:
    """How models are trained and judged; `lakehouse train` options override some of these."""

    horizon_minutes: int = DEFAULT_HORIZON_MINUTES
    # Horizons the report also shows for the final classifier (shorter: more is known).
    other_horizons_minutes: tuple[int, ...] = (60, 30)
    seed: int = 42
    # Months of the scheduled departure date (local): fit, choose (early stopping, tuning,
    # threshold, champion), and test once per run for the report.
    train_months: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9)
    validation_months: tuple[int, ...] = (10, 11)
    test_months: tuple[int, ...] = (12,)
    # Expanding-window folds for tuning: train on months 1..k, validate on month k + 1.
    cv_last_train_months: tuple[int, ...] = (7, 8)
    trials: int = 5
    # LightGBM's rounds at most, before early stopping ends a fit.
    max_rounds: int = MAX_ROUNDS
    # A guard, not the budget: with it hit, the number of trials (and so the model) depends on speed.
    tuning_timeout_seconds: int = 240
    num_threads: int = field(default_factory=lightgbm_threads)
    bootstrap_samples: int = 500
    # The last months of the data the rolling backtest tests, one at a time.
    backtest_months: int = 4
    # Permutation importance at or below this (validation AUC or RMSE change) drops a feature.
    selection_min_importance: float = 0.0
    # Permutation importance on at most this many validation rows (a seeded sample; None: all).
    permutation_max_rows: int | None = 20_000

    def __post_init__(self) -> None:
        for horizon in (self.horizon_minutes, *self.other_horizons_minutes):
            check_horizon(horizon)
        if len(set(self.horizons_minutes)) < len(self.horizons_minutes):
            raise ValueError(f"each horizon is trained once, not {self.horizons_minutes}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, not {self.max_rounds}")
        if self.num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, not {self.num_threads}")
        if self.trials < 1:
            raise ValueError(f"trials must be at least 1 (the tuning budget), not {self.trials}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(
                f"the seed must be from 0 to {MAX_SEED} (LightGBM's seed is a C int), not {self.seed}"
            )

    def deciding_at(self, horizon_minutes: int, seed: int) -> TrainingConfig:
        """This budget with its champions at `horizon_minutes` (no longer among the other
        horizons) and `seed`: what `lakehouse train --horizon --seed` trains."""
        others = tuple(h for h in self.other_horizons_minutes if h != horizon_minutes)
        return replace(self, horizon_minutes=horizon_minutes, other_horizons_minutes=others, seed=seed)

    @property
    def horizons_minutes(self) -> tuple[int, ...]:
        """The champions' horizon first, then the others the report shows."""
        return (self.horizon_minutes, *self.other_horizons_minutes)

    @classmethod
    def from_environment(cls) -> TrainingConfig:
        """The defaults, or with LAKEHOUSE_TRAINING_BUDGET=quick a small budget for a quick run
        (the tests): one trial on one tuning fold, one other horizon, fewer boosting rounds,
        bootstrap samples and permutation rows."""
        budget = os.environ.get("LAKEHOUSE_TRAINING_BUDGET", "default")
        if budget == "quick":
            return cls(
                trials=1,
                cv_last_train_months=(8,),
                other_horizons_minutes=(60,),
                max_rounds=QUICK_MAX_ROUNDS,
                bootstrap_samples=50,
                permutation_max_rows=5_000,
            )
        if budget != "default":
            raise ValueError(f"LAKEHOUSE_TRAINING_BUDGET must be `default` or `quick`, not {budget!r}")
        return cls()


# --- The quality gate -----------------------------------------------------------------------------

# How many unexpected values or rows a check result keeps as a sample.
SAMPLE_SIZE = 10
# The critical failures a gate message lists before it says "and n more".
MESSAGE_FAILURES = 8
# The files a published run's console names when rows were quarantined (the most rows first).
QUARANTINE_FILES_SHOWN = 5

# Each raw file's measures are profiled (lakehouse.quality.profiles; the measures and their bounds
# are the `raw_measures` var of dbt_project.yml). One impossible reading is an outlier, flagged or
# quarantined: a warning. More than this share of a file's values of a measure outside its bounds
# is a broken source (a unit or scale change): critical.
RAW_MAX_OUT_OF_RANGE_SHARE = 0.01
# A file's measure is newly missing (critical) when its share of values present falls below this
# ratio of the share present in the sparsest accepted file (2013: pressure is present in 85% to
# 94% of a month's hours, a wind gust in 10% to 36%).
RAW_MIN_PRESENT_RATIO = 0.5
# A measure with fewer values than this in a file is not judged constant nor by its median, and a
# file with fewer rows is not judged empty of a measure where nothing is learned: too few to tell.
RAW_MIN_PROFILED_VALUES = 100
# A file's median of a measure may lie this share of the accepted medians' magnitude outside their
# range, or the widest accepted interquartile range if larger (seasons move medians, units more).
RAW_MEDIAN_MARGIN = 0.1
# A file's interquartile range of a measure may be at most this many times the widest accepted one,
# or the narrowest divided by it, for the measures whose accepted spreads lie within this factor
# of each other: a change of scale rescales the spread (kilometres for miles x1.61) where a steady
# measure's spread barely moves (2013's months: within x1.1 for distances and clock times); the
# seasons move others more (x3.3 for dew points), and those are not judged by their spread.
RAW_SPREAD_FACTOR = 1.5


# --- Runs -----------------------------------------------------------------------------------------

# Builds kept in data/build/ (one folder per run; a published build moves out of it): the newest
# ones, so that a refused or interrupted build stays for inspection without builds piling up.
KEPT_BUILDS = 3
# Model versions per task and horizon whose predictions `ml.predictions` holds: the champion and
# the one before it, compared on the same flights. Older versions' files stay on disk, out of the
# table, so that the marts on the predictions do not grow with every retraining.
PREDICTION_VERSIONS_LOADED = 2
# The run's two dbt builds, named selections of dbt_project/selectors.yml: every layer but the marts
# on the predictions, then those marts once scoring has written the predictions.
CORE_SELECTOR = "core"
MONITORING_SELECTOR = "monitoring"
# `core` without dbt's own generic tests: what the Spark equality test builds on Spark.
CORE_ON_SPARK_SELECTOR = "core_on_spark"


# --- The scoring API ------------------------------------------------------------------------------

SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8000
# Bound to any other address than loopback, the service needs this key in every request's
# X-API-Key header (but /health's).
API_KEY_VARIABLE = "LAKEHOUSE_API_KEY"
MAX_BATCH_FLIGHTS = 10_000
# A request body larger than this is refused (413): a full batch is about 3 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024
# How often the service looks for a newly published version (seconds).
RELOAD_INTERVAL_SECONDS = 2.0
# A published version that failed to load is tried again after twice the interval, then twice as
# long each time up to this (seconds): a broken publish is not read in full every interval.
RELOAD_RETRY_MAX_SECONDS = 300.0


# --- The live feed ---------------------------------------------------------------------------------

# A day's schedule (flights, aircraft) is known from local midnight this many days before it: a
# decision up to a day before departure sees its whole day's schedule.
SCHEDULE_KNOWN_DAYS_AHEAD = 1
# How far ahead a schedule may lie: of when the feed is told it, and of the data's dates for the
# API (airlines publish about a year ahead; further is a mistake, not a plan).
SCHEDULE_REACH_DAYS = 366
# The longest a scheduled flight may last (the longest nonstop flights take about 19 hours): an
# arrival later than this after the departure is a mistake in the schedule.
MAX_SCHEDULED_FLIGHT_HOURS = 24
# The years (UTC) an instant on the wire may lie in: wider than any schedule, narrow enough that
# the services' date arithmetic (look-backs of weeks, schedules days ahead) stays in the calendar.
INSTANT_YEARS = (1900, 2199)
# How far after the service's own clock an event may be known (or a batch's clock lie): the
# producer's clock and the service's differ a little; an event known later is not known yet.
FEED_CLOCK_SKEW_MINUTES = 5
# The most events one POST /events may carry (a larger batch is refused whole, 413/422).
MAX_FEED_EVENTS = 10_000
# `lakehouse replay`: feed time per batch when paced, events per batch when not, how long it
# keeps retrying a service that does not answer (restarting, say) before it gives up, and how
# long it waits for the first answer (a service just started; none at all at a wrong address).
REPLAY_STEP_SECONDS = 60
REPLAY_BATCH_EVENTS = 2_000
REPLAY_RETRY_SECONDS = 120
REPLAY_FIRST_ANSWER_SECONDS = 15
# The board: departures shown per airport, recent decisions shown, seconds between refreshes.
BOARD_DEPARTURES = 6
BOARD_RECENT = 15
BOARD_REFRESH_SECONDS = 3
# The features the board shows beside each probability (largest SHAP contributions).
BOARD_DRIVERS = 3
# `lakehouse serve` tells the app how many workers share the port: a feed lives in one process.
WORKERS_VARIABLE = "LAKEHOUSE_SERVE_WORKERS"


# --- Paths ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One run's build folder: the warehouse and lake it writes and audits before publishing."""

    folder: Path

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.folder / "lake"


@dataclass(frozen=True)
class Paths:
    raw: Path
    warehouse: Path
    lake: Path
    # One folder per run (`build_of`), and `latest` naming the last run's build.
    builds: Path
    quality: Path
    models: Path
    dbt_project: Path
    dbt_target: Path
    expectations: Path

    def build_of(self, run_id: str) -> Build:
        """The folder a run builds in, named by its run id: no run writes another's build."""
        return Build(self.builds / run_id)

    @property
    def latest_build(self) -> Path:
        """A symlink to the build the last run left (refused, interrupted or crashed); absent when
        it published its build or built nothing. Never a build being written."""
        return self.builds / "latest"

    @property
    def active_build(self) -> Build:
        """The build of the run in progress, through a symlink (`data/build/active`) that every run
        points at its own folder: dbt sees the same paths on every run, so its partial parsing
        (in `dbt_target`, keyed on the profile's warehouse path) carries over from run to run."""
        return Build(self.builds / "active")

    @property
    def build_warehouse(self) -> Path:
        """The warehouse of the latest build: `lakehouse query --build`, `lakehouse validate`."""
        return self.latest_build / "warehouse.duckdb"

    @property
    def run_lock(self) -> Path:
        """Held (flock) by the run using this data folder, its PID inside."""
        return self.warehouse.parent / ".run.lock"

    @property
    def validation_history(self) -> Path:
        """One Parquet file per validation run, appended and never rewritten."""
        return self.quality / "validation_results"

    @property
    def pipeline_runs(self) -> Path:
        """One Parquet file per pipeline run: how it ended (published, refused, interrupted...)."""
        return self.quality / "pipeline_runs"

    @property
    def quality_reports(self) -> Path:
        return self.quality / "reports"

    @property
    def model_registry(self) -> Path:
        """One Parquet file per training run (models, then metrics), appended, never rewritten."""
        return self.models / "registry"

    @property
    def model_runs(self) -> Path:
        """A folder per training run: model files, preprocessing, report."""
        return self.models / "runs"

    @property
    def predictions(self) -> Path:
        """One Parquet file per scoring model version (replaced when it re-scores)."""
        return self.models / "predictions"

    @property
    def prediction_expectations(self) -> Path:
        """The suites of the tables scoring writes and the marts built on them."""
        return self.expectations / "predictions"

    @property
    def served_predictions(self) -> Path:
        """What the scoring API answered, one JSON Lines file per process and day, appended; the
        next `make run` loads them into ml.served_predictions."""
        return self.models / "served"

    @property
    def live(self) -> Path:
        """One folder per live feed (its start, journal of events, rejected events) and `current`
        naming the feed the service resumes after a restart."""
        return self.warehouse.parent / "live"

    @property
    def feature_lake(self) -> Path:
        """The features of each horizon as Parquet, a file per month (`lakehouse export-features`):
        what `lakehouse train --engine dask` reads, partition by partition."""
        return self.warehouse.parent / "features"

    @property
    def spark(self) -> Path:
        """`lakehouse build-spark`'s state: the raw files landed as Parquet, Spark's warehouse
        (a folder of Parquet per table) and its metastore."""
        return self.warehouse.parent / "spark"

    @property
    def published_versions(self) -> Path:
        """Each publish moves a checked warehouse and its lake into a folder here."""
        return self.warehouse.parent / "published"

    @property
    def current(self) -> Path:
        """The symlink naming the published version: switching it publishes, in one rename.
        `warehouse` and `lake` are symlinks through it."""
        return self.warehouse.parent / "current"


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default


def paths() -> Paths:
    """Paths for this process, read from the environment at call time."""
    data = _path("LAKEHOUSE_DATA_DIR", REPO_ROOT / "data")
    return Paths(
        raw=_path("LAKEHOUSE_RAW_DIR", data / "raw"),
        warehouse=data / "warehouse.duckdb",
        lake=data / "lake",
        builds=_path("LAKEHOUSE_BUILD_DIR", data / "build"),
        quality=_path("LAKEHOUSE_QUALITY_DIR", data / "quality"),
        models=_path("LAKEHOUSE_MODELS_DIR", data / "models"),
        dbt_project=DBT_PROJECT_DIR,
        # not dbt_project/target: dbt run by hand there parses with other paths, and each would
        # make the other parse from scratch
        dbt_target=_path("LAKEHOUSE_DBT_TARGET_DIR", data / "build" / "dbt_target"),
        expectations=_path("LAKEHOUSE_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
    )
