#!/usr/bin/env bash
# bench/run.sh: the shop's own benchmark in one command (see bench/README.md).
#
#   bash bench/run.sh [--products N] [--reuse-db] [--hello] [--redis [URL] | --no-redis]
#                     [--port PORT] [--db NAME] [--only a,b] [--scenarios FILE] [--quick]
#                     [--sqlite [FILE]] [--pool N] [--fresh K] [--mix N] [--stock-every S]
#                     [--statement-timeout MS] [--seed-only]
#
# Builds a PostgreSQL database (drop/create), migrates, seeds N products, builds the CSS,
# collects static files, measures fresh renders of many distinct URLs (bench/fresh.py), serves the shop with gunicorn (2 sync workers, DEBUG off, 127.0.0.1),
# then for every line of bench/scenarios.tsv: compressed bytes (HTML, CSS, JS), SQL queries
# (cold/warm, in-process) and wrk figures via /work/shared/bench/run_wrk.sh, then the cold mix
# (wrk cycling through many distinct listing URLs). Seeding uses bench/seed_big.py (COPY). With --hello it
# also measures bare Django (/work/shared/bench/hello_setup.sh) /items/ and /hello/ in the same
# run. --sqlite runs the POST (cart) scenarios against SQLite instead, seeded with seed_demo only,
# like `make run` but DEBUG off and under gunicorn. Prints a Markdown table and writes it to bench/results/<timestamp>/results.md and
# bench/results/latest.md. Servers it started are stopped by PID at the end and on error.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
SHARED="${SHARED_BENCH:-/work/shared/bench}"
export PERF_DIR="${PERF_DIR:-/tmp/perf}"
PY="$ROOT/.venv/bin/python"
SCENARIOS="$BENCH/scenarios.tsv"
PG_HOST="${PGHOST:-127.0.0.1}" PG_PORT="${PGPORT:-5432}" PG_USER="${PGUSER:-postgres}"

PRODUCTS=10000 REUSE=0 HELLO=0 REDIS=default PORT=8765 DB=storefront_bench ONLY="" QUICK=0 SQLITE="" POOL=400
FRESH=100 MIX=20000 STOCK_EVERY=2 SEED_ONLY=0 STATEMENT_TIMEOUT=10000
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --products) PRODUCTS="${2:?}"; shift ;;
    --reuse-db) REUSE=1 ;;
    --hello) HELLO=1 ;;
    --redis) if [ -n "${2:-}" ] && [ "${2#--}" = "$2" ]; then REDIS="$2"; shift
             else REDIS="redis://127.0.0.1:6379/0"; fi ;;
    --no-redis) REDIS="" ;;
    --port) PORT="${2:?}"; shift ;;
    --db) DB="${2:?}"; shift ;;
    --only) ONLY="${2:?}"; shift ;;
    --scenarios) SCENARIOS="$(cd "$(dirname "${2:?}")" && pwd)/$(basename "$2")"; shift ;;
    --quick) QUICK=1 ;;
    --sqlite) if [ -n "${2:-}" ] && [ "${2#--}" = "$2" ]; then SQLITE="$2"; shift
              else SQLITE="${PERF_DIR:-/tmp/perf}/sqlite_bench/bench.sqlite3"; fi ;;
    --pool) POOL="${2:?}"; shift ;;
    --fresh) FRESH="${2:?}"; shift ;;
    --mix) MIX="${2:?}"; shift ;;
    --stock-every) STOCK_EVERY="${2:?}"; shift ;;
    --seed-only) SEED_ONLY=1 ;;
    --statement-timeout) STATEMENT_TIMEOUT="${2:?}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
  shift
done
# The cache: Redis by default, as in production (.env.example), so both workers share the
# catalogue's cached pages, its version, thumbnails and the category tree; --sqlite is `make
# run`'s set-up, which has no REDIS_URL, unless --redis asks for it.
if [ "$REDIS" = default ]; then
  if [ -n "$SQLITE" ]; then REDIS=""; else REDIS="redis://127.0.0.1:6379/0"; fi
