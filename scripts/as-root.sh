# Sourced by demo.sh and test.sh: run the calling script as root. As root (a fresh Debian
# machine often has no sudo at all) it goes on as is; otherwise it runs itself again through
# sudo, and says what to do where there is no sudo either.
# Usage, first thing in a script: . "$(dirname "$0")/as-root.sh" "$0" "$@"
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env=PATH,PYTHON,CI bash "$@"
  fi
  echo "$(basename "$1"): needs root (the lab's per-host mount namespaces) and sudo is absent: run it as root" >&2
  exit 2
fi
