#!/usr/bin/env bash
# Starts and stops the local MetaFuse Cloud stack: a throwaway PostgreSQL 15
# and Redis on free loopback ports, the development OpenID Provider
# (tools/oidc-dev) for single sign-on, and the services on top of them.
#
# Usage: scripts/stack.sh COMMAND [ARGS]
#   infra-up DIR    start Postgres and Redis with their state in DIR; writes
#                   DIR/infra.env (export lines: MF_PG_PORT, MF_REDIS_PORT,
#                   MF_PG_URL, MF_PG_ADMIN_URL, MF_PG_SUPER_URL, MF_REDIS_URL)
#   infra-down DIR  stop what infra-up started in DIR and remove its data
#   up              the whole stack in the background under .run/: infra,
#                   migrations, platform key, the dev OpenID Provider (a demo
#                   user with a random password, a client for mf-api),
#                   mf-api, mf-ingest, mf-analytics, demo tenant; writes .run/env and prints
#                   the URL and the demo credentials
#   down            stop what `up` started (nothing else)
#   run             `up`, then wait in the foreground; Ctrl-C runs `down`
#   status          what is running
#
# Environment: MF_RUN_DIR (default .run at the repo root), MF_BIN_DIR
# (default build/bin), MF_PG_PORT, MF_REDIS_PORT, MF_API_PORT (default: free
# ports), MF_DEMO_USER (the demo user's e-mail at the OpenID Provider, default
# demo@example.com). Only processes recorded in this stack's pid files are ever stopped,
# so stacks of several checkouts can run side by side.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD" # arguments are relative to it; main() moves to ROOT
SELF="$ROOT/scripts/stack.sh"
PGBIN=/usr/lib/postgresql/15/bin
PG_SUPERUSER=postgres
# Debian's interpreter: the PATH python3 may be a pyenv without Debian packages.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

