"""How long the dbt build takes, what dbt itself costs, and how the build scales (`make bench`).

1. dbt's overhead: the bundled data is built with `dbt build`, then the SQL dbt executed (read back
   from its artifacts) is replayed with the DuckDB Python API alone on a fresh database. The gap
   is what dbt adds: parsing, compiling, introspection queries, renames, transactions.
2. Scaling: synthetic landing zones holding 10x and 100x the bundled flights (copy k of the 2013
   data moved to the year 2013 + k, see SOURCE_YEAR) are built in a child process each, so that
   each build's peak memory can be read.

Nothing here touches data/warehouse.duckdb, data/lake or dbt_project/target: every build writes its
warehouse, lake, dbt artifacts and logs under --workdir. Not run by the tests: timings are noisy.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml  # type: ignore[import-untyped]  # PyYAML comes with dbt; its stubs are not installed

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = REPO_ROOT / "dbt_project"
BUNDLED_RAW = REPO_ROOT / "data" / "raw"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "lakehouse-bench"
REFERENCE_TABLES = ("planes", "airports", "airlines")
ORIGIN_TIME_ZONE = "America/New_York"
WEATHER_MEASURES = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
GIB = 1024**3
MARKER = ".complete"
# Bump when the generator changes, so that a cached landing zone from an older one is rebuilt.
GENERATOR_VERSION = 2

# Targets (informational: a miss prints FAIL but the benchmark still succeeds).
BUNDLED_BUILD_TARGET_S = 15.0
MEMORY_TARGET_GIB = 24.0
# "About linear": a scale may take up to this factor more than scale x the 1x time.
LINEAR_TOLERANCE = 1.1


# --------------------------------------------------------------------------------------------
# Synthetic landing zones
# --------------------------------------------------------------------------------------------


# Why the copies are shifted by whole weeks, not by exactly a year:
# The published delays and air times are durations measured under 2013's clocks. Keeping each
# row's month/day in another year moves it relative to the DST changes (US rule: second Sunday of
# March, first Sunday of November), so a flight across a change in the new year, or one across
# 2013's change date that is now an ordinary day, gains or loses an hour: its published arr_delay
# and air_time no longer agree with its clock times (a 2x trial failed fct_flights' arrival tests
# on 38 rows of the shifted year, and a failing test makes `dbt build` skip everything downstream).
# So copy k is shifted by the whole number of weeks that takes 2013's DST start (2013-03-10) to the
# DST start of 2013 + k. DST always lasts exactly 34 weeks, so the end aligns too; every date then
# keeps its weekday and its UTC offset, every instant moves by the same number of days, and all
# durations stay exact. Years come out as 2013 + k; dates move by -2 to +4 days from "same month
# and day", so a copy's first or last days can fall in the neighbouring year's files. Copies meet
# at year ends (copy k+1's Jan 1 can land on copy k's Dec 31), so flight numbers get + 10000 * k
# (max 998,500, still an integer) to keep (carrier, flight, origin, scheduled local departure)
# unique. Weather is shifted as UTC instants by the same days and its local fields recomputed,
# which keeps (origin, time_hour) unique and the repeated November hour on the right date.
SOURCE_YEAR = 2013
FLIGHT_NUMBER_STEP = 10000

_DST_START = "(make_date({year}, 3, 8) + cast((7 - isodow(make_date({year}, 3, 8))) % 7 as integer))"


def _create_shifts(con: duckdb.DuckDBPyConnection, years: int) -> None:
    """bench_shifts(years_added, days_added): the DST-aligned shift of each copy (see above)."""
    target = _DST_START.format(year=f"{SOURCE_YEAR} + k")
    source = _DST_START.format(year=SOURCE_YEAR)
    con.execute(f"""
        create table bench_shifts as
        select cast(k as integer) as years_added, cast({target} - {source} as integer) as days_added
        from range({years}) as copies(k)
    """)


def _load_flights(con: duckdb.DuckDBPyConnection, raw: Path) -> None:
    """The bundled flights as text (NA strings kept verbatim), in file order, with their date."""
    con.execute(f"""
        create table bench_flights as
        select
            row_number() over () as source_order,
            *,
            make_date(cast(year as integer), cast(month as integer), cast(day as integer)) as source_date
        from read_csv('{raw}/flights/*/flights_*.csv.gz', header = true, all_varchar = true)
    """)
    years = con.execute("select distinct year from bench_flights").fetchall()
    if years != [(str(SOURCE_YEAR),)]:
        raise ValueError(f"expected only {SOURCE_YEAR} in the bundled flights, found {years}")


def _flight_files(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int, list[int]]]:
    """(year, month, copies landing in it) for each monthly flights file of the synthetic zone."""
    rows = con.execute("""
        with dates as (select distinct source_date from bench_flights)
        select
            year(dates.source_date + shifts.days_added) as year,
            month(dates.source_date + shifts.days_added) as month,
            list(distinct shifts.years_added order by shifts.years_added) as copies
        from dates
        cross join bench_shifts as shifts
        group by all
        order by 1, 2
    """).fetchall()
    return [(int(year), int(month), list(copies)) for year, month, copies in rows]


def _flights_copy_sql(year: int, month: int, copies: list[int], path: Path) -> str:
    """One month of the shifted copies, written like the source's monthly gzip CSV export.

    time_hour is recomputed from the new local date and clock time the way the model reads a
    local time (`timezone(zone, local)`): with DST aligned it equals the published one moved by
    the shift, and a clock time in a skipped or repeated hour resolves as the model resolves it.
    """
    new_date = "(flights.source_date + shifts.days_added)"
    local = f"make_timestamp(year({new_date}), month({new_date}), day({new_date}), "
    local += "cast(flights.hour as integer), cast(flights.minute as integer), 0)"
    utc_hour = f"date_trunc('hour', timezone('UTC', timezone('{ORIGIN_TIME_ZONE}', {local})))"
    first_day = f"make_date({year}, {month}, 1)"
    return f"""
        copy (
            select flights.* exclude (source_order, source_date) replace (
                cast(year({new_date}) as varchar) as year,
                cast(month({new_date}) as varchar) as month,
                cast(day({new_date}) as varchar) as day,
                cast(cast(flights.flight as integer) + {FLIGHT_NUMBER_STEP} * shifts.years_added as varchar)
                    as flight,
                strftime({utc_hour}, '{ISO_UTC}') as time_hour
            )
            from bench_flights as flights
            inner join bench_shifts as shifts
                on shifts.years_added in ({", ".join(map(str, copies))})
            where {new_date} >= {first_day} and {new_date} < {first_day} + interval 1 month
            order by shifts.years_added, flights.source_order
        ) to '{path}' (format csv, header true, compression gzip)
    """


def _load_weather(con: duckdb.DuckDBPyConnection, raw: Path) -> list[tuple[int, int]]:
    """Every copy of the weather in one table; returns the (local year, month) files to write.

    Each UTC instant moves by its copy's days and the local year/month/day/hour are recomputed
    from it (see the comment above SOURCE_YEAR). Measures are read as raw JSON, so their
    published digits and "NA" strings are written back as they are.
    """
    columns = {
        "origin": "VARCHAR",
        **{name: "VARCHAR" for name in ("year", "month", "day", "hour")},
        **dict.fromkeys(WEATHER_MEASURES, "JSON"),
        "time_hour": "VARCHAR",
    }
    con.execute(f"""
        create table bench_weather as
        with
        source as (
            select row_number() over () as source_order, *
            from read_json('{raw}/weather/*/weather_*.jsonl', format = 'newline_delimited',
                columns = {columns})
        ),
        shifted as (
            select
                source.*,
                shifts.years_added,
                strptime(source.time_hour, '{ISO_UTC}') + to_days(shifts.days_added) as utc
            from source
            cross join bench_shifts as shifts
        ),
        located as (
            select *, timezone('{ORIGIN_TIME_ZONE}', timezone('UTC', utc)) as local_hour
            from shifted
        )
        select
            years_added,
            source_order,
            origin,
            cast(year(local_hour) as integer) as year,
            cast(month(local_hour) as integer) as month,
            cast(day(local_hour) as integer) as day,
            cast(hour(local_hour) as integer) as hour,
            {", ".join(WEATHER_MEASURES)},
            strftime(utc, '{ISO_UTC}') as time_hour
        from located
    """)
    rows = con.execute("select distinct year, month from bench_weather order by 1, 2").fetchall()
    return [(int(year), int(month)) for year, month in rows]


def _weather_copy_sql(year: int, month: int, path: Path) -> str:
    """One local month of weather as JSON Lines, keys in the source's order."""
    return f"""
        copy (
            select * exclude (years_added, source_order)
            from bench_weather
            where year = {year} and month = {month}
            order by years_added, source_order
        ) to '{path}' (format json)
    """


