# Sourced by scripts/test.sh: Prometheus's `promtool`, which checks deploy/'s alert rules,
# dashboard queries and scrape configuration and lints /metrics (tests/unit/test_ops_files.py,
# tests/api/test_metrics.py), from Debian's `prometheus` package unless it is there.
if ! command -v promtool >/dev/null; then
  echo "promtool.sh: installing promtool from Debian's prometheus package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
