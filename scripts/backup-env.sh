# Settings shared by scripts/backup.sh and scripts/restore.sh (sourced, not run).
#
# load_settings [--env-file FILE] ...: read the variables below from FILE
# (KEY=value lines, as systemd's EnvironmentFile and .env take; other lines
# are ignored, so values with spaces or <> are never run as shell) or else
# from the environment; set consumed to the number of arguments it took.

read_var() { # NAME FILE: the last NAME=value of FILE, quotes removed
    sed -n "s/^[[:space:]]*$1=//p" "$2" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

load_settings() {
    consumed=0
    if [ "${1:-}" = --env-file ]; then
        [ -r "${2:-}" ] || { echo "cannot read environment file ${2:-}" >&2; exit 2; }
        for name in DATABASE_URL MEDIA_STORAGE MEDIA_ROOT AWS_STORAGE_BUCKET_NAME \
            AWS_S3_ENDPOINT_URL AWS_S3_REGION_NAME AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
            eval "$name=\$(read_var $name \"\$2\")"
        done
        consumed=2
    fi
    : "${DATABASE_URL:?DATABASE_URL is not set (a postgres:// URL)}"
    MEDIA_STORAGE=${MEDIA_STORAGE:-local}
    MEDIA_ROOT=${MEDIA_ROOT:-$(cd "$here/.." && pwd)/media}
    AWS_ENDPOINT_ARG=${AWS_S3_ENDPOINT_URL:+--endpoint-url=$AWS_S3_ENDPOINT_URL}
    if [ "$MEDIA_STORAGE" = s3 ]; then
        : "${AWS_STORAGE_BUCKET_NAME:?MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME}"
        [ -z "${AWS_S3_REGION_NAME:-}" ] || export AWS_DEFAULT_REGION="$AWS_S3_REGION_NAME"
        [ -z "${AWS_ACCESS_KEY_ID:-}" ] || export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    fi
    # libpq takes postgresql:// URLs; PG_ADMIN_URL is the same server's
    # "postgres" database, where a missing database is created from.
    parsed=$(python3 - "$DATABASE_URL" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
if url.scheme not in ("postgres", "postgresql", "pgsql"):
    sys.exit(f"DATABASE_URL must be a PostgreSQL URL, not {url.scheme}://")
url = url._replace(scheme="postgresql")
print(f"PG_URL={shlex.quote(urlunsplit(url))}")
print(f"PG_ADMIN_URL={shlex.quote(urlunsplit(url._replace(path='/postgres')))}")
print(f"PG_NAME={shlex.quote(unquote(url.path.lstrip('/')))}")
PY
) || exit 2
    eval "$parsed"
}
