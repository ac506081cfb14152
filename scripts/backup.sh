#!/bin/sh
# Back up the shop: its database and its media (docs/deploy.md, "Backup and restore").
#
#   scripts/backup.sh [--env-file FILE] DEST
#
# Writes a new folder DEST/shop-<UTC time>/ holding
#   db.dump        pg_dump of DATABASE_URL in custom format (pg_restore reads it)
#   media.tar.gz   MEDIA_ROOT (MEDIA_STORAGE=local, the default), or
#   media/         a copy of the bucket (MEDIA_STORAGE=s3, with `aws s3 sync`)
# and prints that folder's path last. The settings come from the environment,
# or with --env-file from the shop's environment file (/etc/shop/shop.env),
# of which only these variables are read: DATABASE_URL, MEDIA_STORAGE,
# MEDIA_ROOT, AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/backup-env.sh"
load_settings "$@"
shift "$consumed"
[ $# -eq 1 ] || { echo "usage: scripts/backup.sh [--env-file FILE] DEST" >&2; exit 2; }

out="$1/shop-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
chmod 700 "$out"

pg_dump --format=custom --no-owner --no-privileges --file="$out/db.dump" "$PG_URL"

if [ "$MEDIA_STORAGE" = s3 ]; then
    aws s3 sync --only-show-errors $AWS_ENDPOINT_ARG "s3://$AWS_STORAGE_BUCKET_NAME" "$out/media"
else
    mkdir -p "$MEDIA_ROOT"
    tar -czf "$out/media.tar.gz" -C "$MEDIA_ROOT" .
fi
echo "$out"
