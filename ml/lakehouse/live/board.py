"""The operations board (`GET /board`): one self-contained page (inline CSS and SVG, no script, no
external reference) that reloads itself every few seconds.

It shows the feed's clock in New York time; per airport the next departures not gone yet, with
the latest pushed probability of leaving late, the horizon it was decided at and the features
that moved it most; the flights decided most recently beside their outcome once known; and the
online ROC AUC, Brier score and calibration of the pushed scores whose outcome is known."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from lakehouse.common.html import page
from lakehouse.config import (
    BOARD_DEPARTURES,
    BOARD_RECENT,
    BOARD_REFRESH_SECONDS,
    LATE_AFTER_MINUTES,
    ORIGIN_TIME_ZONE,
)
from lakehouse.live.feed import Feed

CSS = """
.late { color: #c53030; font-weight: 700; } .on-time { color: #2f855a; font-weight: 600; }
.pending { color: #718096; } .clock { font-size: 2rem; font-weight: 700; }
td:first-child, td:nth-child(2) { white-space: nowrap; }
.drivers { color: #4a5568; font-size: 12px; } .airports { display: grid; gap: .8rem;
  grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); } .airports > div { overflow-x: auto; }
"""
ZONE = ZoneInfo(ORIGIN_TIME_ZONE)
# Labels as the store knows them at the clock: settled once the flight left or became overdue.
_OUTCOMES = f"""
select
    flight_id,
    case
        when is_cancelled then true
        when actual_departure_utc is not null then dep_delay_minutes > {LATE_AFTER_MINUTES}
    end as is_delayed,
    is_cancelled,
    dep_delay_minutes,
    actual_departure_utc
from fct_flights
"""


def _local(instant: datetime) -> str:
    return f"{instant.replace(tzinfo=ZoneInfo('UTC')).astimezone(ZONE):%a %d %b %H:%M}"


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _drivers(text: str) -> str:
    parts = []
    for name, value, contribution in json.loads(text):
        shown = "—" if value is None else (f"{value:.3g}" if isinstance(value, float) else str(value))
        arrow = "↑" if contribution > 0 else "↓"
        parts.append(f"{escape(name)} {escape(shown)} {arrow}")
    return "<span class='drivers'>" + " · ".join(parts) + "</span>"


def _outcome(row: dict[str, Any]) -> str:
    if row["is_delayed"] is None:
        return "<span class='pending'>not known yet</span>"
    if row["is_cancelled"]:
        return f"<span class='late'>late (not gone {LATE_AFTER_MINUTES + 1} min after its schedule)</span>"
    word = "late" if row["is_delayed"] else "on time"
    kind = "late" if row["is_delayed"] else "on-time"
    return f"<span class='{kind}'>{word} ({row['dep_delay_minutes']:+d} min)</span>"


def _row_cells(row: dict[str, Any]) -> str:
    return (
        f"<td>{_local(row['scheduled_departure_utc'])}</td>"
        f"<td>{escape(row['carrier'])} {row['flight_number']}</td><td>{escape(row['dest'])}</td>"
        f"<td class='num {'late' if row['is_late'] else ''}'>{_percent(row['probability_late'])}</td>"
        f"<td class='num'>{row['horizon_minutes']} min</td>"
    )


def next_departures(feed: Feed) -> pl.DataFrame:
    """Per origin, the next flights not gone, each with its latest (shortest horizon) push."""
    clock = f"timestamp '{feed.clock:%Y-%m-%d %H:%M:%S}'"
    return feed.store.query(
        f"""
        with latest as (
            select * from live_pushes
            qualify row_number() over (partition by flight_id order by horizon_minutes) = 1
        )
        select latest.*
        from latest
        join fct_flights using (flight_id)
        where fct_flights.actual_departure_utc is null
            and not fct_flights.is_cancelled
            and latest.scheduled_departure_utc >= {clock} - interval 1 hour
        qualify row_number() over (
            partition by latest.origin order by latest.scheduled_departure_utc, latest.flight_id
        ) <= {BOARD_DEPARTURES}
        order by latest.origin, latest.scheduled_departure_utc, latest.flight_id
        """
    )


def recent_decisions(feed: Feed) -> pl.DataFrame:
    """The flights whose outcome became known most recently (they left, or were overdue), latest
    first, each with its last push."""
    return feed.store.query(
        f"""
        select pushes.*, outcomes.is_delayed, outcomes.is_cancelled, outcomes.dep_delay_minutes
        from live_pushes as pushes
        join ({_OUTCOMES}) as outcomes using (flight_id)
        where outcomes.is_delayed is not null
        qualify row_number() over (partition by pushes.flight_id order by pushes.horizon_minutes) = 1
        order by
            coalesce(
                outcomes.actual_departure_utc,
                pushes.scheduled_departure_utc + to_minutes({LATE_AFTER_MINUTES + 1})
            ) desc,
            pushes.flight_id
        limit {BOARD_RECENT}
        """
    )


def scored_outcomes(feed: Feed) -> pl.DataFrame:
    """Every push whose outcome the clock knows: horizon, probability, label."""
    return feed.store.query(
        f"""
        select pushes.horizon_minutes, pushes.probability_late, outcomes.is_delayed
        from live_pushes as pushes
        join ({_OUTCOMES}) as outcomes using (flight_id)
        where outcomes.is_delayed is not null
        """
    )


def online_metrics(outcomes: pl.DataFrame) -> list[dict[str, Any]]:
    """ROC AUC and Brier score per horizon (AUC needs both outcomes)."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for (horizon,), group in outcomes.sort("horizon_minutes", descending=True).group_by(
        "horizon_minutes", maintain_order=True
    ):
        y = group["is_delayed"].cast(pl.Int8).to_numpy()
        p = group["probability_late"].to_numpy()
        auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
        rows.append(
            {
                "horizon": f"{horizon} min",
                "flights": len(y),
                "late": int(y.sum()),
                "roc_auc": auc,
                "brier": float(np.mean((p - y) ** 2)),
                "mean_p": float(p.mean()),
            }
        )
    return rows


