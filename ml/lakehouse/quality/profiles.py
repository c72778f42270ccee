"""Each raw file's measures, profiled and judged against the accepted files: one impossible
reading is an outlier, a month of them is a broken source.

The base models parse every raw file once (`base_nycflights__<source>`, every row, quarantined
ones too); this module profiles the measures declared in the `raw_measures` var of
dbt_project.yml file by file: rows, values present, values outside the stated bounds, distinct
values and quartiles. The profiles are compared with what was learned from the accepted files
(the published warehouse's `quality.raw_file_profiles`, or, before anything is published, the
other files of the same source in this run):

- a file with more than `RAW_MAX_OUT_OF_RANGE_SHARE` of a measure outside its bounds (a unit or
  scale change: pressure in inches of mercury, delays in seconds) fails critically; fewer are
  outliers, a warning (staging flags them, or a suite quarantines them);
- a file with under `RAW_MIN_PRESENT_RATIO` of the share of values the sparsest accepted file had
  (a column of NULLs, a field lost in an export) fails critically;
- a file where a measure has one value throughout, where accepted files had several (a constant
  column: a default written over every reading), fails critically;
- a file whose median lies outside the accepted files' medians, widened by `RAW_MEDIAN_MARGIN` or
  the widest accepted interquartile range (a shift or a scale change within the bounds), fails
  critically.

Every failure names the file and the column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from lakehouse.config import (
    RAW_MAX_OUT_OF_RANGE_SHARE,
    RAW_MEDIAN_MARGIN,
    RAW_MIN_PRESENT_RATIO,
    RAW_MIN_PROFILED_VALUES,
    RAW_SPREAD_FACTOR,
    SAMPLE_SIZE,
    dbt_vars,
)
from lakehouse.quality.records import CheckResult, to_json

SUITE = "raw_profiles"
PROFILES_TABLE = "quality.raw_file_profiles"
NUMERIC_KINDS = {"integer", "double"}

PROFILE_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "file": pl.String(),
        "column_name": pl.String(),
        "rows": pl.Int64(),
        "present": pl.Int64(),
        "out_of_range": pl.Int64(),
        "distinct_values": pl.Int64(),
        "median": pl.Float64(),
        "q25": pl.Float64(),
        "q75": pl.Float64(),
    }
)


@dataclass(frozen=True)
class Measure:
    """A measure of a raw source as declared in `raw_measures`, with the kind the base model
    parses it as (`raw_sources`)."""

    source: str
    column: str
    kind: str
    bounds: tuple[float, float] | None

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def declared_measures() -> list[Measure]:
    variables = dbt_vars()
    measures = []
    for source, columns in variables["raw_measures"].items():
        kinds = variables["raw_sources"][source]["fields"]
        for column, bounds in columns.items():
            if column not in kinds:
                raise ValueError(f"raw_measures.{source}.{column} is not a field of raw_sources.{source}")
            measures.append(Measure(source, column, kinds[column], tuple(bounds) if bounds else None))
    return measures


def _profile_sql(measure: Measure, table: str) -> str:
    column = f'"{measure.column}"'
    if measure.bounds:
        low, high = measure.bounds
        out_of_range = f"count(*) filter (where {column} not between {low} and {high})"
    else:
        out_of_range = "0"
    quartiles = (
        f"median({column})::double, quantile_cont({column}, 0.25)::double, "
        f"quantile_cont({column}, 0.75)::double"
        if measure.is_numeric
        else "null::double, null::double, null::double"
    )
    return (
        f"select '{measure.source}', source_file, '{measure.column}', count(*), count({column}), "
        f"{out_of_range}, count(distinct {column}), {quartiles} from {table} group by source_file"
    )


def profile_files(warehouse: Path, measures: list[Measure] | None = None) -> pl.DataFrame:
    """The profile of every declared measure in every raw file, from the build's base models (a
    source whose base model is missing is skipped: dbt's failure says why)."""
    measures = declared_measures() if measures is None else measures
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = {
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        queries = [
            _profile_sql(m, f"main.base_nycflights__{m.source}")
            for m in measures
            if f"base_nycflights__{m.source}" in tables
        ]
        rows = connection.execute(" union all ".join(queries)).fetchall() if queries else []
    frame = pl.DataFrame(rows, schema=PROFILE_SCHEMA, orient="row")
    return frame.sort("source", "file", "column_name")


def load_profiles_into(warehouse: Path, profiles: pl.DataFrame) -> None:
    """quality.raw_file_profiles: the profiles of the files this warehouse was built from; once
    published, what the next runs learn from."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists quality")
        connection.register("profiles_frame", profiles)
        connection.execute(f"create or replace table {PROFILES_TABLE} as select * from profiles_frame")


def accepted_profiles(published: Path) -> pl.DataFrame | None:
    """The profiles of the files a warehouse was built from (for the published one: the files
    the gate accepted), or None when it holds none (or profiles of other columns). A warehouse
    that cannot be read (another process writing it) raises: the files are not judged against
    each other instead without a word."""
    if not published.exists():
        return None
    with duckdb.connect(str(published), read_only=True) as connection:
        try:
            rows = connection.execute(f"select {', '.join(PROFILE_SCHEMA)} from {PROFILES_TABLE}").fetchall()
        except (duckdb.CatalogException, duckdb.BinderException):
            return None
    return pl.DataFrame(rows, schema=PROFILE_SCHEMA, orient="row")


@dataclass(frozen=True)
class Learned:
    """What the accepted files say about a measure."""

    files: int
    min_present_share: float
    max_distinct: int
    median_low: float | None
    median_high: float | None
    margin: float
    # the narrowest and widest interquartile range of the judged files, when they are steady (within
    # RAW_SPREAD_FACTOR of each other) and not zero
    spread_low: float | None = None
    spread_high: float | None = None

    def median_range(self) -> tuple[float, float] | None:
        if self.median_low is None or self.median_high is None:
            return None
        return self.median_low - self.margin, self.median_high + self.margin


def learn(baseline: pl.DataFrame) -> Learned | None:
    """The accepted files' lowest share present, most distinct values and range of medians (over
    files with enough values) for one measure; None without any accepted file."""
    baseline = baseline.filter(pl.col("rows") > 0)
    if baseline.is_empty():
        return None
    shares = (baseline["present"] / baseline["rows"]).to_list()
    judged = baseline.filter((pl.col("present") >= RAW_MIN_PROFILED_VALUES) & pl.col("median").is_not_null())
    low = high = spread_low = spread_high = None
    margin = 0.0
    if not judged.is_empty():
        low, high = float(judged["median"].min()), float(judged["median"].max())  # type: ignore[arg-type]
        spreads = judged["q75"] - judged["q25"]
        widest_iqr = float(spreads.max())  # type: ignore[arg-type]
        margin = max(widest_iqr, RAW_MEDIAN_MARGIN * max(abs(low), abs(high)))
        narrowest_iqr = float(spreads.min())  # type: ignore[arg-type]
        # only a spread the accepted files hold steady tells a change of scale from the seasons
        if narrowest_iqr > 0 and widest_iqr <= RAW_SPREAD_FACTOR * narrowest_iqr:
            spread_low, spread_high = narrowest_iqr, widest_iqr
    return Learned(
        files=baseline.height,
        min_present_share=min(shares),
        max_distinct=int(baseline["distinct_values"].max()),  # type: ignore[arg-type]
        median_low=low,
        median_high=high,
        margin=margin,
        spread_low=spread_low,
        spread_high=spread_high,
    )


def _number(value: float) -> str:
    return f"{value:,.6g}"


def _share(count: int, total: int) -> str:
    return f"{count:,} of {total:,} ({count / total:.1%})"


@dataclass
class _Findings:
    """Offending files per check of one source: {file: {column: what was seen}}."""

    broken_range: dict[str, dict[str, str]]
    outliers: dict[str, dict[str, str]]
    missing: dict[str, dict[str, str]]
    constant: dict[str, dict[str, str]]
    shifted: dict[str, dict[str, str]]
    rescaled: dict[str, dict[str, str]]


def _judge(measure: Measure, profile: dict[str, Any], learned: Learned | None, findings: _Findings) -> None:
    file, column = profile["file"], measure.column
    rows, present, median = profile["rows"], profile["present"], profile["median"]
    if rows == 0:
        return
    out = profile["out_of_range"]
    if measure.bounds and out:
        low, high = measure.bounds
        seen = f"{_share(out, present)} values outside [{_number(low)}, {_number(high)}]"
        if median is not None:
            seen += f", median {_number(median)}"
        broken = out / present > RAW_MAX_OUT_OF_RANGE_SHARE
        (findings.broken_range if broken else findings.outliers).setdefault(file, {})[column] = seen
    if learned is None:
        lost = present == 0 and rows >= RAW_MIN_PROFILED_VALUES
        reference = "no value at all"
    else:
        lost = present / rows < RAW_MIN_PRESENT_RATIO * learned.min_present_share
        reference = f"the sparsest accepted file has {learned.min_present_share:.1%}"
    if lost:
        seen = f"{_share(present, rows)} rows have a value; {reference}"
        findings.missing.setdefault(file, {})[column] = seen
    varied = learned is None or learned.max_distinct > 1
    if present >= RAW_MIN_PROFILED_VALUES and profile["distinct_values"] == 1 and varied:
        value = _number(median) if median is not None else "a text"
        reference = f"accepted files have up to {learned.max_distinct:,}" if learned else "nothing learned"
        seen = f"the one value {value} in {present:,} rows; {reference}"
        findings.constant.setdefault(file, {})[column] = seen
    accepted = learned.median_range() if learned else None
    if (
        learned is not None
        and accepted is not None
        and median is not None
        and present >= RAW_MIN_PROFILED_VALUES
        and not accepted[0] <= median <= accepted[1]
    ):
        findings.shifted.setdefault(file, {})[column] = (
            f"median {_number(median)}; accepted files' medians {_number(learned.median_low or 0)} to "
            f"{_number(learned.median_high or 0)}, margin {_number(learned.margin)}"
        )
    if (
        learned is not None
        and learned.spread_low is not None
        and learned.spread_high is not None
        and present >= RAW_MIN_PROFILED_VALUES
        and profile["q25"] is not None
        and profile["q75"] is not None
    ):
        spread = profile["q75"] - profile["q25"]
        if not learned.spread_low / RAW_SPREAD_FACTOR <= spread <= learned.spread_high * RAW_SPREAD_FACTOR:
            findings.rescaled.setdefault(file, {})[column] = (
                f"interquartile range {_number(spread)}; accepted files' {_number(learned.spread_low)} "
                f"to {_number(learned.spread_high)}"
            )


def _check(
    source: str,
    expectation: str,
    expected: str,
    why: str,
    offending: dict[str, dict[str, str]],
    files: int,
    severity: str = "critical",
) -> CheckResult:
    columns = sorted({column for by_column in offending.values() for column in by_column})
    return CheckResult(
        suite=SUITE,
        table_name=f"raw.{source}",
        expectation=expectation,
        column_name=", ".join(columns) or None,
        severity="critical" if severity == "critical" else "warning",
        success=not offending,
        expected=expected,
        observed_value=to_json(offending) if offending else f"{files} files",
        unexpected_count=sum(len(by_column) for by_column in offending.values()),
        unexpected_sample=to_json(sorted(offending)[:SAMPLE_SIZE]),
        why=why,
    )


def profile_checks(profiles: pl.DataFrame, accepted: pl.DataFrame | None = None) -> list[CheckResult]:
    """Every source's files judged measure by measure: against the accepted files' profiles when
    some of the source were accepted, otherwise against the other files of the run."""
    measures = {(m.source, m.column): m for m in declared_measures()}
    results: list[CheckResult] = []
    for source in dict.fromkeys(m.source for m in measures.values()):
        mine = profiles.filter(pl.col("source") == source)
        if mine.is_empty():
            continue
        from_accepted = accepted is not None and not accepted.filter(pl.col("source") == source).is_empty()
        findings = _Findings({}, {}, {}, {}, {}, {})
        for profile in mine.iter_rows(named=True):
            measure = measures.get((source, profile["column_name"]))
            if measure is None:
                continue
            if from_accepted:
                assert accepted is not None
                baseline = accepted.filter(
                    (pl.col("source") == source) & (pl.col("column_name") == measure.column)
                )
            else:
                baseline = mine.filter(
                    (pl.col("column_name") == measure.column) & (pl.col("file") != profile["file"])
                )
            _judge(measure, profile, learn(baseline), findings)
        learned_from = (
            "the accepted files (the published warehouse's quality.raw_file_profiles)"
            if from_accepted
            else "the other files of this source in this run (nothing accepted yet)"
        )
        files = mine["file"].n_unique()
        results += [
            _check(
                source,
                "values within bounds per file",
                f"at most {RAW_MAX_OUT_OF_RANGE_SHARE:.0%} of a file's values of a measure outside the "
                f"bounds in dbt_project.yml (vars.raw_measures.{source})",
                "One impossible reading is an outlier; many in one file are a broken source (a unit or "
                "scale change): staging would set them all to NULL and the models would learn from it.",
                findings.broken_range,
                files,
            ),
            _check(
                source,
                "no value out of bounds",
                f"no value outside the bounds in dbt_project.yml (vars.raw_measures.{source})",
                "A few impossible readings are outliers: staging sets a weather reading to NULL and flags "
                "it, a suite quarantines or flags the others. Worth a look, not a stop.",
                findings.outliers,
                files,
                severity="warning",
            ),
            _check(
                source,
                "values present per file",
                f"each file's share of rows with a value at least {RAW_MIN_PRESENT_RATIO:.0%} of what "
                f"{learned_from} have",
                "A measure newly missing from a file (a column of NULLs, a field lost in an export) "
                "would pass every row rule and empty the features built on it.",
                findings.missing,
                files,
            ),
            _check(
                source,
                "values vary per file",
                f"no file with a single value of a measure over {RAW_MIN_PROFILED_VALUES} rows where "
                f"{learned_from} have several",
                "A constant column is a default or a placeholder written over every reading.",
                findings.constant,
                files,
            ),
            _check(
                source,
                "median per file within the accepted range",
                f"each file's median within the range of the medians of {learned_from}, widened by "
                f"{RAW_MEDIAN_MARGIN:.0%} of their magnitude or their widest interquartile range",
                "A scale or unit change that stays within the bounds still moves a month's median "
                "far beyond the seasons'.",
                findings.shifted,
                files,
            ),
            _check(
                source,
                "spread per file within the accepted range",
                f"each file's interquartile range within the range of {learned_from}'s, widened "
                f"{RAW_SPREAD_FACTOR:g} times either way, for the measures whose spread they hold within "
                f"{RAW_SPREAD_FACTOR:g} times",
                "A change of scale (kilometres for miles) rescales a month's spread: its median can stay "
                "among the seasons' when the spread is wide.",
                findings.rescaled,
                files,
            ),
        ]
    return results
