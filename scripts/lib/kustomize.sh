# Sourced by scripts/test.sh: kustomize, which builds deploy/k8s for the manifest tests
# (tests/unit/test_ops_files.py), built from the Go module proxy into .cache/go/bin unless it
# is on the PATH (a minute, once).
KUSTOMIZE_VERSION=v5.7.1
source scripts/lib/go-tool.sh
go_tool TEST_KUSTOMIZE kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
