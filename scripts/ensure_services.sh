#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on localhost; start them when installed but stopped.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is not running; starting it" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! pg_up; then
  echo "ERROR: PostgreSQL does not answer on 127.0.0.1:5432 and cannot be started here." >&2
  echo "Install it (apt-get install postgresql) with trust auth for user postgres." >&2
  exit 1
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not running; starting it" >&2
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  echo "ERROR: Redis does not answer on 127.0.0.1:6379 and cannot be started here." >&2
  echo "Install it (apt-get install redis-server)." >&2
  exit 1
fi
echo "PostgreSQL and Redis are up" >&2
