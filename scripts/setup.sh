#!/usr/bin/env bash
# Install what migrator, its lab and its tests need on a fresh Debian machine, idempotently.
# Debian packages: openssh-server (the lab and SSH tests run real sshd), stunnel4 (real tunnels),
# rsync, iproute2 (ss), netcat-openbsd, curl, iputils-ping (plans' ping checks in the lab). Python: a venv in .venv with the package and extras.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test}"

need_apt=()
for bin in /usr/sbin/sshd /usr/bin/ssh-keygen /usr/bin/stunnel4 /usr/bin/rsync /usr/bin/ss /usr/bin/nc /usr/bin/curl /usr/bin/ping; do
  [ -x "$bin" ] || need_apt+=("$bin")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need_apt[*]}; run as root or: sudo apt-get install openssh-server openssh-client stunnel4 rsync iproute2 netcat-openbsd curl iputils-ping" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openssh-server openssh-client stunnel4 rsync iproute2 \
    netcat-openbsd curl procps iputils-ping >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
# compat editable mode: a plain path entry instead of an import hook (~20 ms off every start)
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" \
  --config-settings editable_mode=compat
# An editable install compiles nothing; byte-compile once so every `migrator` start does not
# (this matters where PYTHONDONTWRITEBYTECODE is set: ~0.13 s per start).
.venv/bin/python -m compileall -q migrator tui >/dev/null
