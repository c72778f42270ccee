"""The lookups of the feature table (`catalog.LOOKUPS`) found by sorting, for DuckDB's builds and
the online path: for each probe (a flight at its decision time T), the last row of a running total
(or of the weather) of the probe's partition before T - `minutes_before`.

SQL reads each source once (`sql.coded_source`): its instants as microseconds, its partition keys
as integer codes numbered by `sql.coded_keys`, the values of its measures. Here, each instant
column is sorted once (`Axis`); each running total is its rows sorted by (code, instant) with every
measure summed per code up to the row (`Timeline`); a lookup is a binary search of the probes'
(code, rank of T - offset) in that order. The result is one struct column per lookup, named after
its alias, which the feature SELECT joins by flight id (`sql.feature_sql`). The same rows as the
ASOF joins (or the portable form of `sql.timeline_as_of`) find, in a few sorts of the flights
instead of a sort of every lookup's rows; tests compare them bit for bit.

The sums are integer sums, exact in any order: a measure must be an integer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa

from lakehouse.models.features.catalog import LOOKUPS, RUNNING_TOTALS, Lookup
from lakehouse.models.features.sql import PARTITIONS, code_column, instant_column, lookup_columns

MICROSECONDS_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class Values:
    """One column of a source as numpy: its values (physical: instants as integers), which are not
    NULL (None: all are) and its Arrow type."""

    values: np.ndarray
    valid: np.ndarray | None
    arrow_type: pa.DataType

    @classmethod
    def of(cls, series: pl.Series) -> Values:
        arrow_type = series.to_arrow().type
        physical = series.to_physical()
        if series.null_count() == 0:
            return cls(physical.to_numpy(), None, arrow_type)
        return cls(physical.fill_null(0).to_numpy(), series.is_not_null().to_numpy(), arrow_type)

    def take(self, rows: np.ndarray) -> Values:
        return Values(self.values[rows], None if self.valid is None else self.valid[rows], self.arrow_type)


@dataclass(frozen=True)
class Axis:
    """An instant column (microseconds) sorted once: the order of its rows that have an instant,
    the instants in that order and each one's rank, the number of rows with an earlier instant
    (equal instants, equal rank). Every timeline over these instants shares it, and so does the
    rank of every probe instant."""

    order: np.ndarray
    instants: np.ndarray
    ranks: np.ndarray

    @classmethod
    def of(cls, instants: Values) -> Axis:
        rows = np.arange(len(instants.values)) if instants.valid is None else np.flatnonzero(instants.valid)
        order = rows[np.argsort(instants.values[rows], kind="stable")]
        ordered = instants.values[order].astype(np.int64)
        first = np.ones(len(ordered), dtype=bool)
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        ranks = np.maximum.accumulate(np.where(first, np.arange(len(ordered)), 0))
        return cls(order, ordered, ranks)

    def rank(self, instants: np.ndarray, inclusive: bool) -> np.ndarray:
        """For each instant, how many rows lie before it (at or before it, `inclusive`): a row of
        rank below that is a row the lookup may find."""
        return np.searchsorted(self.instants, instants, side="right" if inclusive else "left")


def _code_order(codes: np.ndarray) -> np.ndarray:
    """A stable sort by code (a radix sort when the codes fit 16 bits)."""
    if len(codes) and codes.min() >= 0 and codes.max() < 2**16:
        return np.argsort(codes.astype(np.uint16), kind="stable")
    return np.argsort(codes, kind="stable")


@dataclass(frozen=True)
class Timeline:
    """The rows of one source sorted by (key code, instant), with the columns a lookup brings:
    for a running total, each measure summed over the key's rows up to and including the row; for
    the weather, the row's own values. `position` is code * (rows + 1) + rank, in sorted order."""

    axis: Axis
    codes: np.ndarray
    position: np.ndarray
    columns: dict[str, Values]

    @classmethod
    def of(cls, axis: Axis, codes: np.ndarray, columns: dict[str, Values], running: bool) -> Timeline:
        """`codes` per row of the source (-1: no key, never found); `running`: cumulative sums."""
        timed_codes = codes[axis.order]
        keyed = timed_codes >= 0
        rows, ranks = axis.order[keyed], axis.ranks[keyed]
        by_code = _code_order(timed_codes[keyed])
        rows, ranks, sorted_codes = rows[by_code], ranks[by_code], timed_codes[keyed][by_code]
        position = sorted_codes * (len(axis.instants) + 1) + ranks
        taken = {name: column.take(rows) for name, column in columns.items()}
        if running:
            taken = {name: _running_sum(column, sorted_codes) for name, column in taken.items()}
        return cls(axis, sorted_codes, position, taken)

    def find(self, codes: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """For probes of `codes` (-1: none) and instant ranks (`Axis.rank`): the row each finds,
        the last of its code below its rank (-1: none)."""
        wanted = codes * (len(self.axis.instants) + 1) + ranks
        row: np.ndarray = np.searchsorted(self.position, wanted) - 1
        if not len(self.codes):
            return row
        same_code = self.codes[np.maximum(row, 0)] == codes
        return np.where((row >= 0) & same_code & (codes >= 0), row, -1)

    def brought(self, row: np.ndarray) -> pa.StructArray:
        """The columns of the rows found (`find`), NULL where none was found, as one struct per
        probe. Numbers are handed to Arrow as they are, with the validity of the rows found."""
        found = row >= 0
        taken = np.maximum(row, 0)
        found_validity = pa.array(found).buffers()[1]
        arrays, names = [], []
        for name, column in self.columns.items():
            if pa.types.is_null(column.arrow_type):  # a column of NULLs only, typeless
                arrays.append(pa.nulls(len(row)))
            elif not len(column.values):
                arrays.append(pa.nulls(len(row), type=column.arrow_type))
            elif column.valid is None and _same_layout(column):
                data = pa.py_buffer(np.ascontiguousarray(column.values[taken]))
                arrays.append(pa.Array.from_buffers(column.arrow_type, len(row), [found_validity, data]))
            else:
                valid = found if column.valid is None else found & column.valid[taken]
                arrays.append(pa.array(column.values[taken], mask=~valid, type=column.arrow_type))
            names.append(name)
        return pa.StructArray.from_arrays(arrays, names=names)


def _same_layout(column: Values) -> bool:
    """Whether the values' bytes are the Arrow type's (numbers, instants): then they are handed
    to Arrow without a copy."""
    return (
        column.values.dtype.kind in "iuf" and column.values.dtype.itemsize * 8 == column.arrow_type.bit_width
    )


def _running_sum(column: Values, codes: np.ndarray) -> Values:
    """The sum of a measure over each code's rows up to and including each row (rows sorted by
    code), NULL while every value so far is NULL, as SQL's sum. Integer sums only: exact whatever
    the order of the rows."""
    if not pa.types.is_integer(column.arrow_type):
        raise TypeError(f"a running total adds up integers, got {column.arrow_type}")
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(codes)])

    def per_code(values: np.ndarray) -> np.ndarray:
        sums: np.ndarray = np.cumsum(values)
        before = np.r_[0, sums[starts[1:] - 1]] if len(starts) else np.zeros(0, np.int64)
        within: np.ndarray = sums - np.repeat(before, sizes)
        return within

    values = column.values.astype(np.int64)
    if column.valid is None:
        return Values(per_code(values), None, pa.int64())
    valid = per_code(column.valid.astype(np.int64)) > 0
    return Values(per_code(np.where(column.valid, values, 0)), valid, pa.int64())


