# go_tool VAR BINARY MODULE@VERSION: export VAR as the path of BINARY, the one on the PATH if
# any, else built from the Go module proxy into .cache/go/bin (once). Sourced by the scripts
# that need a Go tool (kustomize.sh, vegeta.sh).
go_tool() {
  local var=$1 binary=$2 module=$3
  if [ -n "${!var:-}" ]; then
    export "$var"
  elif command -v "$binary" >/dev/null; then
    export "$var=$(command -v "$binary")"
  else
    export "$var=$PWD/.cache/go/bin/$binary"
  fi
  if [ ! -x "${!var}" ]; then
    echo "go-tool.sh: building $module from the Go module proxy (once)" >&2
    GOBIN=$PWD/.cache/go/bin GOFLAGS=-mod=mod go install "$module"
  fi
}