def _run_parallel(con: duckdb.DuckDBPyConnection, statements: list[str], workers: int = 2) -> None:
    """Run COPY statements on cursors in parallel: each gzip file is written by one thread."""

    def run(sql: str) -> None:
        with con.cursor() as cursor:
            cursor.execute(sql)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, statements))


def generate_synthetic_raw(bundled: Path, target: Path, years: int) -> bool:
    """Write a landing zone with `years` copies of the bundled year; False when a cached one exists.

    Written to a sibling folder and renamed when complete (with a marker file), so an interrupted
    run is never mistaken for a finished one.
    """
    stamp = {"years": years, "generator": GENERATOR_VERSION, "source": str(bundled)}
    if (target / MARKER).exists() and json.loads((target / MARKER).read_text()) == stamp:
        return False
    partial = target.with_name(target.name + ".partial")
    for stale in (partial, target):
        if stale.exists():
            shutil.rmtree(stale)
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    _create_shifts(con, years)
    _load_flights(con, bundled)
    statements: list[str] = []
    for year, month, copies in _flight_files(con):
        path = partial / "flights" / str(year) / f"flights_{year}-{month:02d}.csv.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        statements.append(_flights_copy_sql(year, month, copies, path))
    for year, month in _load_weather(con, bundled):
        path = partial / "weather" / str(year) / f"weather_{year}-{month:02d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        statements.append(_weather_copy_sql(year, month, path))
    _run_parallel(con, statements)
    con.close()
    for table in REFERENCE_TABLES:
        shutil.copytree(bundled / table, partial / table, ignore=shutil.ignore_patterns("README*"))
    (partial / MARKER).write_text(json.dumps(stamp) + "\n")
    partial.rename(target)
    return True


