#!/usr/bin/env bash
# bench/checkout.sh: checkout (orders per second) in one command (see bench/README.md, "Checkout").
#
#   bash bench/checkout.sh [--reuse-db] [--db NAME] [--port PORT] [--sim-port PORT]
#                          [--pool N] [--redis URL | --no-redis] [--wait S]
#
# Builds a PostgreSQL database (drop/create unless --reuse-db), migrates, seeds the demo
# catalogue, collects static files, starts the Daraja simulator (answering at once, callbacks
# with no delay) and the shop under gunicorn (2 sync workers, DEBUG off, 127.0.0.1), makes a
# pool of N visitors with one unit in the cart, and lets wrk (via /work/shared/bench/run_wrk.sh)
# POST the guest checkout form as a new visitor on every request. Reports req/s, p50, p99 and
# errors from wrk, orders per second from the database, pushes and payments, stock integrity
# and the SQL queries of one checkout, in bench/results/<timestamp>/results.md (also printed).
# Exits non-zero when a server does not start, wrk saw errors, the pool ran out, or the stock
# or the orders do not add up. Servers it started are stopped by PID at the end and on error.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
SHARED="${SHARED_BENCH:-/work/shared/bench}"
export PERF_DIR="${PERF_DIR:-/tmp/perf}"
PY="$ROOT/.venv/bin/python"
PG_HOST="${PGHOST:-127.0.0.1}" PG_PORT="${PGPORT:-5432}" PG_USER="${PGUSER:-postgres}"

REUSE=0 DB=storefront_bench_checkout PORT=8775 SIM_PORT="" POOL=12000 EXTRA=3 WAIT=20
REDIS="redis://127.0.0.1:6379/0"
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --reuse-db) REUSE=1 ;;
    --db) DB="${2:?}"; shift ;;
    --port) PORT="${2:?}"; shift ;;
    --sim-port) SIM_PORT="${2:?}"; shift ;;
    --pool) POOL="${2:?}"; shift ;;
    --redis) REDIS="${2:?}"; shift ;;
    --no-redis) REDIS="" ;;
    --wait) WAIT="${2:?}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
  shift
done
SIM_PORT="${SIM_PORT:-$((PORT + 1))}"
# Only ever drop a database that is obviously a benchmark's.
[[ "$DB" =~ ^[a-z_][a-z0-9_]*bench[a-z0-9_]*$ ]] || { echo "--db must be a plain name containing 'bench'" >&2; exit 2; }
[[ "$POOL" =~ ^[1-9][0-9]*$ ]] || { echo "--pool must be a positive number" >&2; exit 2; }
[[ "$WAIT" =~ ^[0-9]+$ ]] || { echo "--wait must be whole seconds" >&2; exit 2; }

# The same wrk settings as bench/run.sh (run_wrk.sh's defaults); the Lua script splits the pool
# between wrk's threads, so it must know how many there are.
WRK_SHOWN="${WRK_ARGS:--t2 -c16 -d15s}" REPEATS=3
THREADS=$(echo "$WRK_SHOWN" | sed -n 's/.*-t *\([0-9][0-9]*\).*/\1/p'); THREADS="${THREADS:-2}"

for tool in wrk curl psql; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ -x "$PY" ] || { echo "needs the virtualenv at $ROOT/.venv" >&2; exit 1; }
if [ -n "$REDIS" ]; then
  "$PY" -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).ping()' "$REDIS" 2>/dev/null \
    || { echo "no Redis at $REDIS (start it, pass --redis URL, or --no-redis)" >&2; exit 1; }