fi
HELLO_PORT=$((PORT + 1))
# Only ever drop a database that is obviously a benchmark's.
[[ "$DB" =~ ^[a-z_][a-z0-9_]*bench[a-z0-9_]*$ ]] || { echo "--db must be a plain name containing 'bench'" >&2; exit 2; }
[[ "$PRODUCTS" =~ ^[0-9]+$ ]] || { echo "--products must be a number" >&2; exit 2; }
[[ "$POOL" =~ ^[1-9][0-9]*$ ]] || { echo "--pool must be a positive number" >&2; exit 2; }
[[ "$FRESH" =~ ^[0-9]+$ && "$MIX" =~ ^[0-9]+$ && "$STOCK_EVERY" =~ ^[0-9]+(\.[0-9]+)?$ && "$STATEMENT_TIMEOUT" =~ ^[0-9]+$ ]] \
  || { echo "--fresh, --mix, --stock-every and --statement-timeout take a number (0: none)" >&2; exit 2; }
if [ -n "$SQLITE" ]; then
  FRESH=0 MIX=0 STOCK_EVERY=0  # the demo catalogue only: nothing to measure at size
  # Only ever delete a file that is obviously a benchmark's.
  [[ "$(basename "$SQLITE")" == *bench*.sqlite3 ]] || { echo "--sqlite FILE must be *bench*.sqlite3" >&2; exit 2; }
  SQLITE="$(mkdir -p "$(dirname "$SQLITE")" && cd "$(dirname "$SQLITE")" && pwd)/$(basename "$SQLITE")"
  PRODUCTS=0 DB=sqlite_bench
fi

if [ "$QUICK" = 1 ]; then export WRK_ARGS="-t2 -c16 -d3s"; REPEATS=1; else REPEATS=3; fi
WRK_SHOWN="${WRK_ARGS:--t2 -c16 -d15s}"

TOOLS="wrk curl"; [ -z "$SQLITE" ] && TOOLS="$TOOLS psql"
for tool in $TOOLS; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ -x "$PY" ] || { echo "needs the virtualenv at $ROOT/.venv" >&2; exit 1; }
if [ -n "$REDIS" ]; then
  "$PY" -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).ping()' "$REDIS" 2>/dev/null \
    || { echo "no Redis at $REDIS (start it, pass --redis URL, or --no-redis)" >&2; exit 1; }
fi
[ -x "$SHARED/run_wrk.sh" ] || { echo "needs $SHARED/run_wrk.sh" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

STAMP="$(date +%Y%m%d-%H%M%S)"
RUN="$BENCH/results/$STAMP"
mkdir -p "$RUN/wrk" "$PERF_DIR/logs" "$PERF_DIR/results"
WORK="$PERF_DIR/$DB"            # media (pictures, thumbnails) of this benchmark database
[ -n "$SQLITE" ] && WORK="$(dirname "$SQLITE")"
MEDIA="$WORK/media"
SHOP_PIDFILE="$PERF_DIR/storefront-$PORT.pid"
HELLO_PIDFILE="$PERF_DIR/hello-$HELLO_PORT.pid"
log() { echo "== $(date +%H:%M:%S) $*"; }

# ------------------------------------------------------------------ stop servers on any exit
STARTED=() CHANGER=""
cleanup() {
  local rc=$?
  [ -n "$CHANGER" ] && kill "$CHANGER" 2>/dev/null
  for f in "${STARTED[@]}"; do "$SHARED/stop_server.sh" "$f" || true; done
  [ $rc -ne 0 ] && echo "bench/run.sh failed (exit $rc); partial results in $RUN" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ the shop's environment
if [ -n "$REDIS" ]; then CACHE_DESC="Redis $REDIS (key prefix storefront-bench-$DB)"
else CACHE_DESC="per-process memory (no REDIS_URL)"; fi
SHOP_ENV=(
  DJANGO_SETTINGS_MODULE=storefront.settings
  DEBUG=0
  "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  ALLOWED_HOSTS=127.0.0.1,localhost
  SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
  SERVE_MEDIA=1 "MEDIA_ROOT=$MEDIA"
  "SITE_URL=http://127.0.0.1:$PORT"
  "DATABASE_URL=$( [ -n "$SQLITE" ] && echo "sqlite:///$SQLITE" || echo "postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB")"
  "REDIS_URL=$REDIS" "CACHE_KEY_PREFIX=storefront-bench-$DB"
  "OBSERVABILITY=${OBSERVABILITY:-1}"  # OBSERVABILITY=0 bash bench/run.sh: without timing and metrics
)
shop() { (cd "$ROOT" && env "${SHOP_ENV[@]}" "$@"); }
psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }

# ------------------------------------------------------------------ scenarios
LABELS=() SPECS=() EXTRAS=()
while read -r label spec _targets extra; do
  case "$label" in ''|'#'*) continue ;; esac
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$label,"* ]]; then continue; fi
  # --sqlite without --only: the POST (cart) scenarios only
  if [ -n "$SQLITE" ] && [ -z "$ONLY" ] && [ "${spec#POST:}" = "$spec" ]; then continue; fi
  LABELS+=("$label"); SPECS+=("$spec"); EXTRAS+=("${extra:-}")
