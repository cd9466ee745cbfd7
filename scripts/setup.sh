#!/usr/bin/env bash
# Install what migrator, its lab and its tests need on a fresh Debian machine, idempotently.
# Debian packages: openssh-server (the lab and SSH tests run real sshd), stunnel4 (real tunnels),
# rsync, iproute2 (ss), netcat-openbsd, curl, iputils-ping (plans' ping checks in the lab),
# redis-server (the lab's CTs run the real Redis; the package's own service is not needed).
# Python: a venv in .venv with the package and extras.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test}"

APT_PACKAGES=(openssh-server openssh-client stunnel4 rsync iproute2 netcat-openbsd curl procps iputils-ping
  redis-server)
need_apt=()
for bin in /usr/sbin/sshd /usr/bin/ssh-keygen /usr/bin/stunnel4 /usr/bin/rsync /usr/bin/ss /usr/bin/nc /usr/bin/curl \
  /usr/bin/ping /usr/bin/redis-server; do
  [ -x "$bin" ] || need_apt+=("$bin")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  as_root=()  # root runs apt-get itself (a fresh machine used as root often has no sudo)
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: missing ${need_apt[*]}; run as root: apt-get install ${APT_PACKAGES[*]}" >&2
      exit 2
    fi
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Installed once per pyproject.toml and extras: a re-run (every demo and test run) needs no
# package index, so it also works offline, e.g. inside a private network namespace.
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-$hash-${EXTRAS//,/-}"
installed() {  # whether an install for this pyproject.toml had every extra asked for now
  local done_stamp have extra
  for done_stamp in .venv/.installed-"$hash"-*; do
    [ -e "$done_stamp" ] || continue
    have=",${done_stamp#.venv/.installed-"$hash"-},"
    have="${have//-/,}"
    for extra in ${EXTRAS//,/ }; do
      [[ "$have" == *",$extra,"* ]] || continue 2
    done
    return 0
  done
  return 1
}
if ! installed; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  # compat editable mode: a plain path entry instead of an import hook (~20 ms off every start);
  # setuptools warns that it may go away one day: a known choice, not news at every set-up.
  PYTHONWARNINGS="ignore:Compat editable installs" \
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" \
    --config-settings editable_mode=compat
  find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete  # older pyproject.toml
  touch "$stamp"
fi
# An editable install compiles nothing; byte-compile once so every `migrator` start does not
# (this matters where PYTHONDONTWRITEBYTECODE is set: ~0.13 s per start).
.venv/bin/python -m compileall -q migrator tui >/dev/null
