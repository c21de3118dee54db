#!/usr/bin/env bash
# make bench: MetaFuse against raw baselines measured in the same run.
#
# Builds mf-api and mf-ingest (make) and the raw baseline server
# (bench/raw_server.c -> build/bin/mf-bench-raw), starts a throwaway Postgres
# and Redis (scripts/stack.sh infra-up), migrates, starts `mf-api serve` with
# two HTTP threads, creates a tenant, loads datasets into it through the API,
# then measures (same wrk settings for every HTTP run):
#
#   raw_hello       raw h2o, GET /hello (constant JSON)
#   mf_healthz      mf-api, GET /healthz
#   raw_select      raw h2o + async libpq, GET /datasets/{random name}: one SELECT
#                   sent with PQsendQueryParams (parsed and planned each time)
#   raw_select_prepared  the same SELECT prepared once per connection
#   mf_get_dataset_quota_off  the same on a third mf-api with MF_QUOTA_ENFORCE=0
#                   (no rate limits or metering), measured first:
#   mf_get_dataset_usage_off  the same on a second mf-api with MF_USAGE_EVENTS=0
#                   (no access events), measured just before:
#   mf_get_dataset  mf-api, GET /api/v1/datasets/{random name} with the tenant key;
#                   every read appends an access event to the usage stream, which
#                   mf-analytics (running throughout) folds; the stream length is
#                   sampled meanwhile and the time it takes to drain after (usage_lag)
#   mf_get_dataset_session  the same with a browser session's token (a session
#                   row made in the database: both credentials come from memory)
#   mf_emit         mf-ingest serve, POST /api/v1/emit of ~1 KB events (no worker)
#   redis_xadd      redis-benchmark, XADD of a payload of the same size, same
#                   client count, same Redis
#   mf_persist      one `mf-ingest work`: events applied per second from a stream
#                   loaded beforehand with envelopes shaped as mf-ingest writes them
#   raw_insert      the same dataset rows as multi-row INSERTs of the worker's batch
#                   size into a scratch copy of the datasets table (psql)
#   mf_emit_lag     POST /api/v1/emit again, with one worker running; the stream
#                   length is sampled meanwhile (is the lag bounded?)
#
# and prints ratio = ours / raw for each figure (HTTP layer, GET dataset vs
# the raw and the prepared SELECT, usage events on vs off, quotas on vs off,
# accept, persist)
# with p99 latencies and the goals. Writes bench/results.json. Everything it starts is stopped on exit,
# also on error or Ctrl-C.
#
# Environment (defaults in brackets):
#   MF_BENCH_DURATION [10]      seconds per measured run
#   MF_BENCH_WARMUP [3]         seconds of warm-up before each run
#   MF_BENCH_ROUNDS [1]         rounds of the runs; the median is reported
#   MF_BENCH_DATASETS [10000]   datasets loaded into the tenant
#   MF_BENCH_CONNECTIONS [64]   wrk -c, redis-benchmark -c
#   MF_BENCH_WRK_THREADS [2]    wrk -t
#   MF_BENCH_PG_POOL [cores]    Postgres connections per HTTP thread, all servers (2 threads: twice
#                               the cores in all, what Postgres runs well; see bench/README.md)
#   MF_BENCH_LOAD_CONCURRENCY [16]  client threads of the dataset load
#   MF_BENCH_LOG_LEVEL [warn]   MF_LOG_LEVEL of mf-api and mf-ingest during the bench
#   MF_BENCH_INGEST [1]         0: skip the ingest benchmarks
#   MF_BENCH_EMIT_BYTES [1024]  body size of an emit event (and of the XADD payload)
#   MF_BENCH_PERSIST_EVENTS [4096]  events the persist run loads and the worker applies
#   MF_BENCH_PERSIST_TIMEOUT [120]  seconds the persist run waits for the worker at most
#   MF_BENCH_INGEST_BATCH [256] MF_INGEST_BATCH of the worker = rows per raw INSERT
#   MF_BENCH_PG_FUNCTION_STATS [0]  1: time the SQL functions the worker calls
#                               (track_functions = all for the service role) and
#                               report the costliest per event
#   MF_BENCH_SCALE [0]          1: the search/lineage section at scale (scripts/seed_scale.py,
#                               then wrk beside pgbench on the same queries; bench/README.md)
#   MF_BENCH_SCALE_DATASETS [100000]  datasets per tenant of that section (two tenants)
#   MF_BENCH_SCALE_CONNECTIONS [16]   wrk -c and pgbench -c of that section
#   MF_BENCH_SCALE_ROUNDS [3]   rounds per case of that section (API then raw SQL, 16 clients then one)
#   MF_BENCH_SCALE_DURATION [5] seconds of each of those runs
#   MF_BENCH_OUT [bench/results.json]
#   MF_BENCH_STRICT [0]         1: exit 1 when a goal is not met
#   MF_BENCH_KEEP [0]           1: keep the work folder (logs, wrk outputs)
#   MF_BENCH_API_BIN [build/bin/mf-api]  the mf-api to measure; when set,
#                               `make` is not run (bench a binary built elsewhere)
#   MF_BENCH_INGEST_BIN [mf-ingest beside the mf-api binary]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Debian's interpreter: the PATH python3 may be another one (stdlib is enough).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

DURATION="${MF_BENCH_DURATION:-10}"
WARMUP="${MF_BENCH_WARMUP:-3}"
ROUNDS="${MF_BENCH_ROUNDS:-1}"
DATASETS="${MF_BENCH_DATASETS:-10000}"
CONNECTIONS="${MF_BENCH_CONNECTIONS:-64}"
WRK_THREADS="${MF_BENCH_WRK_THREADS:-2}"
POOL="${MF_BENCH_PG_POOL:-$(nproc)}"
LOAD_CONCURRENCY="${MF_BENCH_LOAD_CONCURRENCY:-16}"
LOG_LEVEL="${MF_BENCH_LOG_LEVEL:-warn}"
INGEST="${MF_BENCH_INGEST:-1}"
EMIT_BYTES="${MF_BENCH_EMIT_BYTES:-1024}"
PERSIST_EVENTS="${MF_BENCH_PERSIST_EVENTS:-4096}"
PERSIST_TIMEOUT="${MF_BENCH_PERSIST_TIMEOUT:-120}"
INGEST_BATCH="${MF_BENCH_INGEST_BATCH:-256}"
PG_FUNCTION_STATS="${MF_BENCH_PG_FUNCTION_STATS:-0}"
SCALE="${MF_BENCH_SCALE:-0}"
SCALE_DATASETS="${MF_BENCH_SCALE_DATASETS:-100000}"
SCALE_CONNECTIONS="${MF_BENCH_SCALE_CONNECTIONS:-16}"
SCALE_ROUNDS="${MF_BENCH_SCALE_ROUNDS:-3}"
SCALE_DURATION="${MF_BENCH_SCALE_DURATION:-5}"
OUT="${MF_BENCH_OUT:-$ROOT/bench/results.json}"
STRICT="${MF_BENCH_STRICT:-0}"
KEEP="${MF_BENCH_KEEP:-0}"
HTTP_THREADS=2
NAME_FORMAT="bench_ds_%05d"