def _codes(frame: pl.DataFrame, partition: tuple[str, ...]) -> np.ndarray:
    """The code of each row's key in `partition` (`sql.code_column`; -1 where it has none; 0 for
    the NYC-wide totals, which have no key)."""
    if not partition:
        return np.zeros(frame.height, dtype=np.int64)
    return frame[code_column(partition)].fill_null(-1).to_numpy().astype(np.int64)


def timelines_of(
    sources: dict[str, pl.DataFrame],
    weather: pl.DataFrame,
    carried: pl.DataFrame | None = None,
    between: tuple[int, int] | None = None,
    threads: int = 2,
) -> dict[str, Timeline]:
    """Every running total's timeline and the weather's, by name, from the rows SQL read
    (`sql.coded_source` by source name, `sql.coded_weather`). With `carried` (the rows of
    `sql.coded_carried`), each total adds up its carried rows and its source's rows whose instant
    lies in `between` (microseconds, from and before): what a build of one window needs."""
    axes: dict[tuple[str, str], Axis] = {}

    def timeline(name: str) -> Timeline:
        if name == "weather":
            instants = Values.of(weather[instant_column("at_utc")])
            columns = {c: Values.of(weather[c]) for c in lookup_columns(_WEATHER)}
            return Timeline.of(Axis.of(instants), _codes(weather, _WEATHER.partition), columns, running=False)
        total = _TOTALS[name]
        frame = sources[total.source]
        instant = instant_column(total.at)
        if carried is not None and between is not None:
            codes = [pl.col("code").alias(code_column(total.partition))] if total.partition else []
            earlier = carried.filter(pl.col("total") == name).select(
                pl.col("instant").alias(instant), *total.measures, *codes
            )
            since, until = between
            in_range = frame.filter(pl.col(instant).is_between(since, until, closed="left"))
            frame = pl.concat([earlier, in_range.select(earlier.columns)], how="vertical_relaxed")
            axis = Axis.of(Values.of(frame[instant]))
        else:
            axis = axes[(total.source, total.at)]
        columns = {measure: Values.of(frame[measure]) for measure in total.measures}
        return Timeline.of(axis, _codes(frame, total.partition), columns, running=True)

    if carried is None:
        shared = list(dict.fromkeys((total.source, total.at) for total in RUNNING_TOTALS))
        made = _mapped(
            lambda key: Axis.of(Values.of(sources[key[0]][instant_column(key[1])])), shared, threads
        )
        axes = dict(zip(shared, made, strict=True))
    names = [*_TOTALS, "weather"]
    return dict(zip(names, _mapped(timeline, names, threads), strict=True))


