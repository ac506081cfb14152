#!/bin/sh
# Restore a backup of scripts/backup.sh into a fresh database and media store
# (docs/deploy.md, "Backup and restore").
#
#   scripts/restore.sh [--env-file FILE] BACKUP
#
# BACKUP is a folder written by scripts/backup.sh. The database DATABASE_URL
# names is created when it doesn't exist; one that already has tables is
# refused (restore into a new one and point the shop at it). The media go
# into MEDIA_ROOT (MEDIA_STORAGE=local) or the bucket (MEDIA_STORAGE=s3).
# Settings are read as by scripts/backup.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/backup-env.sh"
load_settings "$@"
shift "$consumed"
[ $# -eq 1 ] || { echo "usage: scripts/restore.sh [--env-file FILE] BACKUP" >&2; exit 2; }
backup=$1
[ -f "$backup/db.dump" ] || { echo "restore.sh: $backup/db.dump not found" >&2; exit 1; }

exists=$(echo "SELECT 1 FROM pg_database WHERE datname = :'name'" |
    psql "$PG_ADMIN_URL" -XAt -v name="$PG_NAME")
if [ "$exists" != 1 ]; then
    createdb --maintenance-db="$PG_ADMIN_URL" "$PG_NAME"
fi
tables=$(psql "$PG_URL" -XAtc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != 0 ]; then
    echo "restore.sh: database $PG_NAME already has $tables tables; restore into a new one" >&2
    exit 1
fi
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$PG_URL" "$backup/db.dump"

if [ "$MEDIA_STORAGE" = s3 ]; then
    aws s3 sync --only-show-errors $AWS_ENDPOINT_ARG "$backup/media" "s3://$AWS_STORAGE_BUCKET_NAME"
else
    mkdir -p "$MEDIA_ROOT"
    tar -xzf "$backup/media.tar.gz" -C "$MEDIA_ROOT"
fi
echo "restored $backup into database $PG_NAME"
