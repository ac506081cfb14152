#!/bin/sh
# Lighthouse's accessibility score for the home page, the product listing and
# a product page of a running shop, in Debian's Chromium, headless:
#
#   bench/lighthouse.sh [BASE_URL]
#
# BASE_URL defaults to http://127.0.0.1:8000 (`make run`). The product page is
# the first product the listing links to, unless PRODUCT_PATH names one
# (e.g. /p/samsung-galaxy-s24-ultra/). PRESET=desktop audits at desktop size
# (default: Lighthouse's mobile emulation). Each page's JSON report is kept in
# bench/results/lighthouse/. Prints each score and every audit that failed,
# and exits 1 when a score is below MIN_SCORE (default 98).
#
# Lighthouse runs through npx at the version pinned here (12.x runs on
# Debian's Node 20); it is a measuring tool, not one of the shop's packages.
set -eu
cd "$(dirname "$0")/.."

LIGHTHOUSE=lighthouse@12.8.2
BASE_URL=${1:-http://127.0.0.1:8000}
BASE_URL=${BASE_URL%/}
MIN_SCORE=${MIN_SCORE:-98}
OUT=bench/results/lighthouse
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}

if ! curl -fsS -o /dev/null "$BASE_URL/"; then
    echo "lighthouse.sh: no shop answers at $BASE_URL/ (start one with make run)" >&2
    exit 2
fi
if [ -z "${PRODUCT_PATH:-}" ]; then
    PRODUCT_PATH=$(curl -fsS "$BASE_URL/products/" | grep -o 'href="/p/[^"/]*/"' | head -n 1 | cut -d'"' -f2)
    if [ -z "$PRODUCT_PATH" ]; then
        echo "lighthouse.sh: the listing at $BASE_URL/products/ links to no product" >&2
        exit 2
    fi
fi

preset=""
[ -n "${PRESET:-}" ] && preset="--preset=$PRESET"
mkdir -p "$OUT"
status=0
for page in home:/ listing:/products/ "product:$PRODUCT_PATH"; do
    name=${page%%:*}
    path=${page#*:}
    report="$OUT/$name${PRESET:+-$PRESET}.json"
    # --no-sandbox: Chromium refuses to start sandboxed as root (CI, containers).
    # shellcheck disable=SC2086 # $preset is one option or none
    npx --yes "$LIGHTHOUSE" "$BASE_URL$path" --quiet $preset \
        --only-categories=accessibility --output=json --output-path="$report" \
        --chrome-flags="--headless=new --no-sandbox --disable-gpu"
    node -e '
        const [file, name, url, min] = process.argv.slice(1);
        const lhr = require(require("path").resolve(file));
        const score = Math.round(lhr.categories.accessibility.score * 100);
        console.log(`${name.padEnd(8)} ${String(score).padStart(3)}  ${url}`);
        for (const ref of lhr.categories.accessibility.auditRefs) {
            const audit = lhr.audits[ref.id];
            if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
                console.log(`           failed: ${ref.id} (weight ${ref.weight}): ${audit.title}`);
            }
        }
        process.exit(score < Number(min) ? 1 : 0);
    ' "$report" "$name" "$BASE_URL$path" "$MIN_SCORE" || status=1
done
exit $status
