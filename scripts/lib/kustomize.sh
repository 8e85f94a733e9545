# Sourced by scripts/test.sh: kustomize, which builds deploy/k8s for the manifest tests
# (tests/unit/test_ops_files.py), built from the Go module proxy into .cache/go/bin unless it
# is on the PATH (a minute, once).
KUSTOMIZE_VERSION=v5.7.1
if command -v kustomize >/dev/null; then
  export TEST_KUSTOMIZE=${TEST_KUSTOMIZE:-$(command -v kustomize)}
else
  export TEST_KUSTOMIZE=${TEST_KUSTOMIZE:-$PWD/.cache/go/bin/kustomize}
  if [ ! -x "$TEST_KUSTOMIZE" ]; then
    echo "kustomize.sh: building kustomize $KUSTOMIZE_VERSION from the Go module proxy (about a minute, once)" >&2
    GOBIN=$PWD/.cache/go/bin GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi
fi
