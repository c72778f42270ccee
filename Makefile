# The two commands a new user needs: `make run` and `make test`. Everything else is a helper.
# The benchmarks take their options in ARGS, e.g. make bench-gate ARGS="--scales 1,10".
UV_VERSION := 0.13.9
UV := python3 -m uv
# After `setup`, run from the synced environment without re-checking it each time.
RUN := $(UV) run --no-sync
export UV_COMPILE_BYTECODE := 1
export OMP_WAIT_POLICY := passive

.PHONY: setup run test pytest lint lint-python lint-sql format raw docs bench bench-gate bench-features bench-scoring bench-serving bench-live bench-threads bench-spark bench-training serve clean

setup: .venv/.synced

.venv/.synced: uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode
	@touch $@

run: setup
	$(RUN) lakehouse run

# The checks run beside the tests: the two test workers leave the cores idle about a quarter of
# the time (servers, child processes, Spark's start), which the checks fill. A failure of either
# fails `make test`.
test: setup
	$(MAKE) --no-print-directory -j3 $(CHECKS) pytest

pytest: setup
	$(RUN) pytest -n 2 --dist loadgroup

# The Python and the SQL checks run side by side (each takes one core most of its time).
CHECKS := lint-python lint-sql
lint: setup
	$(MAKE) --no-print-directory -j2 --output-sync=target $(CHECKS)

lint-python: setup
	$(RUN) ruff check ml tests benchmarks
	$(RUN) ruff format --check ml tests benchmarks
	$(RUN) mypy

lint-sql: setup
	cd dbt_project && LAKEHOUSE_WAREHOUSE=$$(mktemp -d)/warehouse.duckdb ../.venv/bin/sqlfluff lint models tests/ml --processes 2

format: setup
	$(RUN) ruff format ml tests benchmarks
	$(RUN) ruff check --fix ml tests benchmarks

raw: setup
	$(RUN) lakehouse land

docs: setup
	$(RUN) lakehouse docs

bench: setup
	$(RUN) python -m benchmarks.build $(ARGS)

bench-gate: setup
	$(RUN) python -m benchmarks.gate $(ARGS)

bench-features: setup
	$(RUN) python -m benchmarks.features $(ARGS)

bench-scoring: setup
	$(RUN) python -m benchmarks.scoring $(ARGS)

bench-serving: setup
	$(RUN) python -m benchmarks.serving $(ARGS)

bench-live: setup
	$(RUN) python -m benchmarks.live $(ARGS)

bench-threads: setup
	$(RUN) python -m benchmarks.threads $(ARGS)

bench-spark: setup
	$(RUN) python -m benchmarks.spark $(ARGS)

bench-training: setup
	$(RUN) python -m benchmarks.training $(ARGS)

serve: setup
	$(RUN) lakehouse serve $(ARGS)

clean:
	rm -rf data/build data/warehouse.duckdb data/lake data/current data/published data/quality data/features data/spark dbt_project/target dbt_project/logs
