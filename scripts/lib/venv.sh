# Sourced by the scripts: make .venv exist and hold the current dependencies.
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the dependencies changed. The versions are the lock's
# (requirements-dev.lock, from scripts/lock.sh): every machine and CI run installs the same.
stamp=.venv/.binome-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements-dev.lock -nt "$stamp" ]; then
  echo "venv.sh: installing Binôme's Python dependencies into .venv (first run: a few minutes)" >&2
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.lock
  .venv/bin/pip install -q --no-deps -e .
  touch "$stamp"
  echo "venv.sh: dependencies installed" >&2
fi