done <"$SCENARIOS"
[ ${#LABELS[@]} -gt 0 ] || { echo "no scenarios selected" >&2; exit 2; }
cp "$SCENARIOS" "$RUN/scenarios.tsv"

if [ -n "$SQLITE" ]; then DB_DESC="SQLite \`$SQLITE\` (seed_demo only, as \`make run\`; WAL, IMMEDIATE transactions)"
else DB_DESC="$PRODUCTS synthetic products + the demo catalogue in PostgreSQL \`$DB\`"; fi
cat >"$RUN/meta.json" <<JSON
{"started": "$(date -Is)", "commit": "$(git -C "$ROOT" rev-parse --short HEAD)",
 "dirty": $( [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] && echo true || echo false ),
 "products": $PRODUCTS, "db": "$DB", "database": "$DB_DESC", "cache": "$CACHE_DESC", "wrk_args": "$WRK_SHOWN",
 "repeats": $REPEATS, "cpus": $(nproc), "load_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "quick": $( [ "$QUICK" = 1 ] && echo true || echo false ),
 "only": [$(printf '"%s",' "${LABELS[@]}" | sed 's/,$//')]}
JSON

# ------------------------------------------------------------------ database
if [ -n "$SQLITE" ]; then
  if [ "$REUSE" = 1 ] && [ -s "$SQLITE" ]; then log "reusing SQLite database $SQLITE"
  else
    log "creating SQLite database $SQLITE (deleted if it exists) and a fresh media folder $MEDIA"
    rm -f -- "$SQLITE" "$SQLITE-wal" "$SQLITE-shm"; rm -rf -- "$MEDIA"
  fi
  exists=1
else
  exists=$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$DB'")
fi
if [ -n "$SQLITE" ]; then :
elif [ "$REUSE" = 1 ] && [ "$exists" = 1 ]; then
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
have=$(shop "$PY" manage.py shell -v0 -c \
  'from shop.models import Product; print(Product.objects.filter(slug__startswith="bench-").count())' | tail -1)
demo=$(shop "$PY" manage.py shell -v0 -c \
  'from shop.models import Product; print(Product.objects.exclude(slug__startswith="bench-").count())' | tail -1)
if [ "$REUSE" = 1 ] && [ "$have" -ge "$PRODUCTS" ] && [ "$demo" -gt 0 ]; then
  log "already seeded: $demo demo + $have synthetic products (--reuse-db), skipping seed_demo"
elif [ -n "$SQLITE" ]; then
  log "seed_demo (the demo catalogue only, as make run)"
  shop "$PY" manage.py seed_demo
else
  # The demo catalogue (brands, categories, attribute values, pictures) through the shop's own
  # command, then the synthetic products in bulk with COPY (bench/seed_big.py).
  log "seed_demo, then bench/seed_big.py --products $PRODUCTS (have $have)"
  t0=$SECONDS
  shop "$PY" manage.py seed_demo
  shop "$PY" "$BENCH/seed_big.py" --products "$PRODUCTS"
  SEED_SECONDS=$((SECONDS - t0))
  echo "seeding took $SEED_SECONDS s"
fi

# Fresh bulk inserts leave the planner without statistics until autovacuum gets to them
# (minutes later, at random): without this, e.g. search ignores its GIN index (0.1 ms -> 350 ms).
if [ -z "$SQLITE" ]; then
  log "VACUUM ANALYZE (planner statistics for the freshly seeded tables)"
  t0=$SECONDS
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DB" -v ON_ERROR_STOP=1 -qc "VACUUM ANALYZE"
  VACUUM_SECONDS=$((SECONDS - t0))
  echo "VACUUM ANALYZE took $VACUUM_SECONDS s"
  size=$(psql_q "SELECT pg_size_pretty(pg_database_size('$DB'))")
  printf '{"seed_seconds": %s, "vacuum_seconds": %s, "db_size": "%s", "products": %s}\n' \
    "${SEED_SECONDS:-null}" "$VACUUM_SECONDS" "$size" \
    "$(shop "$PY" manage.py shell -v0 -c 'from shop.models import Product; print(Product.objects.count())' | tail -1)" \
    >"$RUN/seed.json"
  cat "$RUN/seed.json"
fi
if [ "$SEED_ONLY" = 1 ]; then log "--seed-only: done (database $DB)"; exit 0; fi
# From here on (measuring and serving, not seeding), PostgreSQL cancels any statement that runs
# longer than wrk's 10 s timeout: a pathological query then costs a 500 (an error in the
# figures) instead of holding a worker and a backend for minutes after its client gave up.
if [ -z "$SQLITE" ] && [ "$STATEMENT_TIMEOUT" != 0 ]; then
  for i in "${!SHOP_ENV[@]}"; do
    case "${SHOP_ENV[$i]}" in
      DATABASE_URL=*) SHOP_ENV[i]="${SHOP_ENV[$i]}?options=-c%20statement_timeout%3D$STATEMENT_TIMEOUT" ;;
    esac
  done
fi

# ------------------------------------------------------------------ cart placeholders
# {variant}: an in-stock variant of the demo catalogue, looked up now (ids differ per seed).
# {line}: a visitor who already has a cart line: a pool of POOL sessions, each with one line
# of {variant}, made here through the real add-to-cart view (see post_lua).
need_variant=0 need_pool=0
for i in "${!SPECS[@]}"; do
  [[ "${SPECS[$i]}" == *"{variant}"* || "${SPECS[$i]}" == *"{line}"* ]] && need_variant=1
  [[ "${SPECS[$i]}" == *"{line}"* ]] && need_pool=1
done
VARIANT=""
if [ "$need_variant" = 1 ]; then
  VARIANT=$(shop "$PY" "$BENCH/measure.py" variant | tail -1)
  [[ "$VARIANT" =~ ^[0-9]+$ ]] || { echo "no variant id: $VARIANT" >&2; exit 1; }
  log "cart scenarios use variant $VARIANT (in stock, demo catalogue)"
  for i in "${!SPECS[@]}"; do SPECS[$i]="${SPECS[$i]//\{variant\}/$VARIANT}"; done
  echo "{\"variant\": $VARIANT}" >"$RUN/cart.json"
fi
SESSION_COOKIE=sessionid
if [ "$need_pool" = 1 ]; then
  log "$POOL visitors with a cart line (for the {line} scenarios)"
  SESSION_COOKIE=$(shop "$PY" "$BENCH/measure.py" visitors "$POOL" "$VARIANT" "$RUN/visitors.tsv" | tail -1)
fi

# ------------------------------------------------------------------ CSS and static files
log "build CSS and collectstatic"
(cd "$ROOT" && .venv/bin/python scripts/tw_sources.py \
   && .venv/bin/tailwindcss -i tailwind/input.css -o static/css/app.css --minify) >"$RUN/css-build.log" 2>&1 \
  || { cat "$RUN/css-build.log" >&2; exit 1; }
shop "$PY" manage.py collectstatic --noinput -v0

# ------------------------------------------------------------------ helpers
WRK_TSV="$RUN/wrk.tsv"; : >"$WRK_TSV"
bench_page() {  # LABEL PORT PATH [wrk args...]
  local label="$1" port="$2" path="$3"; shift 3
  local out
  if ! out=$("$SHARED/run_wrk.sh" "$port" "$path" "storefront-$label" "$REPEATS" -- "$@" 2>&1); then
    echo "$out"; echo "run_wrk.sh failed for $label" >&2
    printf '%s\t%s\terror\t–\t–\t–\t–\t–\t%s\n' "$label" "$path" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WRK_TSV"
    return 0
  fi
  echo "$out" | grep -v '^# uptime'
  local probe med
  probe=$(echo "$out" | sed -n 's/.*-> HTTP \([0-9]*\).*/\1/p' | head -1)
  med=$(echo "$out" | grep '^MEDIAN' | tail -1)
  # per run: run<i> <text> rps p50 p99 requests non2xx "connect a, read b, write c, timeout d" or -
  local reqs sock
  reqs=$(echo "$out" | awk -F'\t' '/^run[0-9]/ { printf "%s%s", s, $6; s = "," }')
  sock=$(echo "$out" | awk -F'\t' '/^run[0-9]/ { n = 0; k = split($8, a, /[^0-9]+/)
                                                  for (j = 1; j <= k; j++) n += a[j]
                                                  printf "%s%d", s, n; s = "," }')
  # MEDIAN <label> <rps> <p50> <p99> runs_rps=a,b,c non2xx=x,y,z
  echo "$med" | awk -F'\t' -v l="$label" -v p="$path" -v pr="$probe" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" \
      -v rq="$reqs" -v so="$sock" '
    { for (i = 1; i <= NF; i++) gsub(/^ +| +$/, "", $i)
      runs = $6; sub(/^runs_rps=/, "", runs); bad = $7; sub(/^non2xx=/, "", bad)
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l, p, pr, $3, $4, $5, runs, bad, la, rq, so }' >>"$WRK_TSV"
  cp "$PERF_DIR/results/storefront-$label"-*.txt "$RUN/wrk/" 2>/dev/null || true
}

# ------------------------------------------------------------------ bare Django reference
if [ "$HELLO" = 1 ]; then
  log "bare Django reference (hello_setup.sh $HELLO_PORT)"
  if [ -s "$HELLO_PIDFILE" ]; then "$SHARED/stop_server.sh" "$HELLO_PIDFILE"; fi
  if port_busy "$HELLO_PORT"; then echo "port $HELLO_PORT is in use; pick another --port" >&2; exit 1; fi
  STARTED+=("$HELLO_PIDFILE")
  if "$SHARED/hello_setup.sh" "$HELLO_PORT"; then
    "$PY" "$BENCH/measure.py" bytes "http://127.0.0.1:$HELLO_PORT/" "$RUN/bytes-hello.jsonl" \
      bare-items=/items/ bare-hello=/hello/ >/dev/null
    bench_page bare-items "$HELLO_PORT" /items/
    bench_page bare-hello "$HELLO_PORT" /hello/
  else
    echo "hello_setup.sh failed: no bare Django rows in this run" >&2
  fi
  "$SHARED/stop_server.sh" "$HELLO_PIDFILE"
fi

# ------------------------------------------------------------------ the shop
log "start the shop: gunicorn storefront.wsgi on 127.0.0.1:$PORT"
if [ -s "$SHOP_PIDFILE" ]; then "$SHARED/stop_server.sh" "$SHOP_PIDFILE"; fi  # left by an aborted run
if port_busy "$PORT"; then echo "port $PORT is in use; pick another --port" >&2; exit 1; fi
STARTED+=("$SHOP_PIDFILE")
source "$SHARED/common.sh"  # start_gunicorn: the same gunicorn flags as the reference servers
start_gunicorn "$ROOT/.venv" "$ROOT" storefront.wsgi "$PORT" storefront "${SHOP_ENV[@]}"
kill -0 "$(cat "$SHOP_PIDFILE")" 2>/dev/null || { tail -30 "$PERF_DIR/logs/storefront-$PORT.log" >&2; exit 1; }

log "prime every page once (thumbnails are generated on first view) and check the status"
for i in "${!LABELS[@]}"; do
  spec="${SPECS[$i]}"; [ "${spec#POST:}" != "$spec" ] && continue
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 "http://127.0.0.1:$PORT$spec")
  echo "  ${LABELS[$i]} $spec -> HTTP $code"