# --------------------------------------------------------------------------------------------
# One dbt build in a child process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDir:
    """Everything one build writes: warehouse, lake, dbt artifacts and logs."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def target(self) -> Path:
        return self.root / "target"

    @property
    def logs(self) -> Path:
        """Where lakehouse.dbt.run_dbt puts dbt's log when given a target folder."""
        return self.target / "logs"

    @property
    def child_output(self) -> Path:
        return self.root / "child.json"

    @property
    def child_errors(self) -> Path:
        return self.root / "child.stderr"


def child_build(raw: Path, run: RunDir, project_dir: Path) -> int:
    """Entry point of the child: `dbt build` through the project's own runner, timed.

    dbt's artifacts and log go to the run folder (not dbt_project/target), so concurrent builds in
    the repository are not disturbed and the replay reads exactly this build's SQL.
    """
    from lakehouse.platform.dbt import DbtError, run_dbt

    # The replay reads every statement from the debug log (dbt's default file level; made explicit).
    # The prediction marts and their sources come with `lakehouse run`, not with a dbt build.
    args = ["build", "--exclude", "tag:ml", "--log-level-file", "debug"]
    folders: dict[str, Path] = {}
    if "target_dir" in inspect.signature(run_dbt).parameters:
        folders["target_dir"] = run.target
    else:  # an older run_dbt that always used dbt_project/target: point dbt elsewhere by flags
        args += ["--target-path", str(run.target), "--log-path", str(run.logs)]
    started = time.perf_counter()
    try:
        summary = run_dbt(
            args, project_dir=project_dir, warehouse=run.warehouse, raw_dir=raw, lake_dir=run.lake, **folders
        )
    except DbtError as error:
        report = {"ok": False, "seconds": time.perf_counter() - started, "detail": str(error)}
        run.child_output.write_text(json.dumps(report))
        return 1
    report = {"ok": True, "seconds": time.perf_counter() - started, "detail": summary.describe()}
    run.child_output.write_text(json.dumps(report))
    return 0


