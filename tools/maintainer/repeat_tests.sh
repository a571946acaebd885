#!/usr/bin/env bash
# Run the test suite several times in a row and stop at the first failure: a flaky test shows up here.
#   tools/maintainer/repeat_tests.sh [RUNS] [pytest arguments...]     e.g. tools/maintainer/repeat_tests.sh 3 --deselect tests/test_browser.py
set -euo pipefail
runs=${1:-3}
shift || true
for i in $(seq 1 "$runs"); do
  echo "=== run $i of $runs ==="
  python -m pytest -q "$@"
done
echo "all $runs runs passed"
