#!/usr/bin/env bash
# Installs the Debian packages the integration tests need (redis-server, PostgreSQL 15, mosquitto, Chromium) when
# absent.
# Idempotent: does nothing, and touches no package index, when everything is already there.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Debian keeps initdb off PATH, under /usr/lib/postgresql/<version>/bin.
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi

# The MQTT bridge's tests run a real MQTT 5 broker (shared subscriptions); aedes (npm) is the 3.1.1 one.
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)

# The benchmark report's test opens it in headless Chromium through playwright-core (never a download).
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run this script as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

# Debian's packages start system-wide daemons (a main cluster on 5432, redis on 6379); the tests start
# their own throwaway servers, so stop these to free memory. Failures are harmless (no init system).
for pkg in "${missing[@]}"; do
  case "$pkg" in
    postgresql)
      for ver in /usr/lib/postgresql/*/; do
        "${as_root[@]}" pg_ctlcluster "$(basename "$ver")" main stop >/dev/null 2>&1 || true
      done
      "${as_root[@]}" service postgresql stop >/dev/null 2>&1 || true
      ;;
    redis-server)
      "${as_root[@]}" service redis-server stop >/dev/null 2>&1 || true
      ;;
    mosquitto)
      "${as_root[@]}" service mosquitto stop >/dev/null 2>&1 || true
      ;;
  esac
done
