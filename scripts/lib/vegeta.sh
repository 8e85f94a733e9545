# Sourced by scripts/bench-api.sh: vegeta, the load generator (a compiled HTTP client: the
# 50 clients must not eat the cores the services are measured on, as a Python client did),
# built from the Go module proxy into .cache/go/bin unless it is on the PATH (seconds, once).
VEGETA_VERSION=v12.13.0
source scripts/lib/go-tool.sh
go_tool BENCH_VEGETA vegeta "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
