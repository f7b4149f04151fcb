#!/usr/bin/env bash
# Create or reuse the real-runtime venvs: .venv-runtimes/<name> from runtimes/requirements-<name>.txt.
#
#   bash runtimes/setup-venv.sh              # all of: kserve mlserver triton paddle clients
#   bash runtimes/setup-venv.sh kserve       # just one
#
# Idempotent: a venv whose stamp (sha256 of its requirements file + python version + pip pin) matches is reused
# untouched; otherwise it is rebuilt from scratch. Installs run one after another (never in parallel).
# Needs python3.11 (or $SLUICE_PYTHON) and, for pypmml and TorchServe, Java 17 on PATH. Fails loudly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${SLUICE_PYTHON:-python3.11}"
PIP_VERSION="26.3"
VENVS_DIR="$ROOT/.venv-runtimes"
ALL=(kserve mlserver triton paddle clients)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")

die() { echo "setup-venv: ERROR: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set SLUICE_PYTHON to a Python 3.11 interpreter)"
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
case "$PYVER" in 3.11.*) ;; *) die "Python 3.11 required, $PYTHON is $PYVER" ;; esac

for name in "${NAMES[@]}"; do
  req="$ROOT/runtimes/requirements-$name.txt"
  venv="$VENVS_DIR/$name"
  [ -f "$req" ] || die "no requirements file $req (known: ${ALL[*]})"
  if [ "$name" = kserve ]; then
    command -v java >/dev/null 2>&1 || die "java not found: pypmml and TorchServe need Java 17 (apt-get install openjdk-17-jre-headless)"
  fi
  stamp="$( { sha256sum "$req" | cut -d' ' -f1; echo "python $PYVER pip $PIP_VERSION"; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$venv/.sluice-stamp" ] && [ "$(cat "$venv/.sluice-stamp")" = "$stamp" ] && [ -x "$venv/bin/python" ]; then
    echo "setup-venv: $name: reused $venv (stamp ${stamp:0:12} matches $(basename "$req"))"
    continue
  fi
  echo "setup-venv: $name: building $venv from $(basename "$req") (stamp ${stamp:0:12})"
  start=$(date +%s)
  rm -rf "$venv"
  mkdir -p "$VENVS_DIR"
  "$PYTHON" -m venv "$venv"
  log="$venv/.sluice-install.log"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check -q "pip==$PIP_VERSION" &&
         "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "$name: pip install -r $(basename "$req") failed (full log: $log); the venv is left incomplete and unstamped"
  fi
  echo "$stamp" > "$venv/.sluice-stamp"
  echo "setup-venv: $name: installed in $(( $(date +%s) - start ))s, $(du -sh "$venv" | cut -f1)"
done