BIN="$ROOT/build/bin"
API_BIN="${MF_BENCH_API_BIN:-$BIN/mf-api}"
API_COMM="$(basename "$API_BIN" | cut -c1-15)" # the kernel's process name (comm) of it
INGEST_BIN="${MF_BENCH_INGEST_BIN:-$(dirname "$API_BIN")/mf-ingest}"
INGEST_COMM="$(basename "$INGEST_BIN" | cut -c1-15)"
ANALYTICS_BIN="$(dirname "$API_BIN")/mf-analytics"
ANALYTICS_COMM="$(basename "$ANALYTICS_BIN" | cut -c1-15)"
RAW_BIN="$BIN/mf-bench-raw"
LUA="$ROOT/bench/random_name.lua"
EMIT_LUA="$ROOT/bench/emit.lua"
TOOL="$ROOT/bench/ingest_tool.py"
STREAM="mf:ingest"         # MF_INGEST_STREAM of mf-ingest (its default, set explicitly below)
XADD_STREAM="mf:bench:xadd" # the redis-benchmark baseline's stream
USAGE_STREAM="mf:usage"     # MF_USAGE_STREAM of mf-api and mf-analytics

say() { echo "bench: $*"; }
warn() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

for v in DURATION WARMUP ROUNDS DATASETS CONNECTIONS WRK_THREADS POOL LOAD_CONCURRENCY EMIT_BYTES PERSIST_EVENTS \
  PERSIST_TIMEOUT INGEST_BATCH SCALE_DATASETS SCALE_CONNECTIONS SCALE_ROUNDS SCALE_DURATION; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "MF_BENCH_$v must be a positive integer (got '${!v}')"
done
case "$INGEST" in 0 | 1) ;; *) die "MF_BENCH_INGEST must be 0 or 1 (got '$INGEST')" ;; esac
case "$PG_FUNCTION_STATS" in 0 | 1) ;; *) die "MF_BENCH_PG_FUNCTION_STATS must be 0 or 1" ;; esac
[ "$EMIT_BYTES" -ge 512 ] || die "MF_BENCH_EMIT_BYTES must be at least 512 (an emit event with its fields)"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

tools=(wrk curl cc pkg-config make psql)
[ "$INGEST" = 1 ] && tools+=(redis-benchmark)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/deps.sh installs it)"
done

# ---------------------------------------------------------------------------
# What we start, and how it is stopped
# ---------------------------------------------------------------------------
WORK=""
API_PID=""
API_OFF_PID="" # mf-api with MF_USAGE_EVENTS=0
API_QUOTA_OFF_PID="" # mf-api with MF_QUOTA_ENFORCE=0
ANALYTICS_PID=""
RAW_PID=""
INGEST_PID=""
WORKER_PID=""
SAMPLER_PID="" # the stream-length sampler of the lag run
CHILD_PID="" # the long step running now (wrk, the loader), see fg_run

