#!/usr/bin/env bash
# CheckDuplicate at scale against Splink, on the same records, in one go:
#   1. makes .tools/splink-venv with splink and duckdb (from PyPI; a benchmark, not part
#      of `make test`),
#   2. runs `cargo bench -p shangji-dedup --bench check_at_scale` (CUSTOMERS, default
#      1,000,000; QUERIES, default 20,000; CONCURRENCY, default 16), which prints load
#      time, latency, checks/s, candidates and recall and writes $BENCH_OUT/records.csv
#      (the customers and the queries, with the truth),
#   3. runs Splink (DuckDB backend) deduplicating that CSV: wall time, pairs, recall.
#
# Usage: services/dedup/benches/splink/run.sh            (from anywhere in the checkout)
#        CUSTOMERS=100000 services/dedup/benches/splink/run.sh
#        SKIP_RUST=1 ... reuses $BENCH_OUT/records.csv and runs Splink only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
venv="$root/.tools/splink-venv"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/shangji-check-at-scale}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import splink, duckdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'splink==5.0.0' duckdb
fi
cd "$root"
if [[ -z "${SKIP_RUST:-}" ]]; then
  cargo bench -p shangji-dedup --bench check_at_scale
fi
/usr/bin/time -f "splink peak memory: %M KB" "$venv/bin/python" "$here/dedup.py" "$BENCH_OUT/records.csv"
