"""Splink (DuckDB backend) deduplicating the records check_at_scale wrote.

The CSV holds the loaded customers (c<i>) and the CheckDuplicate queries (q<n>), with
`truth` naming the customer each record is. Splink gets blocking rules comparable to
dedup's blocking keys (exact phone, exact e-mail, exact name, surname + company
prefix) and Jaro-Winkler comparisons of name and company. Splink has no pinyin or
traditional->simplified folding, so the inputs get only what a Splink user would do by
hand: digits of the phone, lower-case e-mail, name and company. Prints wall time,
pairs found, and recall of the query -> customer pairs (what CheckDuplicate's recall
measures).

Usage: python dedup.py records.csv
"""

import sys
import time

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def main(path: str) -> None:
    started = time.time()
    con = duckdb.connect()
    con.execute("SET threads TO 2").fetchall()
    con.execute(
        f"""
        CREATE TABLE records AS
        SELECT unique_id, truth,
               lower(trim(name)) AS name_l,
               lower(trim(company)) AS company_l,
               CASE WHEN length(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')) >= 11
                    THEN right(regexp_replace(phone, '[^0-9]', '', 'g'), 11) END AS phone,
               nullif(lower(trim(coalesce(email, ''))), '') AS email,
               lower(substr(trim(name), 1, 1)) AS surname,
               lower(substr(regexp_replace(trim(company),
                   '^(北京|上海|深圳|广州|杭州|成都|武汉|南京|苏州|西安)', ''), 1, 4)) AS company4
        FROM read_csv('{path}', header = true, all_varchar = true)
        """
    ).fetchall()
    records = con.execute("SELECT count(*) FROM records").fetchone()[0]
    queries = con.execute(
        "SELECT count(*) FROM records WHERE unique_id LIKE 'q%' AND truth LIKE 'c%'"
    ).fetchone()[0]
    db_api = DuckDBAPI(connection=con.cursor())
    df = db_api.register("records")

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("email"),
            block_on("name_l"),
            block_on("surname", "company4"),
        ],
        comparisons=[
            cl.ExactMatch("phone"),
            cl.ExactMatch("email"),
            cl.JaroWinklerAtThresholds("name_l", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("company_l", [0.92, 0.8]),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    trained_at = time.time()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_l"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predict_at = time.time()
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    done = time.time()
    table = pairs.physical_name
    found = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    hits = con.execute(
        f"""
        SELECT count(DISTINCT q) FROM (
          SELECT CASE WHEN p.unique_id_l LIKE 'q%' THEN p.unique_id_l ELSE p.unique_id_r END AS q,
                 CASE WHEN p.unique_id_l LIKE 'q%' THEN p.unique_id_r ELSE p.unique_id_l END AS c
          FROM {table} p
          WHERE (p.unique_id_l LIKE 'q%') <> (p.unique_id_r LIKE 'q%')
        ) m JOIN records r ON r.unique_id = m.q
        WHERE r.truth = m.c
        """
    ).fetchone()[0]
    print(
        f"splink {records} records: wall {done - started:.1f} s "
        f"(load {trained_at - started:.1f} s, train {predict_at - trained_at:.1f} s, "
        f"predict {done - predict_at:.1f} s); pairs found (p >= 0.5): {found}; "
        f"recall of duplicate queries: {hits}/{queries} = {hits / max(queries, 1):.4f}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