def calibration_svg(outcomes: pl.DataFrame, bins: int = 10) -> str:
    """Observed late share against mean predicted probability per decile of probability, with the
    diagonal; each point's area grows with its flights."""
    size, pad = 240, 30
    inner = size - 2 * pad

    def x(v: float) -> float:
        return pad + v * inner

    def y(v: float) -> float:
        return size - pad - v * inner

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        'aria-label="calibration">',
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#cbd5e0"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#a0aec0" stroke-dasharray="4 3"/>',
        f'<text x="{size / 2}" y="{size - 6}" font-size="11" text-anchor="middle">predicted P(late)</text>',
        f'<text x="10" y="{size / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 10 {size / 2})">observed late share</text>',
    ]
    if outcomes.height:
        binned = (
            outcomes.with_columns((pl.col("probability_late") * bins).floor().clip(0, bins - 1).alias("bin"))
            .group_by("bin")
            .agg(
                pl.col("probability_late").mean().alias("p"),
                pl.col("is_delayed").cast(pl.Float64).mean().alias("o"),
                pl.len().alias("n"),
            )
            .sort("bin")
        )
        most = binned["n"].max() or 1
        for row in binned.iter_rows(named=True):
            radius = 2 + 6 * (row["n"] / most) ** 0.5
            parts.append(
                f'<circle cx="{x(row["p"]):.1f}" cy="{y(row["o"]):.1f}" r="{radius:.1f}" fill="#3182ce" '
                f'fill-opacity=".7"><title>{row["n"]} flights: predicted {row["p"]:.2f}, observed '
                f"{row['o']:.2f}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _auc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def render_board(feed: Feed) -> str:
    status = feed.status()
    departures = next_departures(feed)
    sections = []
    for (origin,), group in departures.group_by("origin", maintain_order=True):
        rows = "".join(
            f"<tr>{_row_cells(row)}<td>{_drivers(row['drivers'])}</td></tr>"
            for row in group.iter_rows(named=True)
        )
        sections.append(
            f"<div><h3>{escape(str(origin))}</h3><table class='wide'><tr><th>departs</th><th>flight</th>"
            "<th>to</th><th class=num>P(late)</th><th class=num>decided</th><th>why</th></tr>"
            f"{rows}</table></div>"
        )
    recent = "".join(
        f"<tr>{_row_cells(row)}<td>{_outcome(row)}</td></tr>"
        for row in recent_decisions(feed).iter_rows(named=True)
    )
    outcomes = scored_outcomes(feed)
    metrics = online_metrics(outcomes)
    metric_rows = "".join(
        f"<tr><td>{m['horizon']}</td><td class=num>{m['flights']:,}</td><td class=num>{m['late']:,}</td>"
        f"<td class=num>{_auc(m['roc_auc'])}</td>"
        f"<td class=num>{m['brier']:.3f}</td><td class=num>{m['mean_p']:.3f}</td></tr>"
        for m in metrics
    )
    behind = (status["clock"] - status["scored_until"]).total_seconds()
    body = f"""
<h1>Departures board</h1>
<p class="meta">feed {escape(feed.feed_id)} · started {_local(feed.start)} (New York) · reloads every
{BOARD_REFRESH_SECONDS} s</p>
<div class="cards">
<div class="card">feed clock (New York)<b class="clock" id="clock">{_local(feed.clock)}</b></div>
<div class="card">events accepted<b>{status["events_accepted"]:,}</b></div>
<div class="card">ignored · rejected<b>{status["events_ignored"]:,} · {status["events_rejected"]:,}</b></div>
<div class="card">scores pushed<b>{status["pushed"]:,}</b></div>
<div class="card">scoring behind the clock<b>{behind:,.0f} s</b></div>
</div>
{f"<p class='late'>{escape(status['error'])}</p>" if status["error"] else ""}
<h2>Next departures</h2>
<div class="airports">{"".join(sections) or "<p class='pending'>no departure decided yet</p>"}</div>
<h2>Outcomes just known</h2>
<table class="wide" id="recent"><tr><th>departs</th><th>flight</th><th>to</th><th class=num>P(late)</th>
<th class=num>decided</th><th>outcome</th></tr>{recent}</table>
<h2>Online performance so far</h2>
<div class="grid"><div><table id="metrics"><tr><th>horizon</th><th class=num>flights known</th>
<th class=num>late</th><th class=num>ROC AUC</th><th class=num>Brier</th><th class=num>mean P(late)</th>
</tr>{metric_rows}</table><p class="note">Pushed scores whose outcome the feed knows (left, or not gone
{LATE_AFTER_MINUTES + 1} minutes after the schedule).</p></div>
<div>{calibration_svg(outcomes)}</div></div>
"""
    return page("Departures board", body, refresh_seconds=BOARD_REFRESH_SECONDS, css=CSS)


def empty_board() -> str:
    body = (
        "<h1>Departures board</h1><p class='pending'>No live feed runs: start one with "
        "<code>lakehouse replay --from 2013-12-10T06:00:00-05:00</code> (or POST /feed/start).</p>"
    )
    return page("Departures board", body, refresh_seconds=BOARD_REFRESH_SECONDS, css=CSS)
