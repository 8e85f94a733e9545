# Sourced by scripts/test.sh: Debian's Chromium and its ChromeDriver for the browser tests
# (tests/browser), installed from Debian's packages unless they are there.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "browser.sh: installing Chromium and ChromeDriver from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
