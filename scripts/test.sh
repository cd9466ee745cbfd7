#!/usr/bin/env bash
# Set up (idempotent) and run everything CI runs: lint, types, layering contracts, tests.
# Root: the lab tests run real sshd in per-host mount namespaces (as another user: through sudo).
set -euo pipefail
. "$(dirname "$0")/as-root.sh" "$0" "$@"
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check migrator tui tests bench
echo "== mypy";          mypy
echo "== import-linter"; lint-imports
# In parallel (pytest-xdist): the lab tests mostly wait on sshd, stunnel and fakepve, so 4 workers
# on 2 cores; a module sharing a lab stays on one worker (tests/conftest.py). Arguments pass
# through and come last: `-n 0` runs serially, `-n 2` changes the count.
echo "== pytest";        python -m pytest -q -n 4 --dist loadgroup "$@"