done

GET_ITEMS=(); ALL_ITEMS=()
for i in "${!LABELS[@]}"; do
  ALL_ITEMS+=("${LABELS[$i]}=${SPECS[$i]}")
  [ "${SPECS[$i]#POST:}" = "${SPECS[$i]}" ] && GET_ITEMS+=("${LABELS[$i]}=${SPECS[$i]}")
done
log "compressed bytes per page"
"$PY" "$BENCH/measure.py" bytes "http://127.0.0.1:$PORT/" "$RUN/bytes.jsonl" "${GET_ITEMS[@]}"
[ -f "$RUN/bytes-hello.jsonl" ] && cat "$RUN/bytes-hello.jsonl" >>"$RUN/bytes.jsonl"
log "SQL queries per page (fresh process per page: cold request, then warm)"
shop BENCH_VARIANT="$VARIANT" "$PY" "$BENCH/measure.py" queries "$RUN/queries.jsonl" "${ALL_ITEMS[@]}"
if [ "$FRESH" -gt 0 ]; then
  log "fresh renders: $FRESH random URLs per kind of page, catalogue version bumped before each"
  echo "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RUN/fresh-load.txt"
  shop "$PY" -W ignore "$BENCH/fresh.py" renders "$RUN/fresh.jsonl" "$FRESH"
  echo "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN/fresh-load.txt"
