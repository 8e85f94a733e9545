# Sourced by scripts/bench-api.sh: vegeta, the load generator (a compiled HTTP client: the
# 50 clients must not eat the cores the services are measured on, as a Python client did),
# built from the Go module proxy into .cache/go/bin unless it is on the PATH (seconds, once).
VEGETA_VERSION=v12.13.0
if command -v vegeta >/dev/null; then
  export BENCH_VEGETA=${BENCH_VEGETA:-$(command -v vegeta)}
else
  export BENCH_VEGETA=${BENCH_VEGETA:-$PWD/.cache/go/bin/vegeta}
  if [ ! -x "$BENCH_VEGETA" ]; then
    echo "vegeta.sh: building vegeta $VEGETA_VERSION from the Go module proxy (once)" >&2
    GOBIN=$PWD/.cache/go/bin GOFLAGS=-mod=mod go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
  fi
fi
