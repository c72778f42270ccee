"""Point-in-time features: what an operations desk knows about a flight at its decision time.

Decision time T = scheduled departure - horizon. Every feature of a flight is computed from what
was known at its T, by these rules (the only place they are written; the SQL in `sql.py` follows
them and tests/model/test_leakage.py proves it):

- The schedule of every flight (carrier, flight number, route, scheduled times, the tail number
  assigned) and the reference tables (planes, airports, holidays) are known ahead: always.
- A departure and its delay are known once the flight has left: actual departure < T.
- A flight not gone 16 minutes after its scheduled time is known to be late from then on, so the
  label "left more than 15 minutes late, or not at all" of any flight is settled at
  min(actual departure, scheduled departure + 16 minutes).
- Cancellations carry no time in the data, so a cancellation is never used as such before the
  flight's outcome is known: a cancelled flight looks exactly like a flight still on the ground
  (waiting, then overdue) and counts as "late" once 16 minutes past its scheduled time.
- A flight's waiting on the ground is counted for three hours after its scheduled time at most,
  so a cancelled flight and a very late one stay indistinguishable at T.
- An arrival is known once the flight has landed (actual arrival < T); its delay with it. A
  flight diverted elsewhere has no arrival delay and counts as not landed. Only the aircraft
  features use arrivals (its previous leg's); a flight's own arrival (the regression target) comes
  after its own departure, so after T.
- A weather row labelled hour H holds the observation taken up to about H:51 (precipitation
  accumulated to then): it is known from H + 1 hour (`weather_lag_minutes`). Staging's readings are
  used as observed: the hourly grid's interpolation looks at later hours and is not used here.
- The tail number is the aircraft that finally flew: a swap decided after T is baked into the
  aircraft features (the report treats them as optimistic).
- A missing tail number is an outcome, not a schedule: in this data only cancelled flights lack
  one (an aircraft was assigned at T, then the record lost it). So a flight without a tail takes
  a stand-in: the aircraft that flew its carrier, flight number and origin on the latest earlier
  day (the schedule of earlier days is known), on what looks like its first leg of the day. Its
  aircraft features then look like any other flight's, and the missing tail says nothing.

Each column is defined once in `catalog.py`; `sql.py` assembles them into one DuckDB SELECT over
the marts (`fct_flights`, `dim_planes`, `dim_dates`) and staged weather, its lookups (the last row
of a running total before T) found by sorting in `lookups.py`: no pairwise self-join, so the build
scales with the number of flights. `build.py` runs it for every flight at once or month by month;
`sql.portable_feature_sql` is the same SELECT for Spark, its lookups in SQL. The same definitions
serve training, batch scoring and any caller of one flight (`lakehouse.models.online`)."""