@dataclass
class BuildResult:
    scale: int
    ok: bool
    seconds: float
    peak_rss_bytes: int
    detail: str
    completed: bool = False
    flights: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    warehouse_bytes: int = 0

    @property
    def status(self) -> str:
        """ok; dbt failures (every node ran or was skipped, some failed); or crashed (no results)."""
        if self.ok:
            return "ok"
        return "dbt failures" if self.completed else "crashed"


def build_in_child(scale: int, raw: Path, run: RunDir, project_dir: Path) -> BuildResult:
    """Run the build in a fresh Python process and read its own peak RSS from wait4().

    wait4 gives that one child's rusage (RUSAGE_CHILDREN would be the maximum over every child so
    far). Linux folds the peaks of the processes the child waited for into it, so ru_maxrss also
    covers a dbt (and DuckDB) process that run_dbt starts and waits for.
    """
    if run.root.exists():
        shutil.rmtree(run.root)
    run.root.mkdir(parents=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-raw",
        str(raw),
        "--child-run",
        str(run.root),
        "--project-dir",
        str(project_dir),
    ]
    started = time.perf_counter()
    with run.child_errors.open("wb") as errors:
        process = subprocess.Popen(command, stdout=errors, stderr=errors, cwd=REPO_ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    if run.child_output.exists():
        report = json.loads(run.child_output.read_text())
    else:
        tail = run.child_errors.read_text(errors="replace")[-2000:]
        report = {"ok": False, "seconds": wall, "detail": f"exit code {process.returncode}: {tail}"}
    result = BuildResult(scale, bool(report["ok"]), float(report["seconds"]), peak, str(report["detail"]))
    result.completed = (run.target / "run_results.json").exists() and "could not run" not in result.detail
    _read_warehouse_figures(run, result)
    return result


def _read_warehouse_figures(run: RunDir, result: BuildResult) -> None:
    """Flights staged and rows quarantined per source, as far as the build got (a failed node
    makes dbt skip everything downstream, so a table may be missing: its figure stays 0)."""
    if not run.warehouse.exists():
        return
    result.warehouse_bytes = run.warehouse.stat().st_size
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        try:
            flights = con.execute("select count(*) from main.stg_nycflights__flights").fetchall()
            result.flights = int(flights[0][0])
            rejected = con.execute(
                "select source_name, count(*) from quarantine.rejected_rows group by 1 order by 1"
            ).fetchall()
            result.quarantined = {str(name): int(count) for name, count in rejected}
        except duckdb.CatalogException:
            pass


# --------------------------------------------------------------------------------------------
# Replaying dbt's SQL with DuckDB alone
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    unique_id: str
    resource_type: str
    run_file: Path
    dbt_seconds: float
    dbt_status: str
    post_hooks: tuple[str, ...]


@dataclass
class ReplayResult:
    seconds: float
    node_seconds: dict[str, float]
    failing_tests: list[str]
    skipped: list[str]
    post_hooks: int


# run_results statuses of nodes whose SQL ran to the end (a failing test still ran its query).
EXECUTED = {"success", "pass", "fail", "warn"}
# A dbt log entry starts with a time stamp, the level and the thread: `03:34:58.51 [debug] [Thread-2 (]: `.
_LOG_ENTRY = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[[a-z ]+\] \[[^\]]*\]: ", re.MULTILINE)
_QUERY = re.compile(r"^On (?P<node>[\w.]+): /\* \{.*?\} \*/\s*(?P<sql>.*)$", re.DOTALL)


