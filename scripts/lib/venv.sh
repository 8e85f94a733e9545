# Sourced by the scripts: make .venv exist and hold the current dependencies.
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the dependencies changed.
stamp=.venv/.binome-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "venv.sh: installing Binôme's Python dependencies into .venv (first run: a few minutes)" >&2
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
  echo "venv.sh: dependencies installed" >&2
fi
