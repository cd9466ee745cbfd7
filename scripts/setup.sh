#!/usr/bin/env bash
# Install what migrator, its lab and its tests need on a fresh Debian machine, idempotently.
# Debian packages: openssh-server (the lab and SSH tests run real sshd), stunnel4 (real tunnels),
# rsync, iproute2 (ss), netcat-openbsd, curl, iputils-ping (plans' ping checks in the lab),
# redis-server, postgresql, memcached, nginx-light, apache2 (the lab's CTs run the real daemons
# on their own configs; the packages' own system services are neither needed nor started:
# a policy-rc.d refuses them during the install), redis-tools and postgresql-client (the real
# redis-cli and psql the plans' checks run), nftables (tests cut a host's network silently: nft
# drop rules inside the test's own network namespace).
# Python: a venv in .venv with the package and extras.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-test}"

APT_PACKAGES=(openssh-server openssh-client stunnel4 rsync iproute2 netcat-openbsd curl procps iputils-ping
  redis-server redis-tools postgresql postgresql-client memcached nginx-light apache2 nftables)
need_apt=()
for bin in /usr/sbin/sshd /usr/bin/ssh-keygen /usr/bin/stunnel4 /usr/bin/rsync /usr/bin/ss /usr/bin/nc /usr/bin/curl \
  /usr/bin/ping /usr/bin/redis-server /usr/bin/redis-cli /usr/bin/psql /usr/bin/memcached /usr/sbin/nginx \
  /usr/sbin/apache2 /usr/sbin/nft; do
  [ -x "$bin" ] || need_apt+=("$bin")
done
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgres)
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
  # The lab runs these daemons itself, in its hosts' namespaces: a policy-rc.d (Debian's way,
  # invoke-rc.d asks it) keeps their packages' postinsts from starting them on the machine.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/setup.sh (migrator): no service starts during this install\nexit 101\n' |
      "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null || status=$?
  [ "$own_policy" = 0 ] || "${as_root[@]}" rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
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