def _executed_statements(log_file: Path) -> Iterator[tuple[str, str]]:
    """(node id, SQL) for every query dbt logged, in the order dbt ran them."""
    text = log_file.read_text(errors="replace")
    for entry in _LOG_ENTRY.split(text):
        match = _QUERY.match(entry.strip())
        if match:
            yield match["node"], match["sql"].strip()


def _post_hooks(log_file: Path, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """The rendered post-hook statements of each model.

    dbt writes a model's main statement under target/run but not its hooks, and the manifest keeps
    hooks unrendered (`{{ export_to_lake() }}`), so they are read from dbt's debug log, which
    records every statement as executed. The project's hooks are the lake COPY statements.
    """
    hooks: dict[str, list[str]] = {}
    for node_id, sql in _executed_statements(log_file):
        node = manifest["nodes"].get(node_id, {})
        if node.get("config", {}).get("post-hook") and re.match(r"copy\s*\(", sql, re.IGNORECASE):
            hooks.setdefault(node_id, []).append(sql)
    return hooks


def _run_file(run: RunDir, manifest: dict[str, Any], unique_id: str) -> Path:
    """The SQL dbt ran for a node. Seeds, models and data tests: the manifest's build_path. Unit
    tests have none; dbt writes them under target/run/<package>/<their yml>/.../<name>.sql."""
    node = manifest["nodes"].get(unique_id)
    if node and node.get("build_path"):
        return Path(node["build_path"])
    unit_test = manifest.get("unit_tests", {}).get(unique_id)
    if unit_test:
        folder = run.target / "run" / unit_test["package_name"] / unit_test["original_file_path"]
        found: list[Path] = sorted(folder.rglob(f"{unit_test['name']}.sql"))
        if found:
            return found[0]
    return run.target / "missing" / unique_id


def _ordered_nodes(run: RunDir) -> list[Node]:
    """Nodes in an order that respects depends_on; ties keep run_results order (dbt's own)."""
    manifest = json.loads((run.target / "manifest.json").read_text())
    results = json.loads((run.target / "run_results.json").read_text())["results"]
    hooks = _post_hooks(run.logs / "dbt.log", manifest)
    position = {result["unique_id"]: index for index, result in enumerate(results)}
    nodes: dict[str, Node] = {}
    for result in results:
        unique_id = result["unique_id"]
        nodes[unique_id] = Node(
            unique_id=unique_id,
            resource_type=unique_id.split(".")[0],
            run_file=_run_file(run, manifest, unique_id),
            dbt_seconds=float(result["execution_time"]),
            dbt_status=str(result["status"]),
            post_hooks=tuple(hooks.get(unique_id, [])),
        )
    ordered: list[Node] = []
    done: set[str] = set()

    def visit(unique_id: str) -> None:
        if unique_id in done or unique_id not in nodes:
            return
        done.add(unique_id)
        parents = manifest["nodes"].get(unique_id, {}).get("depends_on", {}).get("nodes", [])
        for parent in sorted(parents, key=lambda p: position.get(p, -1)):
            visit(parent)
        ordered.append(nodes[unique_id])

    for unique_id in sorted(nodes, key=position.__getitem__):
        visit(unique_id)
    return ordered


def _schemas(run: RunDir) -> list[str]:
    """Schemas the build created (dbt issues `create schema if not exists` for each)."""
    manifest = json.loads((run.target / "manifest.json").read_text())
    return sorted({node["schema"] for node in manifest["nodes"].values() if node["resource_type"] != "test"})


def _rewrite(sql: str, run: RunDir, replay_lake: Path) -> str:
    """dbt builds `x__dbt_tmp` and renames it to `x`; build `x` directly, and write the lake
    files of the replay to its own folder."""
    return sql.replace("__dbt_tmp", "").replace(str(run.lake), str(replay_lake))


# `{{ env_var('NAME', 'default') }}`, the only Jinja the replay resolves in profile settings.
_ENV_VAR = re.compile(r"""^\{\{\s*env_var\(\s*'(?P<name>\w+)'\s*(?:,\s*'(?P<default>[^']*)'\s*)?\)\s*\}\}$""")


def profile_settings(project_dir: Path) -> dict[str, str]:
    """The DuckDB `settings:` of the project's profile and target, which dbt applies to its
    connection; the replay applies them too. Values using `env_var` are resolved as dbt would;
    any other Jinja is left out."""
    profile_name = yaml.safe_load((project_dir / "dbt_project.yml").read_text())["profile"]
    profile = yaml.safe_load((project_dir / "profiles.yml").read_text())[profile_name]
    output = profile["outputs"][profile.get("target", "dev")]
    settings: dict[str, str] = {}
    for name, value in (output.get("settings") or {}).items():
        text = str(value)
        match = _ENV_VAR.match(text.strip())
        if match:
            text = os.environ.get(match["name"], match["default"] or "")
        if "{{" not in text:
            settings[str(name)] = text
    return settings


def replay(run: RunDir, replay_dir: Path, project_dir: Path) -> ReplayResult:
    """Execute the statements of a finished build, in order, on a fresh database with DuckDB alone.

    Seeds: their run file (create table + COPY FROM the CSV, with the seed's column types).
    Models: their `create table/view ... as` (or contract DDL + insert) then their post-hooks.
    Tests: their query; a test that returns failures is reported. The database file has the same
    name as the build's, so the statements' fully qualified names resolve unchanged.
    """
    if replay_dir.exists():
        shutil.rmtree(replay_dir)
    replay_lake = replay_dir / "lake"
    replay_lake.mkdir(parents=True)
    nodes = _ordered_nodes(run)
    node_seconds: dict[str, float] = {}
    failing: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    con = duckdb.connect(str(replay_dir / run.warehouse.name))
    for name, value in profile_settings(project_dir).items():
        con.execute(f"set {name} = '{value}'")
    con.execute("set enable_progress_bar = false")  # as under dbt: no console drawing
    for schema in _schemas(run):
        con.execute(f'create schema if not exists "{schema}"')
    for node in nodes:
        if not node.run_file.is_file() or node.dbt_status not in EXECUTED:
            skipped.append(f"{node.unique_id} ({node.dbt_status})")
            continue
        node_started = time.perf_counter()
        con.execute(_rewrite(node.run_file.read_text(), run, replay_lake))
        if node.resource_type in {"test", "unit_test"}:
            # Fetched, as dbt does; dbt compares a unit test's rows with its expectations in Python.
            rows = con.fetchall()
            if node.resource_type == "test" and rows and rows[0][0]:
                failing.append(f"{node.unique_id}: {rows[0][0]} failures")
        for hook in node.post_hooks:
            con.execute(_rewrite(hook, run, replay_lake))
        node_seconds[node.unique_id] = time.perf_counter() - node_started
    con.close()
    hooks = sum(len(node.post_hooks) for node in nodes if node.unique_id in node_seconds)
    return ReplayResult(time.perf_counter() - started, node_seconds, failing, skipped, hooks)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _short(unique_id: str, width: int = 52) -> str:
    """`model fct_flights`, `test unique_...` (hash dropped), `unit_test <name>`, cut to width."""
    kind, _, name = unique_id.split(".", 2)
    if kind == "test":
        name = name.rsplit(".", 1)[0]
    elif kind == "unit_test":
        name = name.split(".", 1)[1]
    label = f"{kind} {name}"
    return label if len(label) <= width else label[: width - 3] + "..."


def print_overhead(build: BuildResult, run: RunDir, result: ReplayResult) -> None:
    """dbt's build time beside DuckDB's time for the same SQL, and the slowest nodes."""
    run_results = json.loads((run.target / "run_results.json").read_text())
    node_total = sum(float(r["execution_time"]) for r in run_results["results"])
    print("\n== 1. dbt overhead on the bundled data (336,776 flights) ==")
    print(f"dbt build, wall (run_dbt: start-up, parse, compile, run)   {build.seconds:8.2f} s")
    print(f"  of which run_results elapsed_time (after parsing)        {run_results['elapsed_time']:8.2f} s")
    print(f"  sum of node execution times (2 dbt threads overlap)      {node_total:8.2f} s")
    print(f"DuckDB alone, same SQL in order, one connection            {result.seconds:8.2f} s")
    ratio = build.seconds / result.seconds
    print(f"ratio dbt / DuckDB                                         {ratio:8.2f} x")
    print(
        f"dbt's overhead                                             {build.seconds - result.seconds:8.2f} s"
    )
    if not build.ok:
        print(f"WARNING: dbt reported failures, so the figures cover a partial build:\n  {build.detail}")
    replayed = len(result.node_seconds)
    print(f"replayed {replayed} nodes and {result.post_hooks} post-hooks (lake COPY, read from dbt.log)")
    if result.skipped:
        print(f"not replayed (no run file, or dbt did not run them): {result.skipped}")
    for failure in result.failing_tests:
        print(f"  replayed test failed: {failure}")
    print(f"\n{'slowest nodes (run_results.json)':<54} {'dbt s':>7} {'DuckDB alone s':>14}")
    slowest = sorted(run_results["results"], key=lambda r: -float(r["execution_time"]))[:5]
    for node in slowest:
        alone = result.node_seconds.get(node["unique_id"], float("nan"))
        print(f"  {_short(node['unique_id']):<52} {float(node['execution_time']):7.2f} {alone:14.2f}")
    target = build.seconds < BUNDLED_BUILD_TARGET_S
    verdict = _verdict(target)
    print(f"target: bundled build under {BUNDLED_BUILD_TARGET_S:.0f} s: {verdict} ({build.seconds:.1f} s)")


def print_scaling(results: list[BuildResult], generation: dict[int, str]) -> None:
    """One row per scale, the quarantine counts, then the targets."""
    base = next((r for r in results if r.scale == 1 and r.completed), None)
    print("\n== 2. Scaling (synthetic copies of 2013, shifted by whole weeks to 2013 + k) ==")
    header = f"{'scale':>5} {'flights':>12} {'build s':>9} {'s/M flights':>11} {'peak GiB':>9} {'vs 1x':>7}"
    print(header + f" {'warehouse GiB':>13}  {'status':<12}  data")
    for r in results:
        ratio = f"{r.seconds / base.seconds:6.1f}x" if base else "    n/a"
        per_million = r.seconds / (r.flights / 1e6) if r.flights else float("nan")
        peak, size = r.peak_rss_bytes / GIB, r.warehouse_bytes / GIB
        print(
            f"{r.scale:>4}x {r.flights:>12,} {r.seconds:>9.1f} {per_million:>11.1f} "
            f"{peak:>9.2f} {ratio:>7} {size:>13.2f}  {r.status:<12}  {generation[r.scale]}"
        )
    print("(flights: staged rows; build s: dbt invoke inside the child; peak: the child's max RSS)")
    print("quarantined rows per source (expect scale x the 1x counts):")
    for r in results:
        counts = ", ".join(f"{name} {count:,}" for name, count in r.quarantined.items()) or "none"
        print(f"  {r.scale:>4}x: {counts if r.completed else 'n/a'}")
    for r in results:
        if not r.ok:
            print(f"  {r.scale}x {r.status}: {r.detail}")
    _print_scaling_targets(results, base)


def _print_scaling_targets(results: list[BuildResult], base: BuildResult | None) -> None:
    """A build that did not finish passes no target: its time and peak cover part of the work."""
    for r in results:
        if r.scale == 1:
            continue
        peak = r.peak_rss_bytes / GIB
        memory = _verdict(r.ok and peak <= MEMORY_TARGET_GIB)
        unfinished = "" if r.ok else f", build {r.status}"
        print(f"target: {r.scale}x within {MEMORY_TARGET_GIB:.0f} GiB: {memory} ({peak:.2f} GiB{unfinished})")
        if base:
            ratio = r.seconds / base.seconds
            linear = _verdict(r.ok and ratio <= r.scale * LINEAR_TOLERANCE)
            label = f"{r.scale}x time at most about {r.scale}x the 1x time"
            print(f"target: {label}: {linear} ({ratio:.1f}x{unfinished})")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _scales(text: str) -> list[int]:
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("scales are positive integers, e.g. 1,10,100")
    return values


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scales", type=_scales, default=[1, 10, 100], help="multiples of the bundled flights"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated landing zones for the next run"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch folder")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="dbt project to build (default: the repository's); e.g. a patched copy to try a change",
    )
    parser.add_argument("--child-raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-run", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(list(argv))


@contextmanager
def _timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"... {label}", flush=True)
    yield
    print(f"    done in {time.perf_counter() - started:.1f} s", flush=True)


def landing_zone(scale: int, workdir: Path) -> tuple[Path, str]:
    """The raw folder for a scale, generated unless cached; and how it was obtained."""
    if scale == 1:
        return BUNDLED_RAW, "bundled"
    raw = workdir / f"raw-{scale}x"
    started = time.perf_counter()
    with _timed(f"synthetic landing zone {scale}x in {raw}"):
        generated = generate_synthetic_raw(BUNDLED_RAW, raw, scale)
    return raw, (f"generated in {time.perf_counter() - started:.0f} s" if generated else "cached")


def run_scale(scale: int, workdir: Path, project_dir: Path, keep: bool) -> tuple[BuildResult, str]:
    """Land (or reuse) one scale's data and build it; at 1x also measure dbt's overhead."""
    raw, origin = landing_zone(scale, workdir)
    run = RunDir(workdir / f"run-{scale}x")
    with _timed(f"dbt build {scale}x in a child process"):
        result = build_in_child(scale, raw, run, project_dir)
    if scale == 1 and result.completed:
        with _timed("replaying the 1x build's SQL with DuckDB alone"):
            replayed = replay(run, workdir / "replay-1x", project_dir)
        print_overhead(result, run, replayed)
        shutil.rmtree(workdir / "replay-1x")
    if result.ok:
        shutil.rmtree(run.root)
    else:
        print(f"    {result.status}: kept {run.root} (dbt.log under target/logs) for diagnosis")
    if not keep and scale != 1:
        shutil.rmtree(raw)
    return result, origin


def main(argv: Iterable[str]) -> int:
    args = parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    if args.child_raw and args.child_run:
        return child_build(args.child_raw, RunDir(args.child_run), project_dir)
    workdir: Path = args.workdir.resolve()
    scales: list[int] = sorted({1, *args.scales})  # 1x is the baseline of every ratio
    print(f"project {project_dir}; workdir {workdir}; scales {scales}")
    print(f"DuckDB {duckdb.__version__}; {os.cpu_count()} cores; {_total_memory_gib():.1f} GiB RAM")
    results: list[BuildResult] = []
    generation: dict[int, str] = {}
    for scale in scales:
        result, generation[scale] = run_scale(scale, workdir, project_dir, args.keep)
        results.append(result)
    print_scaling(results, generation)
    return 0 if all(r.ok for r in results) else 1


def _total_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