# alive PID COMM: PID runs (a zombie counts as gone) and is COMM.
alive() {
  local pid="$1" comm="$2" stat rest
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  rest="${stat##*) }"
  [ "${rest%% *}" != Z ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

# stop_proc PID COMM: SIGTERM, up to 15 s, then SIGKILL; reaps it.
stop_proc() {
  local pid="$1" comm="$2" i
  alive "$pid" "$comm" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    alive "$pid" "$comm" || break
    sleep 0.1
  done
  if alive "$pid" "$comm"; then
    warn "$comm (pid $pid) still running after 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

log_tail() {
  [ -s "$1" ] || return 0
  echo "--- last lines of $(basename "$1"):" >&2
  tail -n 20 "$1" >&2
  echo "---" >&2
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CHILD_PID" ]; then
    kill -TERM "$CHILD_PID" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
  fi
  if [ -n "$SAMPLER_PID" ]; then
    kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
  fi
  stop_proc "$WORKER_PID" "$INGEST_COMM"
  stop_proc "$INGEST_PID" "$INGEST_COMM"
  stop_proc "$API_PID" "$API_COMM"
  stop_proc "$API_OFF_PID" "$API_COMM"
  stop_proc "$API_QUOTA_OFF_PID" "$API_COMM"
  stop_proc "$ANALYTICS_PID" "$ANALYTICS_COMM"
  stop_proc "$RAW_PID" mf-bench-raw
  if [ -n "$WORK" ] && [ -d "$WORK/infra" ]; then
    "$ROOT/scripts/stack.sh" infra-down "$WORK/infra" >/dev/null 2>&1 ||
      warn "infra-down failed; check for postgres/redis-server processes using $WORK/infra"
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
      for f in "$WORK"/logs/*.log; do
        [ -e "$f" ] && log_tail "$f"
      done
    fi
    if [ "$KEEP" = 1 ]; then
      say "work folder kept: $WORK"
    else
      rm -rf -- "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fg_run CMD...: runs CMD and waits for it in a way a signal interrupts at
# once (bash runs a trap only after a foreground command ends; `wait` returns
# early). cleanup stops CMD if we are interrupted.
fg_run() {
  local rc=0
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

free_port() {
  "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_http URL PID COMM SECONDS: until URL answers 200, or fail if PID died.
wait_http() {
  local url="$1" pid="$2" comm="$3" secs="$4" i
  for ((i = 0; i < secs * 10; i++)); do
    # right after `&` the child may not have exec'd the program yet (its name is still the
    # shell's): while it lives, wait; its name is checked once it answers
    alive "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      alive "$pid" "$comm"
      return
    fi
    sleep 0.1
  done
  return 1
}

# http METHOD URL [BODY] [KEY]: prints "STATUS BODY" (body on one line).
http() {
  local method="$1" url="$2" body="${3:-}" key="${4:-}" args=()
  args=(-sS -X "$method" -o "$WORK/http.out" -w '%{http_code}' --max-time 30)
  [ -n "$key" ] && args+=(-H "Authorization: Bearer $key")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local status
  : >"$WORK/http.out"
  status="$(curl "${args[@]}" "$url")" || status=000
  printf '%s %s\n' "$status" "$(tr -d '\n' <"$WORK/http.out" 2>/dev/null)"
}

# json_get FIELD.PATH: reads JSON on stdin, prints the value (empty if absent).
json_get() {
  "$PY" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------
if [ -z "${MF_BENCH_API_BIN:-}" ]; then
  say "building mf-api and mf-ingest (make)"
  make -s -C "$ROOT" all
fi
[ -x "$API_BIN" ] || die "$API_BIN not found"
[ -x "$ANALYTICS_BIN" ] || die "$ANALYTICS_BIN not found (mf-analytics folds the usage events of the read runs)"
if [ "$INGEST" = 1 ]; then
  [ -x "$INGEST_BIN" ] || die "$INGEST_BIN not found (MF_BENCH_INGEST=0 skips the ingest benchmarks)"
fi

say "building mf-bench-raw"
mkdir -p "$BIN"
# shellcheck disable=SC2046 # pkg-config output is a list of words
"${CC:-cc}" -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
  -Wundef -fno-common -fstack-protector-strong \
  -D_GNU_SOURCE -DH2O_USE_LIBUV=0 $(pkg-config --cflags libh2o-evloop libpq openssl) \
  -o "$RAW_BIN" "$ROOT/bench/raw_server.c" \
  $(pkg-config --libs libh2o-evloop libpq openssl) -lpthread

WORK="$(mktemp -d /tmp/mf-bench.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$WORK/logs" "$WORK/wrk"
LOGS="$WORK/logs"

# ---------------------------------------------------------------------------
# Postgres + Redis, schema, mf-api
# ---------------------------------------------------------------------------
say "starting a throwaway Postgres and Redis"
"$ROOT/scripts/stack.sh" infra-up "$WORK/infra" >"$LOGS/infra.log" 2>&1 ||
  die "scripts/stack.sh infra-up failed (infra.log below)"
# shellcheck source=/dev/null
. "$WORK/infra/infra.env"

export MF_MIGRATIONS_DIR="$ROOT/migrations"
say "migrating"
"$API_BIN" migrate >"$LOGS/migrate.log" 2>&1 || die "mf-api migrate failed"
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)
# The bench measures the read path, not the rate limiter refusing it: lift the
# plan's requests-per-second limits (per tenant, and per key where plans have
# one: one key sends every request of a run) in this throwaway database (the
# limiter itself still runs on every request).
PLAN_RPS_LIFTED=0
for limit in max_rps max_key_rps; do
  if [ "$("${PSQL[@]}" "$MF_PG_SUPER_URL" -c "SELECT count(*) FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'plans' AND column_name = '$limit'")" = 1 ]; then
    "${PSQL[@]}" "$MF_PG_SUPER_URL" -c "UPDATE plans SET $limit = 100000000 WHERE name = 'enterprise'" >/dev/null
    if [ "$limit" = max_rps ]; then PLAN_RPS_LIFTED=1; fi
  fi
done
PLATFORM_KEY="$("$API_BIN" create-platform-key 2>"$LOGS/create-platform-key.log" | tail -n 1)" ||
  die "mf-api create-platform-key failed"
[ -n "$PLATFORM_KEY" ] || die "mf-api create-platform-key printed no key"

# start_api PID_VAR PORT USAGE_EVENTS QUOTA_ENFORCE LOG: one `mf-api serve` in the background, its pid
# into PID_VAR; returns once it is ready.
start_api() {
  MF_HTTP_HOST=127.0.0.1 MF_HTTP_PORT="$2" MF_HTTP_THREADS="$HTTP_THREADS" \
    MF_PG_POOL_SIZE="$POOL" MF_LOG_LEVEL="$LOG_LEVEL" MF_USAGE_EVENTS="$3" MF_USAGE_STREAM="$USAGE_STREAM" \
    MF_QUOTA_ENFORCE="$4" "$API_BIN" serve </dev/null >"$LOGS/$5" 2>&1 &
  printf -v "$1" %s "$!"
  wait_http "http://127.0.0.1:$2/readyz" "${!1}" "$API_COMM" 30 || die "mf-api did not become ready (GET /readyz, $5)"
}
API_PORT="$(free_port)"
API="http://127.0.0.1:$API_PORT"
say "starting mf-api serve on $API ($HTTP_THREADS threads, pool $POOL per thread, log level $LOG_LEVEL)"
start_api API_PID "$API_PORT" 1 1 mf-api.log
API_OFF_PORT="$(free_port)"
API_OFF="http://127.0.0.1:$API_OFF_PORT"
say "starting mf-api serve with MF_USAGE_EVENTS=0 on $API_OFF (the usage-events-off baseline)"
start_api API_OFF_PID "$API_OFF_PORT" 0 1 mf-api-usage-off.log
API_QUOTA_OFF_PORT="$(free_port)"
API_QUOTA_OFF="http://127.0.0.1:$API_QUOTA_OFF_PORT"
say "starting mf-api serve with MF_QUOTA_ENFORCE=0 on $API_QUOTA_OFF (the rate-limits-and-metering-off baseline)"
start_api API_QUOTA_OFF_PID "$API_QUOTA_OFF_PORT" 1 0 mf-api-quota-off.log
say "starting mf-analytics run (folds the usage stream during the read runs)"
MF_LOG_LEVEL="$LOG_LEVEL" MF_USAGE_STREAM="$USAGE_STREAM" MF_WORKER_HTTP_PORT=0 MF_ANALYTICS_CONSUMER=bench \
  "$ANALYTICS_BIN" run </dev/null >"$LOGS/mf-analytics.log" 2>&1 &
ANALYTICS_PID=$!

# ---------------------------------------------------------------------------
# Tenant and data
# ---------------------------------------------------------------------------
read -r status body < <(http POST "$API/api/v1/admin/tenants" '{"name":"bench","plan":"enterprise"}' "$PLATFORM_KEY")
[ "$status" = 201 ] || die "POST /api/v1/admin/tenants: HTTP $status $body"
TENANT_KEY="$(json_get api_key <<<"$body")"
TENANT_ID="$(json_get tenant.id <<<"$body")"
if [ -z "$TENANT_KEY" ] || [ -z "$TENANT_ID" ]; then
  die "tenant answer without api_key or tenant.id: $body"
fi
# The tenant's own overrides too (they win over the plan): no rate limit or monthly call quota refuses
# wrk, whatever the plan's columns are; the limiter and the metering still run on every request.
read -r status body < <(http PUT "$API/api/v1/admin/tenants/$TENANT_ID" \
  '{"quotas":{"requests_per_second":1000000,"key_requests_per_second":1000000,"api_calls_per_month":1000000000000000}}' \
  "$PLATFORM_KEY")
[ "$status" = 200 ] || die "PUT /api/v1/admin/tenants/$TENANT_ID (lifting the quotas): HTTP $status $body"

say "loading $DATASETS datasets through POST /api/v1/datasets ($LOAD_CONCURRENCY client threads)"
fg_run "$PY" "$ROOT/bench/load_datasets.py" --url "$API" --key "$TENANT_KEY" --count "$DATASETS" \
  --concurrency "$LOAD_CONCURRENCY" --name-format "$NAME_FORMAT" >"$WORK/load.json" 2>"$LOGS/load.log" ||
  { cat "$LOGS/load.log" >&2; die "loading datasets failed"; }
say "load: $(cat "$WORK/load.json")"

# A signed-in person's session for the same tenant, made directly in the database.
SESSION_TOKEN="mfs_$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
SESSION_HASH="$(printf %s "$SESSION_TOKEN" | sha256sum | cut -d' ' -f1)"
"${PSQL[@]}" "$MF_PG_SUPER_URL" -c "
  WITH u AS (INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id),
       m AS (INSERT INTO memberships (tenant_id, user_id, role) SELECT '$TENANT_ID', id, 'viewer' FROM u
             RETURNING user_id)
  INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, expires_at)
  SELECT '$SESSION_HASH', '$TENANT_ID', user_id, 'bench', now() + interval '1 day' FROM m" >/dev/null ||
  die "could not make a session for the bench"

# shellcheck disable=SC2059 # the format is ours
FIRST_NAME="$(printf "$NAME_FORMAT" 0)"
# Fresh statistics and visibility maps for both servers alike.
"${PSQL[@]}" "$MF_PG_SUPER_URL" -c 'VACUUM ANALYZE' >/dev/null
read -r status body < <(http GET "$API/api/v1/datasets/$FIRST_NAME" "" "$TENANT_KEY")
[ "$status" = 200 ] || die "GET /api/v1/datasets/$FIRST_NAME: HTTP $status $body"

# ---------------------------------------------------------------------------
# The raw baseline server
# ---------------------------------------------------------------------------
# One SELECT on the same table and index mf-api reads, as the table owner (no
# RLS). The tenant id is $2 so the lookup uses the same (tenant, ..., name)
# unique index a tenant-scoped read does.
RAW_PG_URL="$MF_PG_ADMIN_URL"
# shellcheck disable=SC2016 # $1 and $2 are query parameters, not shell
RAW_SQL='SELECT name, description FROM datasets WHERE name = $1 LIMIT 1'
RAW_TENANT=""
DATASET_COLUMNS=" $("${PSQL[@]}" "$MF_PG_SUPER_URL" -c "SELECT string_agg(column_name, ' ') FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'datasets'") "
if [[ "$DATASET_COLUMNS" == *" tenant_id "* ]]; then
  RAW_TENANT="$TENANT_ID"
  if [[ "$DATASET_COLUMNS" == *" namespace "* ]]; then
    # shellcheck disable=SC2016
    RAW_SQL='SELECT name, description FROM datasets WHERE tenant_id = $2 AND namespace = '"'default'"' AND name = $1 LIMIT 1'
  else
    # shellcheck disable=SC2016
    RAW_SQL='SELECT name, description FROM datasets WHERE tenant_id = $2 AND name = $1 LIMIT 1'
  fi
fi
# An owner subject to FORCE ROW LEVEL SECURITY would see nothing: use the superuser then.
if [ "$("${PSQL[@]}" "$MF_PG_SUPER_URL" -c "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'datasets'::regclass")" = t ]; then
  RAW_PG_URL="$MF_PG_SUPER_URL"
fi
plan_args=(-c "PREPARE q AS $RAW_SQL")
if [ -n "$RAW_TENANT" ]; then
  plan_args+=(-c "EXPLAIN (COSTS OFF) EXECUTE q('$FIRST_NAME', '$RAW_TENANT')")
else
  plan_args+=(-c "EXPLAIN (COSTS OFF) EXECUTE q('$FIRST_NAME')")
fi
RAW_PLAN="$("${PSQL[@]}" "$RAW_PG_URL" "${plan_args[@]}" 2>&1 | sed 's/^ *//' | paste -sd ' ')" || true
say "raw query: $RAW_SQL; plan: $RAW_PLAN"

RAW_PORT="$(free_port)"
RAW="http://127.0.0.1:$RAW_PORT"
raw_args=(--port "$RAW_PORT" --threads "$HTTP_THREADS" --pool "$POOL" --pg-url "$RAW_PG_URL" --sql "$RAW_SQL")
[ -n "$RAW_TENANT" ] && raw_args+=(--tenant "$RAW_TENANT")
say "starting mf-bench-raw on $RAW"
"$RAW_BIN" "${raw_args[@]}" </dev/null >"$LOGS/mf-bench-raw.log" 2>&1 &
RAW_PID=$!
wait_http "$RAW/hello" "$RAW_PID" mf-bench-raw 10 || die "mf-bench-raw did not start"
for path in "/datasets/$FIRST_NAME" "/prepared/datasets/$FIRST_NAME"; do
  wait_http "$RAW$path" "$RAW_PID" mf-bench-raw 10 ||
    die "mf-bench-raw: GET $path is not 200: $(curl -sS "$RAW$path" 2>&1)"
done

# ---------------------------------------------------------------------------
# mf-ingest serve
# ---------------------------------------------------------------------------
REDIS_ADDR="127.0.0.1:$MF_REDIS_PORT"
rtool() { "$PY" "$TOOL" "$1" --redis "$REDIS_ADDR" "${@:2}"; }
if [ "$INGEST" = 1 ]; then
  INGEST_PORT="$(free_port)"
  INGEST_URL="http://127.0.0.1:$INGEST_PORT"
  say "starting mf-ingest serve on $INGEST_URL ($HTTP_THREADS threads, log level $LOG_LEVEL, no worker)"
  # The queue limit is lifted: the accept run fills the stream with no worker reading it.
  MF_HTTP_HOST=127.0.0.1 MF_HTTP_PORT="$INGEST_PORT" MF_HTTP_THREADS="$HTTP_THREADS" MF_PG_POOL_SIZE="$POOL" \
    MF_LOG_LEVEL="$LOG_LEVEL" MF_INGEST_STREAM="$STREAM" MF_INGEST_QUEUE_MAX=1000000000 \
    "$INGEST_BIN" serve </dev/null >"$LOGS/mf-ingest.log" 2>&1 &
  INGEST_PID=$!
  wait_http "$INGEST_URL/readyz" "$INGEST_PID" "$INGEST_COMM" 30 || die "mf-ingest serve did not become ready (GET /readyz)"
  read -r status body < <(http POST "$INGEST_URL/api/v1/emit" '{"dataset":{"name":"bench_emit_probe"}}' "$TENANT_KEY")
  [ "$status" = 202 ] || die "POST /api/v1/emit: HTTP $status $body"
  rtool del --stream "$STREAM"
fi

# start_worker NAME: one `mf-ingest work` in the background (WORKER_PID).
start_worker() {
  MF_LOG_LEVEL="$LOG_LEVEL" MF_INGEST_STREAM="$STREAM" MF_INGEST_BATCH="$INGEST_BATCH" MF_WORKER_HTTP_PORT=0 \
    MF_INGEST_CONSUMER="bench-$1" "$INGEST_BIN" work </dev/null >>"$LOGS/mf-ingest-work.log" 2>&1 &
  WORKER_PID=$!
}
stop_worker() {
  stop_proc "$WORKER_PID" "$INGEST_COMM"
  WORKER_PID=""
}
sql() { "${PSQL[@]}" "$MF_PG_SUPER_URL" -c "SET client_min_messages = warning" -c "$1"; }
# Rows inserted / updated / deleted so far, per table (JSON).
table_stats() {
  sql "SELECT json_object_agg(relname, json_build_array(n_tup_ins, n_tup_upd, n_tup_del)) FROM pg_stat_user_tables"
}
# Calls, total and self milliseconds so far, per SQL function (JSON; empty
# unless track_functions is on for the role that called them).
function_stats() {
  sql "SELECT coalesce(json_object_agg(funcname, json_build_array(calls, total_time, self_time)), '{}')
       FROM pg_stat_user_functions"
}
if [ "$INGEST" = 1 ] && [ "$PG_FUNCTION_STATS" = 1 ]; then
  # the worker connects as the service role: time its functions (new sessions only)
  APP_ROLE="$("${PSQL[@]}" "$MF_PG_URL" -c 'SELECT current_user')"
  sql "ALTER ROLE \"$APP_ROLE\" SET track_functions = 'all'" >/dev/null
  say "track_functions = all for $APP_ROLE (MF_BENCH_PG_FUNCTION_STATS=1)"
fi

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------
# servers_alive: the servers still run (something outside may stop them).
servers_alive() {
  alive "$API_PID" "$API_COMM" || die "mf-api (pid $API_PID) exited during the bench (see mf-api.log below)"
  alive "$API_OFF_PID" "$API_COMM" || die "mf-api with usage events off (pid $API_OFF_PID) exited during the bench"
  alive "$API_QUOTA_OFF_PID" "$API_COMM" ||
    die "mf-api with quota enforcement off (pid $API_QUOTA_OFF_PID) exited during the bench"
  alive "$ANALYTICS_PID" "$ANALYTICS_COMM" || die "mf-analytics (pid $ANALYTICS_PID) exited during the bench"
  alive "$RAW_PID" mf-bench-raw || die "mf-bench-raw (pid $RAW_PID) exited during the bench"
  if [ "$INGEST" = 1 ]; then
    alive "$INGEST_PID" "$INGEST_COMM" || die "mf-ingest serve (pid $INGEST_PID) exited during the bench (see mf-ingest.log below)"
  fi
}

# measure NAME ROUND URL [wrk script args...]
measure() {
  local name="$1" round="$2" url="$3" out
  shift 3
  servers_alive
  local wrk_args=(-t"$WRK_THREADS" -c"$CONNECTIONS" --latency) script_args=()
  if [ $# -gt 0 ]; then
    wrk_args+=(-s "$LUA")
    script_args=(-- "$@")
  fi
  out="$WORK/wrk/$name.$round.txt"
  fg_run wrk "${wrk_args[@]}" -d"${WARMUP}s" "$url" "${script_args[@]}" >/dev/null 2>&1 || true
  fg_run wrk "${wrk_args[@]}" -d"${DURATION}s" "$url" "${script_args[@]}" >"$out" 2>&1 ||
    { cat "$out" >&2; servers_alive; die "wrk failed for $name"; }
  say "$(printf '%-19s round %d: %10s req/s  p99 %s' "$name" "$round" \
    "$(awk '/^Requests\/sec:/ { print $2 }' "$out")" "$(awk '$1 == "99%" { print $2 }' "$out")")"
}

# metric NAME: the value of a counter in mf-api's /metrics (0 when absent).
metric() {
  curl -fsS --max-time 5 "$API/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# usage_added: entries ever added to the usage stream (XINFO STREAM entries-added; 0 before the first).
usage_added() {
  redis-cli -p "$MF_REDIS_PORT" XINFO STREAM "$USAGE_STREAM" 2>/dev/null |
    awk 'take { print; found = 1; exit } $0 == "entries-added" { take = 1 } END { if (!found) print 0 }'
}

# measure_usage ROUND ARGS...: `measure mf_get_dataset` (usage events on) while the usage stream's
# length is sampled; then how long mf-analytics takes to empty it, and how many events and stream
# entries the run produced (usage_lag).
measure_usage() {
  local round="$1" out="$WORK/wrk/usage_lag.$round.json" events0 entries0 events1 entries1 left t0 t1
  shift
  events0="$(metric mf_usage_events_appended_total)"
  entries0="$(usage_added)"
  t0="$(date +%s.%N)"
  "$PY" "$TOOL" sample --redis "$REDIS_ADDR" --stream "$USAGE_STREAM" --seconds "$((WARMUP + DURATION))" \
    --interval 0.5 >"$WORK/usage_samples.$round.json" &
  SAMPLER_PID=$!
  measure mf_get_dataset "$round" "$@"
  wait "$SAMPLER_PID" || warn "the usage stream sampler failed"
  SAMPLER_PID=""
  t1="$(date +%s.%N)"
  left="$(rtool xlen --stream "$USAGE_STREAM")"
  "$PY" "$TOOL" drain --redis "$REDIS_ADDR" --stream "$USAGE_STREAM" --count "$left" --timeout 60 \
    --pid "$ANALYTICS_PID" >"$WORK/usage_drain.$round.json" || warn "mf-analytics did not empty the usage stream in 60 s"
  events1="$(metric mf_usage_events_appended_total)"
  entries1="$(usage_added)"
  "$PY" - "$WORK/usage_samples.$round.json" "$WORK/usage_drain.$round.json" "$events0" "$events1" "$entries0" \
    "$entries1" "$t0" "$t1" "$left" >"$out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
drain = json.load(open(sys.argv[2]))
ev0, ev1, en0, en1 = (int(float(x)) for x in sys.argv[3:7])
seconds = float(sys.argv[8]) - float(sys.argv[7])
d.update({"seconds": round(seconds, 2), "events": ev1 - ev0, "entries": en1 - en0,
          "events_per_s": round((ev1 - ev0) / seconds, 1), "entries_per_s": round((en1 - en0) / seconds, 1),
          "xlen_after": int(sys.argv[9]), "drain_seconds": drain["seconds"], "drained": drain["drained"]})
json.dump(d, sys.stdout)
EOF
  say "$(printf '%-19s round %d: %s usage events in %s stream entries; %s entries left after the run, drained in %s s' \
    usage_lag "$round" "$(json_get events <"$out")" "$(json_get entries <"$out")" "$left" "$(json_get drain_seconds <"$out")")"
}

# measure_emit NAME ROUND TAG [WARMUP 1|0]: wrk POST /api/v1/emit on mf-ingest serve.
measure_emit() {
  local name="$1" round="$2" tag="$3" warm="${4:-1}" out
  servers_alive
  local args=(-t"$WRK_THREADS" -c"$CONNECTIONS" --latency -s "$EMIT_LUA")
  out="$WORK/wrk/$name.$round.txt"
  if [ "$warm" = 1 ]; then
    fg_run wrk "${args[@]}" -d"${WARMUP}s" "$INGEST_URL" -- "$TENANT_KEY" "$EMIT_BYTES" "w$round" >/dev/null 2>&1 || true
  fi
  fg_run wrk "${args[@]}" -d"${DURATION}s" "$INGEST_URL" -- "$TENANT_KEY" "$EMIT_BYTES" "$tag$round" >"$out" 2>&1 ||
    { cat "$out" >&2; servers_alive; die "wrk failed for $name"; }
  say "$(printf '%-19s round %d: %10s req/s  p99 %s' "$name" "$round" \
    "$(awk '/^Requests\/sec:/ { print $2 }' "$out")" "$(awk '$1 == "99%" { print $2 }' "$out")")"
}

# measure_xadd ROUND: redis-benchmark XADD of an EMIT_BYTES payload, CONNECTIONS
# clients, no pipelining, on the same Redis. A first short run is the warm-up
# and sizes the measured one to last about DURATION seconds.
measure_xadd() {
  local round="$1"
  local out="$WORK/wrk/redis_xadd.$round.txt" calib="$WORK/redis_xadd.calibrate.txt" payload rps n
  payload="$(head -c "$EMIT_BYTES" /dev/zero | tr '\0' x)"
  local rb=(redis-benchmark -h 127.0.0.1 -p "$MF_REDIS_PORT" -c "$CONNECTIONS" --csv)
  fg_run "${rb[@]}" -n 20000 XADD "$XADD_STREAM" '*' e "$payload" >"$calib" 2>&1 ||
    { cat "$calib" >&2; die "redis-benchmark failed"; }
  rtool del --stream "$XADD_STREAM"
  rps="$(tail -n 1 "$calib" | cut -d, -f2 | tr -d '"')"
  n="$(awk -v r="$rps" -v d="$DURATION" 'BEGIN { n = int(r * d); print (n < 20000 ? 20000 : n) }')"
  fg_run "${rb[@]}" -n "$n" XADD "$XADD_STREAM" '*' e "$payload" >"$out" 2>&1 ||
    { cat "$out" >&2; die "redis-benchmark failed"; }
  local line
  line="$(tail -n 1 "$out")"
  { echo "requests: $n"; echo "xlen: $(rtool xlen --stream "$XADD_STREAM")"; echo "payload bytes: $EMIT_BYTES"; } >>"$out"
  rtool del --stream "$XADD_STREAM"
  say "$(printf '%-19s round %d: %10s req/s  p99 %sms' redis_xadd "$round" \
    "$(cut -d, -f2 <<<"$line" | tr -d '"')" "$(cut -d, -f7 <<<"$line" | tr -d '"')")"
}

# measure_persist ROUND: PERSIST_EVENTS envelopes (made from one that mf-ingest
# serve wrote) loaded on the stream, then one worker started: events applied
# per second until the stream is empty. Then the same dataset rows as raw
# multi-row INSERTs into a scratch copy of the datasets table.
measure_persist() {
  local round="$1"
  local n="$PERSIST_EVENTS" dir="$WORK/persist.$round" out="$WORK/wrk/mf_persist.$round.json"
  mkdir -p "$dir"
  servers_alive
  "$PY" "$TOOL" make --template "$WORK/template.json" --count "$n" --name-format "persist_r${round}_%06d" \
    --events "$dir/events.jsonl" --sql "$dir/raw.sql" --table bench_raw_datasets --batch "$INGEST_BATCH" ||
    die "making the persist events failed"
  rtool del --stream "$STREAM"
  rtool load --stream "$STREAM" --events "$dir/events.jsonl" >"$dir/load.json" || die "loading the stream failed"
  table_stats >"$dir/stats_before.json"
  function_stats >"$dir/functions_before.json"
  sql "SELECT (SELECT count(*) FROM ingest_events), (SELECT count(*) FROM ingest_failures)" >"$dir/counts_before.txt"
  start_worker "persist-$round"
  fg_run "$PY" "$TOOL" drain --redis "$REDIS_ADDR" --stream "$STREAM" --count "$n" --timeout "$PERSIST_TIMEOUT" \
    --pid "$WORKER_PID" >"$dir/drain.json" || warn "persist round $round: the worker did not empty the stream in ${PERSIST_TIMEOUT} s"
  stop_worker
  sql "SELECT (SELECT count(*) FROM ingest_events), (SELECT count(*) FROM ingest_failures)" >"$dir/counts_after.txt"
  # the worker's backend reports its row counts when it exits: wait for them
  local i applied
  applied=$(($(cut -d'|' -f1 "$dir/counts_after.txt") - $(cut -d'|' -f1 "$dir/counts_before.txt")))
  for ((i = 0; i < 30; i++)); do
    table_stats >"$dir/stats_after.json"
    "$PY" -c 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if a.get("ingest_events", [0])[0] - b.get("ingest_events", [0])[0] >= int(sys.argv[3]) else 1)' \
      "$dir/stats_after.json" "$dir/stats_before.json" "$applied" && break
    sleep 0.1
  done
  function_stats >"$dir/functions_after.json"
  "$PY" "$TOOL" persist-result --drain "$dir/drain.json" --counts-before "$dir/counts_before.txt" \
    --counts-after "$dir/counts_after.txt" --stats-before "$dir/stats_before.json" \
    --stats-after "$dir/stats_after.json" --functions-before "$dir/functions_before.json" \
    --functions-after "$dir/functions_after.json" --events "$n" --batch "$INGEST_BATCH" >"$out" ||
    die "persist result"
  rtool del --stream "$STREAM"

  local raw_out="$WORK/wrk/raw_insert.$round.json"
  sql "DROP TABLE IF EXISTS bench_raw_datasets" >/dev/null
  # the same columns, defaults, constraints and indexes as datasets; no RLS, triggers or foreign keys
  "${PSQL[@]}" "$MF_PG_ADMIN_URL" -c "CREATE TABLE bench_raw_datasets
      (LIKE datasets INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)" >/dev/null
  fg_run "${PSQL[@]}" "$MF_PG_ADMIN_URL" -f "$dir/raw.sql" >"$dir/raw.out" 2>&1 ||
    { cat "$dir/raw.out" >&2; die "the raw INSERT baseline failed"; }
  "$PY" "$TOOL" insert-result --clock "$dir/raw.out" --rows "$n" --batch "$INGEST_BATCH" \
    --inserted "$(sql "SELECT count(*) FROM bench_raw_datasets")" >"$raw_out" || die "raw insert result"
  sql "DROP TABLE bench_raw_datasets" >/dev/null
  say "$(printf '%-19s round %d: %10s events/s (one worker, batch %s)' mf_persist "$round" \
    "$(json_get per_second <"$out")" "$INGEST_BATCH")"
  say "$(printf '%-19s round %d: %10s rows/s (multi-row INSERT, %s rows each)' raw_insert "$round" \
    "$(json_get per_second <"$raw_out")" "$INGEST_BATCH")"
}

# measure_lag: the accept run again with one worker running; the stream length
# is sampled meanwhile.
measure_lag() {
  local out="$WORK/wrk/accept_lag.1.json" before
  rtool del --stream "$STREAM"
  before="$(sql "SELECT count(*) FROM ingest_events")"
  start_worker lag
  "$PY" "$TOOL" sample --redis "$REDIS_ADDR" --stream "$STREAM" --seconds "$DURATION" --interval 0.5 \
    >"$WORK/lag_samples.json" &
  SAMPLER_PID=$!
  measure_emit mf_emit_lag 1 l 0
  wait "$SAMPLER_PID" || warn "the stream-length sampler failed"
  SAMPLER_PID=""
  local final applied
  final="$(rtool xlen --stream "$STREAM")"
  stop_worker
  applied=$(($(sql "SELECT count(*) FROM ingest_events") - before))
  "$PY" - "$WORK/lag_samples.json" "$final" "$applied" "$DURATION" >"$out" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
d.update({"workers": 1, "xlen_after": int(sys.argv[2]), "applied_by_worker": int(sys.argv[3]),
          "duration_s": int(sys.argv[4])})
json.dump(d, sys.stdout)
EOF
  rtool del --stream "$STREAM"
  say "$(printf '%-19s         : stream length %s after %s s, the worker applied %s' mf_emit_lag "$final" "$DURATION" "$applied")"
}

LOADAVG_START="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$LOADAVG_START" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
  warn "the machine is busy before measuring (load average $LOADAVG_START on $(nproc) cores): expect noisy figures"
fi
runs="8 runs"
[ "$INGEST" = 1 ] && runs="12 runs (and the lag run once)"
say "measuring: ${ROUNDS} round(s) of $runs, ${WARMUP} s warm-up + ${DURATION} s each, wrk -t$WRK_THREADS -c$CONNECTIONS"
ENVELOPE_BYTES=""
for ((round = 1; round <= ROUNDS; round++)); do
  measure raw_hello "$round" "$RAW/hello"
  measure mf_healthz "$round" "$API/healthz"
  measure raw_select "$round" "$RAW" /datasets/ "$NAME_FORMAT" "$DATASETS"
  measure raw_select_prepared "$round" "$RAW" /prepared/datasets/ "$NAME_FORMAT" "$DATASETS"
  measure mf_get_dataset_quota_off "$round" "$API_QUOTA_OFF" /api/v1/datasets/ "$NAME_FORMAT" "$DATASETS" "$TENANT_KEY"
  measure mf_get_dataset_usage_off "$round" "$API_OFF" /api/v1/datasets/ "$NAME_FORMAT" "$DATASETS" "$TENANT_KEY"
  measure_usage "$round" "$API" /api/v1/datasets/ "$NAME_FORMAT" "$DATASETS" "$TENANT_KEY"
  measure mf_get_dataset_session "$round" "$API" /api/v1/datasets/ "$NAME_FORMAT" "$DATASETS" "$SESSION_TOKEN"
  if [ "$INGEST" = 1 ]; then
    measure_emit mf_emit "$round" m
    # one of the envelopes mf-ingest serve queued: the template of the persist events
    rtool template --stream "$STREAM" --out "$WORK/template.json" || die "no envelope on the stream after the accept run"
    ENVELOPE_BYTES="$(wc -c <"$WORK/template.json")"
    echo "queued: $(rtool xlen --stream "$STREAM")" >>"$WORK/wrk/mf_emit.$round.txt"
    rtool del --stream "$STREAM"
    measure_xadd "$round"
    measure_persist "$round"
  fi
done
if [ "$INGEST" = 1 ]; then
  measure_lag
fi

# ---------------------------------------------------------------------------
# Search and lineage at scale (MF_BENCH_SCALE=1): two tenants seeded through
# COPY, then each route with wrk beside the SQL it runs with pgbench -f (same
# per-transaction settings as mf-api, as the service role, same concurrency).
# ---------------------------------------------------------------------------
if [ "$SCALE" = 1 ]; then
  SDIR="$WORK/wrk/scale"
  mkdir -p "$SDIR"
  say "scale: seeding two tenants of $SCALE_DATASETS datasets (scripts/seed_scale.py)"
  fg_run "$PY" "$ROOT/scripts/seed_scale.py" --datasets "$SCALE_DATASETS" --api-url "$API" \
    --platform-key "$PLATFORM_KEY" --pg-url "$MF_PG_SUPER_URL" --prefix bench-scale \
    --out "$SDIR/seed.json" >/dev/null 2>"$SDIR/seed.log" || { cat "$SDIR/seed.log" >&2; die "seed_scale.py failed"; }
  cat "$SDIR/seed.log"
  # cases.tsv: name, URL path (wrk), pgbench script
  "$PY" - "$SDIR/seed.json" "$SDIR" <<'EOF' || die "scale: making the cases failed"
import json, sys, urllib.parse
seed = json.load(open(sys.argv[1])); d = sys.argv[2]
t = seed["tenants"]["a"]; s = seed["samples"]; hub = s["hubs"][0]
# pgbench reads ":word" as a variable: a ':' in a literal is spelled chr(58)
lit = lambda v: "'" + v.replace("'", "''").replace(":", "' || chr(58) || '") + "'"
pre = ("BEGIN;\nSELECT set_config('mf.tenant_id', %s, true), set_config('mf.actor', 'bench', true), "
       "set_config('mf.request_id', 'bench', true), set_config('mf.client_addr', '127.0.0.1', true), "
       "set_config('mf.user_id', '', true), set_config('mf.write_all', '', true), set_config('mf.scope', '', true);\n"
       % lit(t["id"]))
# the SQL mf-api runs (services/api/src/search.c, graph.c), with its defaults: 20 items, facets over the
# best 1,000 matches, 500 lineage nodes
search = ("SELECT items::text, next_key::text, facets::text, total, facets_exact FROM mf_search(%s, NULL, NULL, "
          "NULL, NULL, NULL, NULL, 20, NULL, 1000);")
cases = [
    ("search_exact", "/api/v1/search?" + urllib.parse.urlencode({"q": s["exact"]}), search % lit(s["exact"])),
    ("search_typo", "/api/v1/search?" + urllib.parse.urlencode({"q": s["typo"]}), search % lit(s["typo"])),
    ("suggest", "/api/v1/search/suggest?" + urllib.parse.urlencode({"q": s["prefix"]}),
     "SELECT jsonb_build_object('items', mf_search_suggest(%s, 10))::text;" % lit(s["prefix"])),
    ("suggest_short", "/api/v1/search/suggest?" + urllib.parse.urlencode({"q": s["prefix"][:2]}),
     "SELECT jsonb_build_object('items', mf_search_suggest(%s, 10))::text;" % lit(s["prefix"][:2])),
    ("impact", "/api/v1/lineage/impact?" + urllib.parse.urlencode({"node": hub, "depth": 5}),
     "SELECT mf_lineage_impact(%s, 5, 500)::text;" % lit(hub)),
    ("graph", "/api/v1/lineage/graph?" + urllib.parse.urlencode({"node": hub, "depth": 2}),
     "SELECT mf_lineage_graph(%s, 2, 'both', 500)::text;" % lit(hub)),
]
with open(d + "/cases.tsv", "w") as f:
    for name, path, sql in cases:
        open("%s/%s.sql" % (d, name), "w").write(pre + sql + "\nEND;\n")
        f.write("%s\t%s\t%s/%s.sql\n" % (name, path, d, name))
open(d + "/key", "w").write(t["api_key"])
EOF
  SCALE_KEY="$(cat "$SDIR/key")"
  while IFS=$'\t' read -r name path sqlf; do
    servers_alive
    code="$(curl -s -o "$SDIR/$name.sample.json" -w '%{http_code}' -H "Authorization: Bearer $SCALE_KEY" "$API$path")"
    [ "$code" = 200 ] || warn "scale: $name answered $code: $(head -c 300 "$SDIR/$name.sample.json")"
    wrk -t2 -c"$SCALE_CONNECTIONS" -d"${WARMUP}s" --timeout 60s -H "Authorization: Bearer $SCALE_KEY" "$API$path" >/dev/null 2>&1 || true
    pgbench -n -M prepared -c "$SCALE_CONNECTIONS" -j 2 -T "$WARMUP" -f "$sqlf" "$MF_PG_URL" >/dev/null 2>&1 || true
    # Rounds, each the API then the raw SQL, loaded then one client, so a burst of the shared machine's
    # other work falls on one round of each side rather than on the whole of one (report.py takes the
    # median of the rounds).
    for ((round = 1; round <= SCALE_ROUNDS; round++)); do
      servers_alive
      fg_run wrk -t2 -c"$SCALE_CONNECTIONS" -d"${SCALE_DURATION}s" --timeout 60s --latency -s "$ROOT/bench/scale_get.lua" \
        -H "Authorization: Bearer $SCALE_KEY" "$API$path" >"$SDIR/$name.$round.wrk" 2>&1 || warn "scale: wrk $name failed"
      (cd "$SDIR" && pgbench -n -M prepared -c "$SCALE_CONNECTIONS" -j 2 -T "$SCALE_DURATION" -f "$sqlf" \
        -l --log-prefix "$name.$round.pgblog" "$MF_PG_URL" >"$SDIR/$name.$round.pgbench" 2>&1) ||
        warn "scale: pgbench $name failed"
      # the same route and SQL one request at a time: what one query costs without waiting behind others
      fg_run wrk -t1 -c1 -d"${SCALE_DURATION}s" --timeout 60s --latency -s "$ROOT/bench/scale_get.lua" \
        -H "Authorization: Bearer $SCALE_KEY" "$API$path" >"$SDIR/$name.$round.wrk1" 2>&1 || warn "scale: wrk -c1 $name failed"
      (cd "$SDIR" && pgbench -n -M prepared -c 1 -j 1 -T "$SCALE_DURATION" -f "$sqlf" \
        -l --log-prefix "$name.$round.pgblog1" "$MF_PG_URL" >"$SDIR/$name.$round.pgbench1" 2>&1) ||
        warn "scale: pgbench -c1 $name failed"
      say "$(printf 'scale %-13s round %d: wrk p95 %s us, pgbench %s (%s clients); one client: wrk p95 %s us, pgbench %s' \
        "$name" "$round" "$(awk '/^scale_p95_us/ { print $2 }' "$SDIR/$name.$round.wrk")" \
        "$(grep -m1 '^tps' "$SDIR/$name.$round.pgbench")" "$SCALE_CONNECTIONS" \
        "$(awk '/^scale_p95_us/ { print $2 }' "$SDIR/$name.$round.wrk1")" \
        "$(grep -m1 '^tps' "$SDIR/$name.$round.pgbench1")")"
    done
  done <"$SDIR/cases.tsv"
fi

servers_alive
LOADAVG_END="$(cut -d' ' -f1 /proc/loadavg)"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
PG_VERSION="$("${PSQL[@]}" "$MF_PG_SUPER_URL" -c 'SHOW server_version' 2>/dev/null || true)"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || true)"
API_BIN_NAME="$(basename "$API_BIN")"
RAW_VERSION="$("$RAW_BIN" --version 2>/dev/null || true)"
REDIS_VERSION="$(redis-cli -p "$MF_REDIS_PORT" INFO server 2>/dev/null | awk -F: '/^redis_version:/ { print $2 }' | tr -d '\r')" || true
export DURATION WARMUP ROUNDS DATASETS CONNECTIONS SCALE_CONNECTIONS SCALE_ROUNDS SCALE_DURATION WRK_THREADS POOL LOAD_CONCURRENCY LOG_LEVEL \
  HTTP_THREADS NAME_FORMAT RAW_SQL RAW_PLAN PG_VERSION GIT_COMMIT PLAN_RPS_LIFTED API_BIN_NAME \
  LOADAVG_START LOADAVG_END RAW_VERSION INGEST EMIT_BYTES PERSIST_EVENTS INGEST_BATCH ENVELOPE_BYTES REDIS_VERSION
"$PY" - "$WORK/load.json" >"$WORK/meta.json" <<'EOF'
import json, os, sys
e = os.environ
v = e.get("RAW_VERSION", "").split()  # mf-bench-raw h2o 2.2.5 libpq 150020
versions = dict(zip(v[1::2], v[2::2]))
with open(sys.argv[1]) as f:
    load = json.load(f)
json.dump({
    "git_commit": e.get("GIT_COMMIT") or None,
    "config": {
        "duration_s": int(e["DURATION"]), "warmup_s": int(e["WARMUP"]), "rounds": int(e["ROUNDS"]),
        "wrk_threads": int(e["WRK_THREADS"]), "connections": int(e["CONNECTIONS"]),
        "http_threads": int(e["HTTP_THREADS"]), "pg_pool_per_thread": int(e["POOL"]),
        "mf_log_level": e["LOG_LEVEL"], "datasets": int(e["DATASETS"]), "name_format": e["NAME_FORMAT"],
        "raw_sql": e["RAW_SQL"], "raw_plan": e.get("RAW_PLAN"),
        "enterprise_max_rps_lifted": e.get("PLAN_RPS_LIFTED") == "1",
        "mf_api_binary": e.get("API_BIN_NAME"), "scale_connections": int(e["SCALE_CONNECTIONS"]),
        "scale_rounds": int(e["SCALE_ROUNDS"]), "scale_duration_s": int(e["SCALE_DURATION"]),
        "loadavg_1m_before": float(e["LOADAVG_START"]), "loadavg_1m_after": float(e["LOADAVG_END"]),
        "h2o_version": versions.get("h2o"), "libpq_version": versions.get("libpq"),
        "postgres_version": e.get("PG_VERSION") or None,
        "redis_version": e.get("REDIS_VERSION") or None,
    },
    "ingest": {
        "enabled": e["INGEST"] == "1",
        "emit_body_bytes": int(e["EMIT_BYTES"]),
        "xadd_payload_bytes": int(e["EMIT_BYTES"]),
        "envelope_bytes": int(e["ENVELOPE_BYTES"]) if e.get("ENVELOPE_BYTES") else None,
        "persist_events": int(e["PERSIST_EVENTS"]),
        "worker_batch": int(e["INGEST_BATCH"]),
        "raw_insert_table": "LIKE datasets INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES",
    },
    "load": {"what": "POST /api/v1/datasets, python3 client threads over keep-alive", **load},
}, sys.stdout, indent=2)
EOF

report_args=(--dir "$WORK/wrk" --meta "$WORK/meta.json" --out "$OUT")
[ "$STRICT" = 1 ] && report_args+=(--strict)
"$PY" "$ROOT/bench/report.py" "${report_args[@]}"
