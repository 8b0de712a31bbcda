#!/usr/bin/env python3
"""The funnel the analytics read models answer, computed by DuckDB from a flat CSV of
the same opportunities (one row each: its furthest stage order, status, current stage
and amount). Prints JSON timings in milliseconds.

Usage: duckdb_funnel.py <opportunities.csv>   (run by the `read_models` bench, which
installs duckdb into services/analytics/bench/.venv)."""
import json
import statistics
import sys
import time

import duckdb

FUNNEL = """
SELECT max_order, status, stage, COUNT(*) AS n, SUM(amount_cents) AS cents
FROM opportunities GROUP BY max_order, status, stage
"""


def timed(con, sql, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    path = sys.argv[1]
    con = duckdb.connect()
    start = time.perf_counter()
    con.execute(f"CREATE TABLE opportunities AS SELECT * FROM read_csv_auto('{path}')")
    load_ms = (time.perf_counter() - start) * 1000
    from_file = timed(con, FUNNEL.replace("FROM opportunities", f"FROM read_csv_auto('{path}')"), 3)
    in_memory = timed(con, FUNNEL, 20)
    rows = con.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0]
    print(json.dumps({"rows": rows, "load_ms": load_ms, "funnel_from_file_ms": from_file,
                      "funnel_in_memory_ms": in_memory, "duckdb": duckdb.__version__}))


if __name__ == "__main__":
    main()