fi

post_lua() {  # LABEL BODY -> path of a wrk script POSTing BODY with a CSRF cookie + token
  local lua="$RUN/post-$1.lua"
  cat >"$lua" <<LUA
-- generated by bench/run.sh: POST a form as a new visitor (no session cookie), passing
-- Django's CSRF check with a fixed secret sent as cookie and form field (as basket_add.lua)
local token = "benchbenchbenchbenchbenchbench12"
wrk.method = "POST"
wrk.body = "csrfmiddlewaretoken=" .. token .. "&${2:-quantity=1}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken=" .. token
LUA
  echo "$lua"
}
line_lua() {  # LABEL PATH BODY -> a wrk script: every request is the next visitor of the pool
  # (session cookie + its own line id in PATH's {line}), round robin within each wrk thread's
  # own slice of the pool; {toggle} in BODY alternates 2 and 1 per visitor.
  local lua="$RUN/post-$1.lua"
  {
    echo "-- generated by bench/run.sh: POST $2 as a visitor who already has a cart line."
    echo "-- The pool of visitors (session cookie, line id) was made by measure.py visitors."
    echo "local token = \"benchbenchbenchbenchbenchbench12\""
    echo "local path = \"$2\""
    echo "local body = \"csrfmiddlewaretoken=\" .. token .. \"&${3:-quantity=1}\""
    echo "local pool = {"
    awk -F'\t' '{ printf "  {\"%s\", \"%s\"},\n", $1, $2 }' "$RUN/visitors.tsv"
    echo "}"
    cat <<LUA
-- Each wrk thread takes its own slice of the pool, so no two connections ever post to the
-- same cart at once, and each keeps count of its visitors' posts: {toggle} in the body is 2
-- on a visitor's odd posts and 1 on its even ones (the line starts at 1), so every update
-- really changes the line (the shop writes nothing when the quantity stays the same).
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  for n, t in ipairs(threads) do t:set("index", n - 1); t:set("count", #threads) end
end
local i, lo, size
local posts = {}
function request()
  if i == nil then
    lo = math.floor((index or 0) * #pool / (count or 1))
    size = math.max(math.floor(((index or 0) + 1) * #pool / (count or 1)) - lo, 1)
    i = 0
  end
  local k = lo + (i % size) + 1
  i = i + 1
  local v = pool[k]
  posts[k] = (posts[k] or 0) + 1
  local quantity = (posts[k] % 2 == 1) and "2" or "1"
  return wrk.format("POST", (path:gsub("{line}", v[2])), {
    ["Host"] = wrk.headers["Host"],
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "csrftoken=" .. token .. "; $SESSION_COOKIE=" .. v[1],
  }, (body:gsub("{toggle}", quantity)))
end
LUA
  } >"$lua"
  echo "$lua"
}
CARTS_TSV="$RUN/carts.tsv"; : >"$CARTS_TSV"
for i in "${!LABELS[@]}"; do
  spec="${SPECS[$i]}" extra="${EXTRAS[$i]}"
  log "wrk ${LABELS[$i]} ${spec}"
  post=0
  if [ "${spec#POST:}" != "$spec" ]; then  # POST:/path|form-body
    post=1
    spec="${spec#POST:}"; body=""; [ "${spec#*|}" != "$spec" ] && body="${spec#*|}"
    spec="${spec%%|*}"
    if [[ " $extra " == *" -s "* ]]; then :
    elif [[ "$spec" == *"{line}"* ]]; then
      extra="-s $(line_lua "${LABELS[$i]}" "$spec" "$body") $extra"
      spec="${spec//\{line\}/$(head -1 "$RUN/visitors.tsv" | cut -f2)}"  # wrk needs a valid URL
    else
      extra="-s $(post_lua "${LABELS[$i]}" "$body") $extra"
    fi
    mark=$(shop "$PY" "$BENCH/measure.py" carts-mark | tail -1)
  fi
  # shellcheck disable=SC2086  # extra wrk args are words from scenarios.tsv
  bench_page "${LABELS[$i]}" "$PORT" "$spec" $extra
  if [ "$post" = 1 ]; then
    # a failed add also answers 302: count the carts this scenario left without a line
    printf '%s\t%s\n' "${LABELS[$i]}" "$(shop "$PY" "$BENCH/measure.py" carts-check "$mark" | tail -1)" >>"$CARTS_TSV"
    tail -1 "$CARTS_TSV"
  fi
done
if [ "$MIX" -gt 0 ]; then
  log "cold mix: wrk through $MIX distinct listing URLs (filters, sorts, pages; mostly cache misses)"
  shop "$PY" "$BENCH/fresh.py" mix "$RUN/cold-mix.lua" "$MIX"
  bench_page cold-mix "$PORT" /products/ -s "$RUN/cold-mix.lua"
fi
if [ "$STOCK_EVERY" != 0 ]; then
  # The same warm catalogue URLs twice: as they are, then while a variant's stock changes
  # every STOCK_EVERY s through the shop's own service (bench/fresh.py stock-changes).
  log "warm mix, then the same while a stock count changes every $STOCK_EVERY s"
  shop "$PY" "$BENCH/fresh.py" warm "$RUN/warm-mix.lua" 200
  while read -r p; do curl -s -o /dev/null --max-time 60 "http://127.0.0.1:$PORT$p"; done <"$RUN/warm-mix.txt"
  bench_page warm-mix "$PORT" /products/ -s "$RUN/warm-mix.lua"
  (cd "$ROOT" && exec env "${SHOP_ENV[@]}" "$PY" "$BENCH/fresh.py" stock-changes "$STOCK_EVERY") \
    >"$RUN/stock-changes.txt" 2>"$RUN/stock-changes.log" &
  CHANGER=$!
  bench_page stock-change "$PORT" /products/ -s "$RUN/warm-mix.lua"
  kill "$CHANGER" 2>/dev/null || true; wait "$CHANGER" || true; CHANGER=""
  cat "$RUN/stock-changes.txt"
fi
cp "$PERF_DIR/logs/storefront-$PORT.log" "$RUN/gunicorn.log" 2>/dev/null || true
errors=$(grep -c -E 'Traceback|ERROR' "$RUN/gunicorn.log" 2>/dev/null || true)
[ "${errors:-0}" != 0 ] && echo "!! $errors error lines in the gunicorn log: $RUN/gunicorn.log"
"$SHARED/stop_server.sh" "$SHOP_PIDFILE"

# ------------------------------------------------------------------ report
"$PY" - "$RUN/meta.json" <<'PY'
import json, sys
p = sys.argv[1]; m = json.load(open(p))
m["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
json.dump(m, open(p, "w"))
PY
echo
"$PY" "$BENCH/measure.py" report "$RUN" "$RUN/scenarios.tsv"
cp "$RUN/results.md" "$BENCH/results/latest.md"
echo
echo "written: $RUN/results.md (and bench/results/latest.md); raw wrk output in $RUN/wrk/"
