"""Each table's checks are findable from its dbt YAML: a model or source that a Great Expectations
suite checks names the suite file in `config: meta: gx_suite:`. Reads the files only."""

from functools import cache

import yaml

from lakehouse.config import DBT_PROJECT_DIR, REPO_ROOT

SUITES_DIR = REPO_ROOT / "expectations"


@cache
def _suite_tables() -> dict[str, str]:
    """Each suite file (relative to the repository root) -> the table it checks (`schema.table` for
    a source; a model's suite may leave out the schema, which dbt_project.yml sets by folder)."""
    return {
        str(path.relative_to(REPO_ROOT)): yaml.safe_load(path.read_text())["table"]
        for path in sorted(SUITES_DIR.rglob("*.yml"))
    }


@cache
def _references() -> list[tuple[str, str, str]]:
    """(YAML file, the table it declares: a model's name or alias, a source's `schema.table`, the
    suite it names)."""
    found = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        where = str(path.relative_to(REPO_ROOT))
        for model in document.get("models", []):
            config = model.get("config") or {}
            suite = (config.get("meta") or {}).get("gx_suite")
            if suite:
                found.append((where, config.get("alias", model["name"]), suite))
        for source in document.get("sources", []):
            for table in source.get("tables", []):
                suite = ((table.get("config") or {}).get("meta") or {}).get("gx_suite")
                if suite:
                    found.append((where, f"{source.get('schema', source['name'])}.{table['name']}", suite))
    return found


@cache
def _source_tables() -> set[str]:
    """Every source table the models' YAML declares, as `schema.table`."""
    return {
        f"{source.get('schema', source['name'])}.{table['name']}"
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", [])
        for table in source.get("tables", [])
    }


def _declared(table: str) -> str:
    """A suite's table as its YAML declares it: a source by schema and name, a model by name (its
    schema is the folder's, set in dbt_project.yml)."""
    return table if table in _source_tables() else table.rpartition(".")[2]


def test_every_suite_is_referenced_by_the_yaml_of_the_table_it_checks() -> None:
    suites = _suite_tables()
    assert len(suites) >= 20
    referenced = {(suite, table) for _, table, suite in _references()}
    missing = [
        (suite, table) for suite, table in suites.items() if (suite, _declared(table)) not in referenced
    ]
    assert not missing, f"suites no model or source YAML references (config: meta: gx_suite): {missing}"


def test_every_referenced_suite_exists_and_checks_the_referencing_table() -> None:
    suites = _suite_tables()
    wrong = [
        (where, table, suite)
        for where, table, suite in _references()
        if not (REPO_ROOT / suite).is_file() or _declared(suites.get(suite, "")) != table
    ]
    assert not wrong, f"gx_suite references to a missing suite or to another table's: {wrong}"


def test_a_table_references_one_suite() -> None:
    tables = [table for _, table, _ in _references()]
    assert len(tables) == len(set(tables)) == len(_suite_tables())
