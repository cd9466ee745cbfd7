#!/usr/bin/env bash
# The demo (README command 1): set up, bring the local lab up, show the off1 plan, rehearse
# off1 against the lab non-interactively, and print the run summary.
# Safe to run again: the lab in .lab/ is reused (keys, infra repo, state.db: the runs add up),
# its hosts are reset to before off1's move, and each run is a new rehearsal run.
# Needs root (per-host mount namespaces): as another user it runs itself again through sudo.
set -uo pipefail
. "$(dirname "$0")/as-root.sh" "$0" "$@"
cd "$(dirname "$0")/.."

# Set up only what is missing: a machine that already has migrator and fakepve is used as is.
if python3 -c 'import migrator.lab.control, fakepve' 2>/dev/null && command -v stunnel >/dev/null; then
  PY=python3
else
  bash scripts/setup.sh lab,test || exit $?
  PY="$PWD/.venv/bin/python"
fi
migrator() { "$PY" -m migrator "$@"; }

# The lab lives in a network namespace of its own, `migrator-lab` (kept between demos): its
# 127.x addresses, routes and listening ports never touch the machine's own network, and a
# second lab (the tests') never collides with it. The set-up above ran outside it (PyPI).
NETNS=migrator-lab
if [ "${MIGRATOR_DEMO_NETNS:-}" != "$NETNS" ]; then
  if [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS" || { echo "demo: cannot create the network namespace $NETNS (ip netns add)" >&2; exit 2; }
  fi
  ip -n "$NETNS" link set lo up || exit 2
  exec env MIGRATOR_DEMO_NETNS="$NETNS" ip netns exec "$NETNS" bash "$0" "$@"
fi

LAB=.lab
DB="$LAB/state.db"
# A rehearsal starts from the world before off1's move: the first time `lab reset` only brings
# the lab up; after an earlier rehearsal (off1 already moved) it starts the lab's hosts over.
echo "== migrator lab reset --dir $LAB (the lab up, as before off1's move)"
migrator lab reset --dir "$LAB" || exit $?

echo
echo "== migrator plan off1"
migrator plan off1 --inventory "$LAB/inventory.yaml" || exit $?

echo
# off1's repoint-consumers requires the stunnel plan's MongoDB client (`requires:`), which the demo
# does not rehearse: it is taken as done, and the run journals that decision with this reason.
ASSUME=(--assume-done stunnel:mongodb-client-ovh1-ct113-verify
        --reason "the demo rehearses off1 alone; the stunnel plan's MongoDB client is taken as listening")
echo "== migrator run off1 --inventory $LAB/inventory.yaml --yes --confirm-manual ${ASSUME[*]:0:2} (a lab rehearsal)"
migrator run off1 --inventory "$LAB/inventory.yaml" --yes --confirm-manual "${ASSUME[@]}" --db "$DB"
run_status=$?

echo
echo "== migrator status"
migrator status --db "$DB"

echo
if [ "$run_status" = 0 ]; then
  echo "demo: the off1 rehearsal completed. The lab keeps running in the network namespace $NETNS:"
  echo "      \`ip netns exec $NETNS .venv/bin/migrator tui off1 --inventory $LAB/inventory.yaml --db $DB\`"
  echo "      drives it; \`.venv/bin/migrator lab down --dir $LAB\` stops it."
else
  echo "demo: the off1 rehearsal stopped (exit $run_status): the summary above says where and why."
  echo "      \`migrator log --db $DB\` has the journal; \`migrator lab down --dir $LAB\` stops the lab."
fi
exit "$run_status"
