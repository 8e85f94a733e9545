#!/usr/bin/env bash
# Pin every dependency of pyproject.toml (and theirs) for reproducible installs:
# requirements.lock (runtime: the image) and requirements-dev.lock (with the dev extra: the
# tests and CI), the second constrained by the first so both agree. uv resolves them.
#   scripts/lock.sh [--upgrade]   (without it, versions already pinned are kept)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
[ -x .venv/bin/uv ] || .venv/bin/pip install -q uv
keep=()
keep_dev=()
[ "${1:-}" = "--upgrade" ] || { keep=(-c requirements.lock); keep_dev=(-c requirements-dev.lock); }
tmp=$(mktemp) && trap 'rm -f "$tmp"' EXIT
head='# Regenerate after changing pyproject.toml: scripts/lock.sh'
{
  echo '# Runtime dependencies, pinned: what the image installs (deploy/Dockerfile).'
  echo "$head"
  .venv/bin/uv pip compile pyproject.toml "${keep[@]}" --python-version 3.11 --no-header --no-annotate -q -o "$tmp"
  cat "$tmp"
} > requirements.lock.new && mv requirements.lock.new requirements.lock
{
  echo '# Runtime and development dependencies, pinned: what scripts/test.sh and CI install.'
  echo "$head"
  .venv/bin/uv pip compile pyproject.toml --extra dev -c requirements.lock "${keep_dev[@]}" --python-version 3.11 --no-header --no-annotate -q -o "$tmp"
  cat "$tmp"
} > requirements-dev.lock.new && mv requirements-dev.lock.new requirements-dev.lock
echo "lock.sh: requirements.lock and requirements-dev.lock written" >&2
