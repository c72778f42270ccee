"""The feature SQL for Spark, rendered from the portable DuckDB SQL (`sql.portable_feature_sql`:
lookups without ASOF joins, which the tests check on DuckDB) by sqlglot, which translates one engine's SQL to
another's. Where its translation is missing or differs from DuckDB's meaning, `_spark_forms`
writes the Spark form itself. The definitions stay the catalog's: nothing here states a feature."""

from __future__ import annotations

import sqlglot
from sqlglot import exp


def _spark_forms(node: exp.Expression) -> exp.Expression:
    """DuckDB forms sqlglot does not translate to Spark with the same meaning."""
    if isinstance(node, exp.DayOfWeekIso):
        # Monday 1 to Sunday 7
        return exp.Extract(this=exp.var("DAYOFWEEK_ISO"), expression=node.this)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_minutes":
        (minutes,) = node.expressions
        return exp.Mul(
            this=exp.Paren(this=minutes),
            expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MINUTE")),
        )
    return node


def spark_sql(duckdb_sql: str) -> str:
    """A DuckDB SELECT of the feature SQL as Spark SQL. Refuses an ASOF join (Spark has none)."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    if any(join.args.get("method") for join in tree.find_all(exp.Join)):
        raise ValueError("Spark has no ASOF join: render sql.portable_feature_sql")
    return tree.transform(_spark_forms).sql(dialect="spark")