fi
[ -x "$SHARED/run_wrk.sh" ] || { echo "needs $SHARED/run_wrk.sh" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

STAMP="$(date +%Y%m%d-%H%M%S)"
RUN="$BENCH/results/checkout-$STAMP"
mkdir -p "$RUN/wrk" "$PERF_DIR/logs" "$PERF_DIR/results"
WORK="$PERF_DIR/$DB"
MEDIA="$WORK/media"
SHOP_PIDFILE="$PERF_DIR/storefront-checkout-$PORT.pid"
SIM_PIDFILE="$PERF_DIR/daraja-simulator-$SIM_PORT.pid"
SIM_LOG="$RUN/simulator.log"
log() { echo "== $(date +%H:%M:%S) $*"; }
PROBLEMS=()
problem() { PROBLEMS+=("$*"); echo "!! $*" >&2; }

# ------------------------------------------------------------------ stop servers on any exit
STARTED=()
cleanup() {
  local rc=$?
  for f in "${STARTED[@]}"; do "$SHARED/stop_server.sh" "$f" || true; done
  [ $rc -ne 0 ] && echo "bench/checkout.sh failed (exit $rc); partial results in $RUN" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ the shop's environment
if [ -n "$REDIS" ]; then CACHE_DESC="Redis $REDIS (key prefix storefront-bench-$DB)"
else CACHE_DESC="per-process memory (no REDIS_URL)"; fi
CALLBACK_TOKEN="bench$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
SHOP_ENV=(
  DJANGO_SETTINGS_MODULE=storefront.settings
  DEBUG=0
  "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  ALLOWED_HOSTS=127.0.0.1,localhost
  SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
  SERVE_MEDIA=1 "MEDIA_ROOT=$MEDIA"
  "SITE_URL=http://127.0.0.1:$PORT"
  "DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
  "REDIS_URL=$REDIS" "CACHE_KEY_PREFIX=storefront-bench-$DB"
  MPESA_ENVIRONMENT=simulator
  "MPESA_BASE_URL=http://127.0.0.1:$SIM_PORT"
  "MPESA_CALLBACK_BASE_URL=http://127.0.0.1:$PORT"
  "MPESA_CALLBACK_TOKEN=$CALLBACK_TOKEN"
  # Every bench visitor pays from one number and one address: the
  # anti-hoarding limits would stop them after a few orders.
  MAX_UNPAID_ORDERS_PER_PHONE=0
  MAX_UNPAID_ORDERS_PER_ADDRESS=0
  MPESA_MAX_PUSHES_PER_PHONE_HOUR=1000000
)
shop() { (cd "$ROOT" && env "${SHOP_ENV[@]}" "$@"); }
psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $(uptime)"
cat >"$RUN/meta.json" <<JSON
{"started": "$(date -Is)", "commit": "$(git -C "$ROOT" rev-parse --short HEAD)",
 "dirty": $( [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] && echo true || echo false ),
 "db": "$DB", "cache": "$CACHE_DESC", "wrk_args": "$WRK_SHOWN", "repeats": $REPEATS,
 "cpus": $(nproc), "load_start": "$LOAD_START", "uptime_start": "$(uptime)"}
JSON

# ------------------------------------------------------------------ database
exists=$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ "$REUSE" = 1 ] && [ "$exists" = 1 ]; then
  log "reusing database $DB"
else
  log "creating database $DB (drop if it exists) and a fresh media folder $MEDIA"
  psql_q "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"
  psql_q "CREATE DATABASE \"$DB\""
  rm -rf -- "$MEDIA"
fi
mkdir -p "$MEDIA"
log "migrate"
shop "$PY" manage.py migrate --noinput -v0
demo=$(shop "$PY" manage.py shell -v0 -c \
  'from shop.models import Product; print(Product.objects.exclude(slug__startswith="bench-").count())' | tail -1)
if [ "$REUSE" = 1 ] && [ "$demo" -gt 0 ]; then
  log "already seeded: $demo demo products (--reuse-db), skipping seed_demo"
else
  # The demo catalogue is enough: a checkout locks and reads its cart's lines and their
  # variants by primary key, so its cost does not depend on how many products there are.
  log "seed_demo (the demo catalogue)"
  shop "$PY" manage.py seed_demo
fi
log "collectstatic"
shop "$PY" manage.py collectstatic --noinput -v0

# ------------------------------------------------------------------ visitors
log "a pool of $POOL visitors (+ $EXTRA for the query count), each with one unit in the cart"
shop "$PY" "$BENCH/checkout.py" prepare "$POOL" "$EXTRA" "$RUN/visitors.tsv" | tail -1 >"$RUN/prepare.json"
cat "$RUN/prepare.json"
VARIANT=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["variant"])' "$RUN/prepare.json")
SESSION_COOKIE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["session_cookie"])' "$RUN/prepare.json")
[[ "$VARIANT" =~ ^[0-9]+$ ]] || { echo "no variant id" >&2; exit 1; }
head -n "$POOL" "$RUN/visitors.tsv" >"$RUN/pool.tsv"
mapfile -t QUERY_VISITORS < <(tail -n "$EXTRA" "$RUN/visitors.tsv" | cut -f1)

