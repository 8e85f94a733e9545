# Sourced by scripts/test.sh and scripts/run-distributed.sh: Debian's nginx, the gateway of the
# distributed mode (configured by `binome proxy-config`), installed from Debian's packages
# unless it is there; its path exported as TEST_NGINX for the tests.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
  echo "nginx.sh: installing nginx from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
export TEST_NGINX=$NGINX