_TOTALS = {total.name: total for total in RUNNING_TOTALS}
_WEATHER = next(lookup for lookup in LOOKUPS if lookup.cte == "weather")


def _code_columns(partition: tuple[str, ...]) -> list[str]:
    return [code_column(partition)] if partition else []


@dataclass(frozen=True)
class Probes:
    """The flights looked up: their ids, decision times (microseconds) and the code of their key
    in each partition (`sql.code_column`), with the order that sorts them by code. A lookup
    searches the probes in that order: one pass over the timeline instead of a jump per probe."""

    flight_ids: pl.Series
    decision_at: np.ndarray
    by_code: dict[tuple[str, ...], np.ndarray]
    sorted_codes: dict[tuple[str, ...], np.ndarray]

    @classmethod
    def coded(cls, keys: pl.DataFrame, codes: dict[tuple[str, ...], pl.DataFrame]) -> Probes:
        """Flights (flight_id, decision_at_utc and the partition columns, as `sql.coded_probes`
        reads them) coded by the code tables of a build (`sql.coded_keys`): a key the build did
        not know has no code and finds nothing, as in the build."""
        columns = [
            pl.Series(instant_column("decision_at_utc"), keys["decision_at_utc"].dt.epoch("us")),
            *(
                keys.select(pl.col(column).cast(table.schema[column]) for column in partition)
                .join(table, on=list(partition), how="left", maintain_order="left")
                .get_column(code_column(partition))
                for partition, table in codes.items()
            ),
        ]
        return cls.of(keys.select("flight_id").with_columns(columns))

    @classmethod
    def of(cls, frame: pl.DataFrame) -> Probes:
        """From the rows of `sql.coded_probes` (or any frame with those columns)."""
        decision_at = frame[instant_column("decision_at_utc")].to_numpy().astype(np.int64)
        by_time = np.argsort(decision_at, kind="stable")
        codes = {partition: _codes(frame, partition) for partition in ((), *PARTITIONS)}
        by_code = {partition: by_time[_code_order(c[by_time])] for partition, c in codes.items()}
        sorted_codes = {partition: codes[partition][order] for partition, order in by_code.items()}
        return cls(frame["flight_id"], decision_at, by_code, sorted_codes)


def find_lookups(
    timelines: dict[str, Timeline],
    probes: Probes,
    lookups: Iterable[Lookup] = LOOKUPS,
    threads: int = 2,
) -> pa.Table:
    """One struct column per lookup (named after its alias) with the row it finds for each probe,
    beside the probe's flight id. `timelines` by the lookup's source name (`Lookup.cte`)."""
    lookups = list(lookups)
    # the probes' ranks on an axis, shared by the timelines over it (an axis is told by identity)
    ranks: dict[tuple[int, int, bool], np.ndarray] = {}

    def rank(lookup: Lookup) -> np.ndarray:
        axis = timelines[lookup.cte].axis
        key = (id(axis), lookup.minutes_before, lookup.inclusive)
        if key not in ranks:
            instants = probes.decision_at - lookup.minutes_before * MICROSECONDS_PER_MINUTE
            ranks[key] = axis.rank(instants, lookup.inclusive)
        return ranks[key]

    for lookup in lookups:  # before the threads, which only read them
        rank(lookup)

    def found(lookup: Lookup) -> pa.StructArray:
        timeline = timelines[lookup.cte]
        order = probes.by_code[lookup.partition]
        row = np.empty(len(order), dtype=np.int64)
        row[order] = timeline.find(probes.sorted_codes[lookup.partition], rank(lookup)[order])
        return timeline.brought(row)

    columns = _mapped(found, lookups, threads)
    return pa.table(
        {
            "flight_id": probes.flight_ids.to_arrow(),
            **{lookup.alias: c for lookup, c in zip(lookups, columns, strict=True)},
        }
    )


Item = TypeVar("Item")
Result = TypeVar("Result")


def _mapped(function: Callable[[Item], Result], items: list[Item], threads: int) -> list[Result]:
    """`function` over `items`, on `threads` threads (numpy's sorts and searches release the GIL)."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(function, items))