# ------------------------------------------------------------------ the wrk script
# Every request is the next unused visitor of its thread's own slice of the pool. wrk runs
# four times (run_wrk.sh's warm-up, then 3 recorded runs), each a new process that would
# start its script afresh: the script keeps each thread's position in $STATE between them,
# so no visitor is ever sent twice, and appends one line per run to $RUNS_TSV (start and end
# times, requests sent, checkouts answered as expected, wrong answers, requests past the end
# of the pool). A thread that runs out of visitors sends a POST without CSRF (HTTP 403), so
# wrk counts it as an error too.
LUA="$RUN/checkout.lua" STATE="$RUN/lua-state.txt" RUNS_TSV="$RUN/runs.tsv"
: >"$RUNS_TSV"; rm -f "$STATE"
BODY=$("$PY" - "$BENCH" <<'PY'
import sys
from urllib.parse import urlencode
sys.path.insert(0, sys.argv[1])
from checkout import FORM, TOKEN
print(urlencode({"csrfmiddlewaretoken": TOKEN, **FORM}))
PY
)
{
  echo "-- generated by bench/checkout.sh: POST the guest checkout as the next unused visitor."
  echo "local token = \"benchbenchbenchbenchbenchbench12\""
  echo "local body = \"$BODY\""
  echo "local threads_expected = $THREADS"
  echo "local state_file = \"$STATE\""
  echo "local runs_file = \"$RUNS_TSV\""
  echo "local pool = {"
  awk -F'\t' '{ printf "  \"%s\",\n", $1 }' "$RUN/pool.tsv"
  echo "}"
  cat <<LUA
local function now()
  local p = io.popen("date +%s.%N"); local t = p:read("*l"); p:close(); return t
end
local function read_state()
  local used = {}
  local f = io.open(state_file, "r")
  if f then
    for k, n in f:read("*a"):gmatch("(%d+) (%d+)") do used[tonumber(k)] = tonumber(n) end
    f:close()
  end
  return used
end
local threads, started, used = {}, nil, nil
function setup(thread)
  -- called in wrk's main state for each thread before that thread starts
  if started == nil then started = now(); used = read_state() end
  local k = #threads
  table.insert(threads, thread)
  local lo = math.floor(k * #pool / threads_expected)
  local hi = math.floor((k + 1) * #pool / threads_expected)
  thread:set("id", k)
  thread:set("first", lo + (used[k] or 0))
  thread:set("last", (k < threads_expected) and hi or 0)
end
sent, ok, bad, exhausted = 0, 0, 0, 0
function request()
  local k = first + sent
  sent = sent + 1
  if k >= last then
    exhausted = exhausted + 1
    return wrk.format("POST", "/checkout/", {
      ["Host"] = wrk.headers["Host"],
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "pool-exhausted=1")
  end
  return wrk.format("POST", "/checkout/", {
    ["Host"] = wrk.headers["Host"],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. token .. "; $SESSION_COOKIE=" .. pool[k + 1],
  }, body)
end
function response(status, headers, _)
  local location = headers["Location"] or headers["location"] or ""
  if status == 302 and location:match("^/orders/[%w]+/payment/$") then ok = ok + 1
  elseif status == 302 then bad = bad + 1 end  -- other statuses: wrk counts non-2xx/3xx itself
end
function done(summary, latency, requests)
  local ended = now()
  local f = io.open(state_file, "w")
  local s, o, b, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    local k, n = t:get("id"), t:get("sent")
    local was = t:get("first") - math.floor(k * #pool / threads_expected)
    f:write(string.format("%d %d\n", k, was + n))
    s = s + n; o = o + t:get("ok"); b = b + t:get("bad"); e = e + t:get("exhausted")
  end
  f:close()
  local r = io.open(runs_file, "a")
  r:write(string.format("%s\t%s\t%d\t%d\t%d\t%d\n", started, ended, s, o, b, e))
  r:close()
end
LUA
} >"$LUA"

# ------------------------------------------------------------------ the simulator and the shop
for p in "$PORT" "$SIM_PORT"; do
  if port_busy "$p"; then echo "port $p is in use; pick another --port / --sim-port" >&2; exit 1; fi
done
log "start the Daraja simulator on 127.0.0.1:$SIM_PORT (--callback-delay 0)"
STARTED+=("$SIM_PIDFILE")
(cd "$ROOT" && exec "$PY" -m payments.simulator --host 127.0.0.1 --port "$SIM_PORT" --callback-delay 0) \
  >"$SIM_LOG" 2>&1 &
echo $! >"$SIM_PIDFILE"
for _ in $(seq 1 50); do port_busy "$SIM_PORT" && break; sleep 0.2; done
port_busy "$SIM_PORT" && kill -0 "$(cat "$SIM_PIDFILE")" 2>/dev/null \
  || { tail -30 "$SIM_LOG" >&2; echo "the simulator did not start" >&2; exit 1; }

log "start the shop: gunicorn storefront.wsgi on 127.0.0.1:$PORT"
STARTED+=("$SHOP_PIDFILE")
source "$SHARED/common.sh"  # start_gunicorn: the same gunicorn flags as the reference servers
start_gunicorn "$ROOT/.venv" "$ROOT" storefront.wsgi "$PORT" storefront-checkout "${SHOP_ENV[@]}"
SHOP_LOG="$PERF_DIR/logs/storefront-checkout-$PORT.log"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$PORT/" || true)
if ! kill -0 "$(cat "$SHOP_PIDFILE")" 2>/dev/null || [ "$code" != 200 ]; then
  tail -30 "$SHOP_LOG" >&2; echo "the shop did not start (GET / -> HTTP $code)" >&2; exit 1
fi

MARK="$RUN/mark.json"
shop "$PY" "$BENCH/checkout.py" mark | tail -1 >"$MARK"

# ------------------------------------------------------------------ wrk
log "wrk: POST /checkout/, every request a new visitor of the pool ($WRK_SHOWN, 3 s warm-up, $REPEATS runs)"
out=$("$SHARED/run_wrk.sh" "$PORT" /checkout/ storefront-checkout "$REPEATS" -- -s "$LUA" 2>&1) \
  || { echo "$out"; echo "run_wrk.sh failed" >&2; exit 1; }
echo "$out"
cp "$PERF_DIR/results/storefront-checkout"-[0-9]*.txt "$RUN/wrk/" 2>/dev/null || true
med=$(echo "$out" | grep '^MEDIAN' | tail -1)
# per run: run<i> <text> rps p50 p99 requests non2xx "connect a, read b, write c, timeout d" or -
reqs=$(echo "$out" | awk -F'\t' '/^run[0-9]/ { n += $6 } END { print n + 0 }')
non2xx=$(echo "$out" | awk -F'\t' '/^run[0-9]/ { n += $7 } END { print n + 0 }')
sock=$(echo "$out" | awk -F'\t' '/^run[0-9]/ { k = split($8, a, /[^0-9]+/)
                                                for (j = 1; j <= k; j++) n += a[j] } END { print n + 0 }')
runs_rps=$(echo "$med" | awk -F'\t' '{ r = $6; sub(/^ *runs_rps=/, "", r); gsub(/ /, "", r); print r }')

# ------------------------------------------------------------------ the database's account
log "orders, pushes, payments (waiting up to $WAIT s for the simulator's callbacks), stock"
shop "$PY" "$BENCH/checkout.py" check "$RUN/prepare.json" "$MARK" "$RUNS_TSV" "$WAIT" | tail -1 >"$RUN/check.json"
cat "$RUN/check.json"
# wrong answers in the recorded runs only (the warm-up's are not in wrk's recorded counts)
read -r wrong exhausted < <(tail -n +2 "$RUNS_TSV" | awk -F'\t' '{ b += $5; e += $6 } END { print b + 0, e + 0 }')
errors=$((non2xx + sock + wrong))  # past-the-pool requests answer 403: among non2xx
printf '%s\t%s\t%s\t%s\t%s\t%s\n' \
  "$(echo "$med" | cut -f3 | tr -d ' ')" "$(echo "$med" | cut -f4 | tr -d ' ')" \
  "$(echo "$med" | cut -f5 | tr -d ' ')" "$runs_rps" "$reqs" "$errors" >"$RUN/wrk.tsv"

jq_py() { "$PY" -c "import json, sys; c = json.load(open(sys.argv[1])); print($1)" "$RUN/check.json"; }
[ "$errors" = 0 ] || problem "$errors errors in $reqs requests (non-2xx/3xx $non2xx, of them past the pool $exhausted; socket $sock; wrong redirect $wrong)"
[ "$(jq_py 'c["exhausted"]')" = 0 ] || problem "the pool of $POOL visitors ran out ($(jq_py 'c["exhausted"]') requests had no visitor left): run with a larger --pool"
[ "$(jq_py 'c["pool_ok"]')" = True ] || problem "pool: $(jq_py 'c["pool_carts_emptied"]') carts emptied, $(jq_py 'c["orders_total"]') orders, $(jq_py 'c["visitors_sent"]') visitors sent of $POOL"
[ "$(jq_py 'c["stock_ok"]')" = True ] || problem "stock: stock_allocated +$(jq_py 'c["stock_allocated_delta"]'), $(jq_py 'c["units_ordered"]') units on order lines, $(jq_py 'c["orders_total"]') orders"
[ "$(jq_py 'c["pushed"] == c["orders_total"]')" = True ] || problem "only $(jq_py 'c["pushed"]') of $(jq_py 'c["orders_total"]') orders got a CheckoutRequestID (push accepted)"
[ "$(jq_py 'c["paid"] == c["orders_total"]')" = True ] || problem "only $(jq_py 'c["paid"]') of $(jq_py 'c["orders_total"]') orders were paid by a callback within $WAIT s"
[ "$(jq_py 'c["orders_in_runs"] > 0')" = True ] || problem "no orders in the recorded runs"

# ------------------------------------------------------------------ queries of one checkout
log "SQL queries of one checkout POST (in-process, same database, simulator running)"
shop "$PY" "$BENCH/checkout.py" queries "${QUERY_VISITORS[@]}" | tail -1 >"$RUN/queries.json"
"$PY" -c 'import json, sys; q = json.load(open(sys.argv[1])); print("  cold", {k: q["cold"][k] for k in ("queries", "ms", "sql_ms", "push_ms")}, "warm", {k: q["warm"][k] for k in ("queries", "ms", "sql_ms", "push_ms")})' "$RUN/queries.json"

cp "$SHOP_LOG" "$RUN/gunicorn.log" 2>/dev/null || true
log_errors=$(grep -c -E 'Traceback|ERROR' "$RUN/gunicorn.log" 2>/dev/null || true)
[ "${log_errors:-0}" = 0 ] || problem "$log_errors error lines in the gunicorn log ($RUN/gunicorn.log)"
sim_failed=$(grep -c 'Callback for .* failed' "$SIM_LOG" 2>/dev/null || true)
[ "${sim_failed:-0}" = 0 ] || problem "$sim_failed callbacks from the simulator failed (see $SIM_LOG)"
"$SHARED/stop_server.sh" "$SHOP_PIDFILE"
"$SHARED/stop_server.sh" "$SIM_PIDFILE"

# ------------------------------------------------------------------ report
"$PY" - "$RUN/meta.json" "${PROBLEMS[@]}" <<'PY'
import json, subprocess, sys
p = sys.argv[1]; m = json.load(open(p))
m["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
m["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
m["problems"] = sys.argv[2:]
json.dump(m, open(p, "w"))
PY
log "machine: $(uptime)"
echo
"$PY" "$BENCH/checkout.py" report "$RUN"
cp "$RUN/results.md" "$BENCH/results/checkout-latest.md"
echo "written: $RUN/results.md (and bench/results/checkout-latest.md); raw wrk output in $RUN/wrk/"
if [ ${#PROBLEMS[@]} -gt 0 ]; then
  printf '!! %s\n' "${PROBLEMS[@]}" >&2
  exit 1
fi
