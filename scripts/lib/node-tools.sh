# Sourced by scripts/test.sh: the JavaScript tools the tests run (tests/js: the AsyncAPI
# parser, openapi-typescript, openapi-fetch and TypeScript), from npm at the versions
# tests/js/package-lock.json pins, unless already there.
if [ ! -f tests/js/node_modules/.package-lock.json ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
  echo "node-tools.sh: installing tests/js's validators from npm" >&2
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
fi
