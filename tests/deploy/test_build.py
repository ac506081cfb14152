"""scripts/build.sh: the one build of CSS and static files (Dockerfile, make css, CI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build.sh"


def build(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BUILD), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_build_collects_hashed_css_with_a_manifest(tmp_path):
    static_root = tmp_path / "staticfiles"
    done = build("--skip-install", STATIC_ROOT=str(static_root))
    assert done.returncode == 0, done.stderr
    assert "== build: install" not in done.stdout
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/app.css"]
    assert hashed != "css/app.css" and hashed.startswith("css/app.")
    css = (static_root / hashed).read_text()
    # Tailwind scanned the templates and crispy-tailwind's: their classes are in.
    assert ".container" in css or ".mx-auto" in css
    assert (static_root / f"{hashed}.gz").exists()
    assert manifest["paths"]["img/favicon.svg"].startswith("img/favicon.")


def test_the_install_step_takes_every_package_from_the_locks_with_hashes():
    # pip's --dry-run (PIP_DRY_RUN) resolves the runtime lock and Tailwind's
    # entry from the dev lock in hash-checking mode, installing nothing.
    done = build("install", PIP_DRY_RUN="1")
    assert done.returncode == 0, done.stderr
    assert "== build: install" in done.stdout
    assert "Would install" not in done.stdout, done.stdout


def test_an_unknown_step_is_refused():
    done = build("deploy")
    assert done.returncode == 2
    assert "usage: scripts/build.sh" in done.stderr
