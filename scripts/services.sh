#!/usr/bin/env bash
# Runs the local test services (Redis, PostgreSQL, kinesalite, dynalite) in the background for manual work:
#   bash scripts/services.sh up     # then: source .services/env
#   bash scripts/services.sh down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
state=.services

running_pid() {
  local pid
  pid=$(cat "$state/pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case "${1:-}" in
  up)
    if pid=$(running_pid); then
      echo "services already running (pid $pid); use: source $state/env"
      exit 0
    fi
    mkdir -p "$state"
    rm -f "$state/env" "$state/pid"
    # setsid: the services outlive this shell; services.ts writes $state/pid and, once all are up, $state/env.
    setsid nohup npx tsx infra/local/services.ts up >"$state/log" 2>&1 </dev/null &
    launcher=$!
    for _ in $(seq 1 600); do
      [ -s "$state/env" ] && break
      if ! kill -0 "$launcher" 2>/dev/null; then
        echo "services failed to start:" >&2
        cat "$state/log" >&2
        exit 1
      fi
      sleep 0.1
    done
    if [ ! -s "$state/env" ]; then
      echo "services not up after 60 s; see $state/log" >&2
      exit 1
    fi
    cat "$state/env"
    echo "services up; run: source $state/env   (stop with: bash scripts/services.sh down)"
    ;;
  down)
    if ! pid=$(running_pid); then
      echo "services not running"
      exit 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" # Its servers die with it (parent-death signal).
    fi
    rm -f "$state/env" "$state/pid"
    echo "services stopped"
    ;;
  *)
    echo "usage: bash scripts/services.sh up|down" >&2
    exit 2
    ;;
esac
