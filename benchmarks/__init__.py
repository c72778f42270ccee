"""The benchmarks (`make bench`, `make bench-gate`, `make bench-features`, `make bench-scoring`).

One entry module per benchmark, each run from the repository root as `python -m benchmarks.<name>`:
`build` (the dbt build, dbt's overhead and the scaling), `gate` (the quality gate), `features`
(the point-in-time feature build) and `scoring` (batch scoring). They share `synthetic` (the 10x
and 100x landing zones), `runner` (work in a child process, timed, with its peak memory; the
work folder and its caches) and `dbt_replay` (the SQL dbt executed, replayed with DuckDB alone).
Not run by the tests: timings are noisy.
"""