say() { echo "stack.sh: $*"; }
warn() { echo "stack.sh: $*" >&2; }
die() { echo "stack.sh: error: $*" >&2; exit 1; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

# alive PID [COMM]: true when PID runs (a zombie counts as gone) and, if COMM
# is given, is that program (guards against a recycled PID).
alive() {
  local pid="$1" comm="${2:-}" stat rest
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  rest="${stat##*) }"
  [ "${rest%% *}" != Z ] || return 1
  if [ -n "$comm" ]; then
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
  fi
  return 0
}

# read_pid FILE: the PID on the first line of FILE, or nothing.
read_pid() {
  local pid=""
  if [ -f "$1" ]; then
    read -r pid <"$1" 2>/dev/null || true
  fi
  if [[ "$pid" =~ ^[0-9]+$ ]]; then
    echo "$pid"
  fi
}

# wait_gone PID SECONDS: true once PID is gone, false after SECONDS.
wait_gone() {
  local pid="$1" i
  for ((i = 0; i < $2 * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  ! alive "$pid"
}

# stop_pid PID COMM SIGNAL GRACE: send SIGNAL to PID if it is COMM, wait up to
# GRACE seconds, then SIGKILL. Quiet when it is not running.
stop_pid() {
  local pid="$1" comm="$2" sig="$3" grace="$4"
  alive "$pid" "$comm" || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$grace"; then
    warn "$comm (pid $pid) still running after ${grace}s: SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || warn "$comm (pid $pid) did not exit"
  fi
}

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
  "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_free PORT: true when PORT can be bound on 127.0.0.1.
port_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# abspath PATH: PATH made absolute against the caller's directory.
abspath() {
  case "$1" in
    /*) echo "$1" ;;
    *) echo "$CALLER_PWD/$1" ;;
  esac
}

# env_line NAME VALUE: an `export` line; quoted only when it has to be.
env_line() {
  if [[ "$2" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then
    printf 'export %s=%s\n' "$1" "$2"
  else
    printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
  fi
}

# ---------------------------------------------------------------------------
# infra-up / infra-down: Postgres and Redis
# ---------------------------------------------------------------------------
# DIR holds infra.env, the pid files and, when the postgres user can reach it,
# the data. Otherwise (DIR in a private home folder or under a 0700 parent,
# or a path too long for a Unix socket) the data goes to a `mktemp -d` folder
# under /tmp whose path is recorded in DIR/data-dir. Data layout: pg/ (PGDATA), pg-run/ (socket, log),
# redis/ (working dir, log).

# as_pg CMD...: run CMD as the postgres user (initdb refuses root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# infra_data DIR: where DIR's data lives.
infra_data() {
  local data=""
  [ -f "$1/data-dir" ] && read -r data <"$1/data-dir"
  echo "${data:-$1}"
}

infra_running() {
  local dir="$1"
  alive "$(read_pid "$dir/postgres.pid")" postgres ||
    alive "$(read_pid "$dir/redis.pid")" redis-server
}

cmd_infra_up() {
  [ $# -eq 1 ] || die "usage: stack.sh infra-up DIR"
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 is not installed ($PGBIN): run scripts/deps.sh"
  command -v redis-server >/dev/null || die "redis-server is not installed: run scripts/deps.sh"

  local dir
  mkdir -p -- "$(abspath "$1")"
  dir="$(cd "$(abspath "$1")" && pwd -P)"
  INFRA_DIR="$dir"
  if infra_running "$dir"; then
    die "infra already running in $dir (stop it with: stack.sh infra-down $dir)"
  fi
  infra_remove "$dir" keep-dir # leftovers of a run that was not stopped
  # Fixed ports must be free; fail before spending time on initdb.
  if [ -n "${MF_PG_PORT:-}" ] && ! port_free "$MF_PG_PORT"; then
    die "MF_PG_PORT=$MF_PG_PORT is already in use on 127.0.0.1"
  fi
  if [ -n "${MF_REDIS_PORT:-}" ] && ! port_free "$MF_REDIS_PORT"; then
    die "MF_REDIS_PORT=$MF_REDIS_PORT is already in use on 127.0.0.1"
  fi
  chmod 755 "$dir"

  # The data folder: DIR itself if postgres can reach it, else a temp folder.
  local data="$dir"
  local sock_suffix="/pg-run/.s.PGSQL.65535"
  local sock_len=$((${#dir} + ${#sock_suffix}))
  if [ "$sock_len" -gt 100 ] ||
     { [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; }; then
    data="$(mktemp -d /tmp/mf-infra.XXXXXX)"
    chmod 755 "$data"
    echo "$data" >"$dir/data-dir"
  fi

  # From here on a failure stops whatever was started and removes the data.
  trap infra_on_exit EXIT
  trap 'exit 130' INT TERM HUP # so that the EXIT trap cleans up

  mkdir -p "$data/pg" "$data/pg-run" "$data/redis"
  chmod 700 "$data/pg"
  chmod 755 "$data/pg-run"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$data/pg" "$data/pg-run"
  fi

  # --- PostgreSQL ----------------------------------------------------------
  as_pg "$PGBIN/initdb" -D "$data/pg" -U "$PG_SUPERUSER" -A trust \
    -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/initdb.log"
  # Loopback TCP only, trust for 127.0.0.1; nothing else may connect.
  printf '%s\n' '# MetaFuse throwaway cluster: loopback TCP only.' \
    'host all all 127.0.0.1/32 trust' >"$data/pg/pg_hba.conf"
  cat >>"$data/pg/postgresql.conf" <<EOF

# MetaFuse throwaway cluster (scripts/stack.sh): loopback only, no durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = '${data//\'/\'\'}/pg-run'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

  local pg_port="" attempt
  for attempt in 1 2 3; do
    if [ -n "${MF_PG_PORT:-}" ]; then
      pg_port="$MF_PG_PORT"
      port_free "$pg_port" || die "MF_PG_PORT=$pg_port is already in use on 127.0.0.1"
    else
      pg_port="$(free_port)"
    fi
    if as_pg "$PGBIN/pg_ctl" -D "$data/pg" -l "$data/pg-run/postgres.log" \
         -w -t 30 -s -o "-p $pg_port" start >/dev/null 2>&1; then
      break
    fi
    # A postmaster that is still starting after the timeout must not linger.
    read_pid "$data/pg/postmaster.pid" >"$dir/postgres.pid"
    stop_pid "$(read_pid "$dir/postgres.pid")" postgres INT 10
    rm -f "$dir/postgres.pid"
    if [ -n "${MF_PG_PORT:-}" ] || [ "$attempt" -eq 3 ]; then
      tail -n 20 "$data/pg-run/postgres.log" >&2 || true
      die "PostgreSQL did not start on port $pg_port"
    fi
    warn "PostgreSQL did not start on port $pg_port, trying another port"
  done
  read_pid "$data/pg/postmaster.pid" >"$dir/postgres.pid"
  [ -s "$dir/postgres.pid" ] || die "PostgreSQL started but left no postmaster.pid"

  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
    -U "$PG_SUPERUSER" -d postgres \
    -c "CREATE ROLE mf_owner LOGIN" \
    -c "CREATE ROLE mf_app LOGIN NOSUPERUSER NOBYPASSRLS" \
    -c "CREATE DATABASE metafuse OWNER mf_owner" >/dev/null ||
    die "could not create the roles and the database"

  # --- Redis -----------------------------------------------------------------
  local redis_port="" redis_pid="" i
  for attempt in 1 2 3; do
    if [ -n "${MF_REDIS_PORT:-}" ]; then
      redis_port="$MF_REDIS_PORT"
      port_free "$redis_port" || die "MF_REDIS_PORT=$redis_port is already in use on 127.0.0.1"
    else
      redis_port="$(free_port)"
    fi
    rm -f "$dir/redis.pid"
    redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes \
      --dir "$data/redis" --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$data/redis/redis.log" >/dev/null 2>&1 || true
    # Ready when it answers PING; failed when it exited.
    for ((i = 0; i < 100; i++)); do
      redis_pid="$(read_pid "$dir/redis.pid")"
      if [ -n "$redis_pid" ] && ! alive "$redis_pid"; then
        break
      fi
      if [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] &&
         [ -n "$redis_pid" ]; then
        break 2
      fi
      sleep 0.1
    done
    [ -z "$redis_pid" ] || stop_pid "$redis_pid" redis-server TERM 5
    if [ -n "${MF_REDIS_PORT:-}" ] || [ "$attempt" -eq 3 ]; then
      tail -n 20 "$data/redis/redis.log" >&2 || true
      die "Redis did not start on port $redis_port"
    fi
    warn "Redis did not start on port $redis_port, trying another port"
  done

  # Both answer (pg_ctl -w waited for Postgres; check once more anyway).
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" || die "PostgreSQL does not answer"

  {
    echo "# Written by scripts/stack.sh infra-up; stop with: scripts/stack.sh infra-down DIR"
    env_line MF_INFRA_DIR "$dir"
    env_line MF_INFRA_DATA "$data"
    env_line MF_PG_PORT "$pg_port"
    env_line MF_REDIS_PORT "$redis_port"
    env_line MF_PG_ADMIN_URL "postgresql://mf_owner@127.0.0.1:$pg_port/metafuse"
    env_line MF_PG_URL "postgresql://mf_app@127.0.0.1:$pg_port/metafuse"
    env_line MF_PG_SUPER_URL "postgresql://$PG_SUPERUSER@127.0.0.1:$pg_port/metafuse"
    env_line MF_REDIS_URL "redis://127.0.0.1:$redis_port"
  } >"$dir/infra.env.tmp"
  mv "$dir/infra.env.tmp" "$dir/infra.env"
  trap - EXIT INT TERM HUP
  say "infra up in $dir: postgres 127.0.0.1:$pg_port (pid $(read_pid "$dir/postgres.pid")), redis 127.0.0.1:$redis_port (pid $redis_pid)"
}

# EXIT trap of infra-up: on failure, stop and clean what it started.
infra_on_exit() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ]; then
    warn "infra-up failed in $INFRA_DIR; stopping what it started"
    infra_stop "$INFRA_DIR"
    infra_remove "$INFRA_DIR"
  fi
  exit "$rc"
}

# infra_stop DIR: stop Postgres (SIGINT: fast shutdown) and Redis (SIGTERM).
infra_stop() {
  local dir="$1" data pg_pid
  data="$(infra_data "$dir")"
  pg_pid="$(read_pid "$dir/postgres.pid")"
  [ -n "$pg_pid" ] || pg_pid="$(read_pid "$data/pg/postmaster.pid")"
  stop_pid "$pg_pid" postgres INT 30
  stop_pid "$(read_pid "$dir/redis.pid")" redis-server TERM 15
}

# infra_remove DIR [keep-dir]: remove what infra-up wrote, and nothing else.
infra_remove() {
  local dir="$1" data
  data="$(infra_data "$dir")"
  if [ "$data" != "$dir" ]; then
    case "$data" in
      /tmp/mf-infra.*) rm -rf -- "$data" ;;
      *) warn "not removing unexpected data folder $data" ;;
    esac
  fi
  rm -rf -- "$dir/pg" "$dir/pg-run" "$dir/redis"
  rm -f -- "$dir/infra.env" "$dir/infra.env.tmp" "$dir/initdb.log" \
    "$dir/postgres.pid" "$dir/redis.pid" "$dir/data-dir"
  if [ "${2:-}" != keep-dir ]; then
    rmdir -- "$dir" 2>/dev/null || true
  fi
}

cmd_infra_down() {
  [ $# -eq 1 ] || die "usage: stack.sh infra-down DIR"
  [ -d "$(abspath "$1")" ] || return 0
  local dir
  dir="$(cd "$(abspath "$1")" && pwd -P)"
  infra_stop "$dir"
  infra_remove "$dir"
}

# ---------------------------------------------------------------------------
# up / down / run / status: the whole stack under .run/
# ---------------------------------------------------------------------------

RUN="$(abspath "${MF_RUN_DIR:-$ROOT/.run}")"
BIN="${MF_BIN_DIR:-build/bin}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
API_PID="$RUN/mf-api.pid"
INGEST_PID="$RUN/mf-ingest.pid"
WORKER_PID="$RUN/mf-ingest-work.pid"
ANALYTICS_PID="$RUN/mf-analytics.pid"
OIDC_PID="$RUN/oidc-dev.pid"
OIDC_CONF="$RUN/oidc-dev.json" # client secret and demo password: mode 0600
OIDC_JS="$ROOT/tools/oidc-dev/server.mjs"
OIDC_CLIENT_ID=mf-api
DEMO_USER="${MF_DEMO_USER:-demo@example.com}"

# The lock keeps two up/down of the same run dir from interleaving.
lock_run_dir() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 30 9 || die "another stack.sh is working on $RUN"
}

api_running() { alive "$(read_pid "$API_PID")" mf-api; }
# The provider names itself oidc-dev (process.title), so its comm is checkable.
oidc_running() { alive "$(read_pid "$OIDC_PID")" oidc-dev; }

stack_running() {
  api_running &&
    oidc_running &&
    alive "$(read_pid "$INGEST_PID")" mf-ingest &&
    alive "$(read_pid "$WORKER_PID")" mf-ingest &&
    alive "$(read_pid "$ANALYTICS_PID")" mf-analytics &&
    alive "$(read_pid "$RUN/infra/postgres.pid")" postgres &&
    alive "$(read_pid "$RUN/infra/redis.pid")" redis-server
}

# Stops the services, the OpenID Provider, then the infra; keeps the logs.
stack_stop() {
  stop_pid "$(read_pid "$ANALYTICS_PID")" mf-analytics TERM 15
  stop_pid "$(read_pid "$WORKER_PID")" mf-ingest TERM 15
  stop_pid "$(read_pid "$INGEST_PID")" mf-ingest TERM 15
  stop_pid "$(read_pid "$API_PID")" mf-api TERM 15
  stop_pid "$(read_pid "$OIDC_PID")" oidc-dev TERM 10
  rm -f -- "$API_PID" "$INGEST_PID" "$WORKER_PID" "$ANALYTICS_PID" "$OIDC_PID" "$OIDC_CONF"
  cmd_infra_down "$RUN/infra"
  rm -f -- "$RUN/env" "$RUN/env.tmp"
}

# print_info [HOW_TO_STOP]: the URL and credentials from .run/env.
print_info() {
  local stop="${1:-make down}"
  (
    # shellcheck source=/dev/null
    . "$RUN/env"
    cat <<EOF
MetaFuse Cloud is running (stop it with: $stop).
  dashboard / API  $MF_API_URL/
  ingest           $MF_INGEST_URL/api/v1/emit, /api/v1/lineage
  demo tenant      $MF_DEMO_TENANT
  demo API key     $MF_DEMO_API_KEY   (tenant admin)
  demo sign-in     $MF_API_URL/auth/login?tenant=$MF_DEMO_TENANT
                   as ${MF_DEMO_USER:-?} / ${MF_DEMO_PASSWORD:-?}
  OpenID Provider  ${MF_OIDC_ISSUER:-?}   (development only: tools/oidc-dev)
  platform key     $MF_PLATFORM_ADMIN_KEY
  environment      $RUN/env   (load it with: . $RUN/env)
  logs             $RUN/logs/
EOF
  )
}

# log_tail FILE: the end of a log, for error messages.
log_tail() {
  [ -s "$1" ] || return 0
  echo "--- last lines of $1:" >&2
  tail -n 30 "$1" >&2
  echo "---" >&2
}

# EXIT trap of up: on failure, stop what it started (the logs stay).
up_on_exit() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ]; then
    warn "up failed; stopping what it started"
    stack_stop
  fi
  exit "$rc"
}

# oidc_start API_URL: (re)start the development OpenID Provider on a free
# loopback port (it binds port 0 itself and prints its issuer) with the demo
# user and a client for the mf-api at API_URL (redirect URI
# API_URL/auth/callback). Needs OIDC_CLIENT_SECRET and DEMO_PASSWORD; sets
# OIDC_ISSUER.
oidc_start() {
  local api_url="$1" log="$RUN/logs/oidc-dev.log" pid since i
  stop_pid "$(read_pid "$OIDC_PID")" oidc-dev TERM 10
  rm -f -- "$OIDC_PID"
  (
    umask 077
    OIDC_API_URL="$api_url" OIDC_CLIENT_ID="$OIDC_CLIENT_ID" \
      OIDC_CLIENT_SECRET="$OIDC_CLIENT_SECRET" DEMO_USER="$DEMO_USER" \
      DEMO_PASSWORD="$DEMO_PASSWORD" "$PY" -c 'import json, os
e = os.environ
print(json.dumps({
    "host": "127.0.0.1", "port": 0,
    "clients": [{"client_id": e["OIDC_CLIENT_ID"], "client_secret": e["OIDC_CLIENT_SECRET"],
                 "redirect_uris": [e["OIDC_API_URL"] + "/auth/callback"],
                 "post_logout_redirect_uris": [e["OIDC_API_URL"] + "/"]}],
    "users": [{"email": e["DEMO_USER"], "password": e["DEMO_PASSWORD"], "name": "Demo User"}],
}, indent=2))' >"$OIDC_CONF"
  )
  : >>"$log" # exists before the wait below reads it, however slowly node starts
  since="$(stat -c %s "$log")"
  setsid node "$OIDC_JS" --config "$OIDC_CONF" </dev/null >>"$log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$OIDC_PID"
  OIDC_ISSUER=""
  for ((i = 0; i < 300; i++)); do # 30 s
    OIDC_ISSUER="$(tail -c +"$((since + 1))" "$log" | sed -n 's/^oidc-dev listening on //p' | head -n 1)"
    [ -z "$OIDC_ISSUER" ] || break
    alive "$pid" || break
    sleep 0.1
  done
  if [ -z "$OIDC_ISSUER" ]; then
    log_tail "$log"
    die "the development OpenID Provider (tools/oidc-dev) did not start"
  fi
  # setsid ran node in place (no fork): the pid must be the provider's.
  alive "$pid" oidc-dev || die "pid $pid is not oidc-dev; cannot track it"
}

# wait_ready NAME PID_FILE PORT LOG: up to 30 s for GET /readyz while the process
# lives; otherwise its log tail and an error. The name is checked once it answers:
# right after `setsid ... &` the process may not have exec'd the service yet.
wait_ready() {
  local name="$1" pid_file="$2" port="$3" log="$4" i
  for ((i = 0; i < 300; i++)); do
    alive "$(read_pid "$pid_file")" || break
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null; then
      alive "$(read_pid "$pid_file")" "$name" || die "pid $(read_pid "$pid_file") is not $name; cannot track it"
      return 0
    fi
    sleep 0.1
  done
  log_tail "$log"
  die "$name did not become ready (GET /readyz) on port $port"
}

# random_secret: a URL-safe random string (16 bytes).
random_secret() {
  "$PY" -c 'import secrets; print(secrets.token_urlsafe(16))'
}

# cmd_up [no-info]
cmd_up() {
  local api="$BIN/mf-api"
  [ -x "$api" ] || die "$api not found: build it first (make)"
  command -v node >/dev/null 2>&1 || die "node is not on PATH: Node.js >= 20 is required (scripts/deps.sh)"
  [ -d "$ROOT/node_modules/oidc-provider" ] ||
    die "node_modules/oidc-provider is missing: run scripts/deps.sh (npm ci)"
  lock_run_dir
  if stack_running; then
    say "a stack from this checkout is already running ($RUN)"
    [ "${1:-}" = no-info ] || print_info
    return 0
  fi
  # Stale or partial state: stop any survivors, wipe what we wrote before.
  stack_stop
  rm -rf -- "$RUN/logs" "$RUN/infra"
  mkdir -p "$RUN/logs"

  trap up_on_exit EXIT
  trap 'exit 130' INT TERM HUP # so that the EXIT trap cleans up

  # 9>&-: daemons must not inherit the lock (they would hold it forever).
  "$SELF" infra-up "$RUN/infra" >/dev/null 9>&-
  # shellcheck source=/dev/null
  . "$RUN/infra/infra.env"
  export MF_MIGRATIONS_DIR="${MF_MIGRATIONS_DIR:-$ROOT/migrations}"

  say "migrating"
  "$api" migrate >"$RUN/logs/migrate.log" 2>&1 ||
    { log_tail "$RUN/logs/migrate.log"; die "mf-api migrate failed"; }

  local platform_key
  platform_key="$("$api" create-platform-key 2>"$RUN/logs/create-platform-key.log" | tail -n 1)" ||
    { log_tail "$RUN/logs/create-platform-key.log"; die "mf-api create-platform-key failed"; }
  [ -n "$platform_key" ] || die "mf-api create-platform-key printed no key"

  # Single sign-on: the dev OpenID Provider knows mf-api's callback URL, so it
  # is (re)started for each port mf-api tries. New secrets for every stack.
  OIDC_CLIENT_SECRET="$(random_secret)"
  DEMO_PASSWORD="$(random_secret)"

  # mf-api in its own session, so a Ctrl-C at the terminal reaches only us.
  local log="$RUN/logs/mf-api.log" port="" pid="" attempt i ready=0
  for attempt in 1 2 3; do
    port="${MF_API_PORT:-$(free_port)}"
    oidc_start "http://127.0.0.1:$port"
    MF_HTTP_HOST=127.0.0.1 MF_HTTP_PORT="$port" MF_WEBHOOK_ALLOW_LOOPBACK=1 \
      MF_WEBUI_DIR="$([ -f "$ROOT/webui/dist/index.html" ] && echo "$ROOT/webui/dist")" \
      MF_OIDC_ISSUER="$OIDC_ISSUER" MF_OIDC_CLIENT_ID="$OIDC_CLIENT_ID" \
      MF_OIDC_CLIENT_SECRET="$OIDC_CLIENT_SECRET" MF_PUBLIC_URL="http://127.0.0.1:$port" \
      setsid "$api" serve </dev/null >>"$log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$API_PID"
    for ((i = 0; i < 300; i++)); do # 30 s
      alive "$pid" || break
      if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null; then
        ready=1
        break 2
      fi
      sleep 0.1
    done
    stop_pid "$pid" mf-api TERM 15
    rm -f -- "$API_PID"
    # Only an early exit on a picked port is worth another port (lost race).
    if [ "$i" -ge 300 ] || [ -n "${MF_API_PORT:-}" ] || [ "$attempt" -eq 3 ]; then
      break
    fi
    warn "mf-api exited early on port $port, trying another port"
  done
  if [ "$ready" -ne 1 ]; then
    log_tail "$log"
    die "mf-api did not become ready (GET /readyz) on port $port"
  fi
  # setsid ran mf-api in place (no fork): the pid must be mf-api's.
  alive "$pid" mf-api || die "pid $pid is not mf-api; cannot track it"

  # mf-ingest: the HTTP intake and one worker.
  local ingest="$BIN/mf-ingest" ingest_port ingest_log="$RUN/logs/mf-ingest.log"
  [ -x "$ingest" ] || die "$ingest not found: build it first (make)"
  ingest_port="${MF_INGEST_PORT:-$(free_port)}"
  MF_HTTP_HOST=127.0.0.1 MF_HTTP_PORT="$ingest_port" \
    setsid "$ingest" serve </dev/null >>"$ingest_log" 2>&1 9>&- &
  echo "$!" >"$INGEST_PID"
  MF_WORKER_HTTP_PORT="${MF_WORKER_PORT:-$(free_port)}" \
    setsid "$ingest" work </dev/null >>"$RUN/logs/mf-ingest-work.log" 2>&1 9>&- &
  echo "$!" >"$WORKER_PID"
  wait_ready mf-ingest "$INGEST_PID" "$ingest_port" "$ingest_log"

  # mf-analytics: usage, freshness (every 15 s here), health, webhooks (loopback allowed here).
  local analytics="$BIN/mf-analytics" analytics_port
  [ -x "$analytics" ] || die "$analytics not found: build it first (make)"
  analytics_port="${MF_ANALYTICS_PORT:-$(free_port)}"
  MF_WORKER_HTTP_PORT="$analytics_port" MF_FRESHNESS_INTERVAL=15 MF_WEBHOOK_ALLOW_LOOPBACK=1 \
    setsid "$analytics" run </dev/null >>"$RUN/logs/mf-analytics.log" 2>&1 9>&- &
  echo "$!" >"$ANALYTICS_PID"
  wait_ready mf-analytics "$ANALYTICS_PID" "$analytics_port" "$RUN/logs/mf-analytics.log"

  local api_url="http://127.0.0.1:$port" ingest_url="http://127.0.0.1:$ingest_port" seed tenant demo_key
  say "seeding the demo tenant"
  seed="$(MF_API_URL="$api_url" MF_PLATFORM_ADMIN_KEY="$platform_key" \
    MF_DEMO_USER="$DEMO_USER" MF_OIDC_ISSUER="$OIDC_ISSUER" \
    "$PY" "$ROOT/scripts/seed_demo.py" 2>"$RUN/logs/seed.log")" ||
    { log_tail "$RUN/logs/seed.log"; log_tail "$log"; die "seeding the demo tenant failed"; }
  read -r tenant demo_key <<<"$seed"
  if [ -z "$tenant" ] || [ -z "$demo_key" ]; then
    die "seed_demo.py printed no tenant and key"
  fi

  {
    echo "# Written by scripts/stack.sh up; load with: . .run/env"
    env_line MF_API_URL "$api_url"
    env_line MF_INGEST_URL "$ingest_url"
    env_line MF_DEMO_TENANT "$tenant"
    env_line MF_DEMO_API_KEY "$demo_key"
    env_line MF_PLATFORM_ADMIN_KEY "$platform_key"
    env_line MF_OIDC_ISSUER "$OIDC_ISSUER"
    env_line MF_DEMO_USER "$DEMO_USER"
    env_line MF_DEMO_PASSWORD "$DEMO_PASSWORD"
    env_line MF_PG_URL "$MF_PG_URL"
    env_line MF_PG_ADMIN_URL "$MF_PG_ADMIN_URL"
    env_line MF_PG_SUPER_URL "$MF_PG_SUPER_URL"
    env_line MF_REDIS_URL "$MF_REDIS_URL"
  } >"$RUN/env.tmp"
  mv "$RUN/env.tmp" "$RUN/env"
  trap - EXIT INT TERM HUP
  [ "${1:-}" = no-info ] || print_info
}

cmd_down() {
  lock_run_dir
  if [ ! -f "$API_PID" ] && [ ! -f "$INGEST_PID" ] && [ ! -f "$ANALYTICS_PID" ] && [ ! -f "$OIDC_PID" ] &&
     [ ! -d "$RUN/infra" ]; then
    say "nothing running ($RUN)"
    return 0
  fi
  stack_stop
  say "stopped (logs kept in $RUN/logs)"
}

cmd_run() {
  cmd_up no-info
  exec 9>&- # release the lock while waiting
  print_info Ctrl-C
  local pid
  pid="$(read_pid "$API_PID")"
  trap 'trap "" INT TERM HUP; echo; say "stopping"; cmd_down; exit 0' INT TERM HUP
  while alive "$pid" mf-api; do
    sleep 1 &
    wait $! || true
  done
  trap - INT TERM HUP
  warn "mf-api exited unexpectedly"
  log_tail "$RUN/logs/mf-api.log"
  cmd_down
  exit 1
}

cmd_status() {
  local name file comm pid state any=0
  for name in mf-api mf-ingest mf-ingest-work mf-analytics oidc-dev postgres redis; do
    case "$name" in
      mf-api) file="$API_PID" comm=mf-api ;;
      oidc-dev) file="$OIDC_PID" comm=oidc-dev ;;
      mf-ingest) file="$INGEST_PID" comm=mf-ingest ;;
      mf-ingest-work) file="$WORKER_PID" comm=mf-ingest ;;
      mf-analytics) file="$ANALYTICS_PID" comm=mf-analytics ;;
      postgres) file="$RUN/infra/postgres.pid" comm=postgres ;;
      redis) file="$RUN/infra/redis.pid" comm=redis-server ;;
    esac
    pid="$(read_pid "$file")"
    if alive "$pid" "$comm"; then
      state="running (pid $pid)"
      any=1
    elif [ -n "$pid" ]; then
      state="stopped (stale pid file: $pid)"
    else
      state="stopped"
    fi
    printf '%-14s %s\n' "$name" "$state"
  done
  if [ "$any" -eq 1 ] && [ -f "$RUN/env" ]; then
    echo
    print_info
  fi
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  cd "$ROOT"
  case "$cmd" in
    infra-up) cmd_infra_up "$@" ;;
    infra-down) cmd_infra_down "$@" ;;
    up) cmd_up ;;
    down) cmd_down ;;
    run) cmd_run ;;
    status) cmd_status ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
