"""The image: built from the Dockerfile, it serves /healthz as an unprivileged user.

Needs a Docker daemon that can pull python:3.11-slim; without one the test
is skipped, saying why (tests/deploy/test_kit.py still checks the Dockerfile).
"""

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def docker(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image():
    if not shutil.which("docker"):
        pytest.skip("docker is not installed")
    info = docker("info", "--format", "{{.ServerVersion}}")
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker daemon answers here ({reason})")
    tag = f"duka-tech:test-{uuid.uuid4().hex[:8]}"
    built = docker("build", "--tag", tag, str(ROOT), timeout=1800)
    if built.returncode != 0 and "python:3.11-slim" in built.stderr and "pull" in built.stderr:
        pytest.skip(f"the base image python:3.11-slim can't be pulled: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    docker("image", "rm", "--force", tag)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_image_serves_healthz_as_a_non_root_user(image):
    port = free_port()
    name = f"duka-tech-test-{uuid.uuid4().hex[:8]}"
    started = docker(
        "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000",
        "--env", "SECRET_KEY=docker-test-secret-key-0123456789abcdef",
        "--env", "ALLOWED_HOSTS=localhost",
        "--env", "DATABASE_URL=sqlite:////tmp/shop.sqlite3",
        image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, docker("logs", name).stdout[-3000:]
                time.sleep(0.5)
        assert answer.status_code == 200
        user = docker("exec", name, "id", "-u").stdout.strip()
        assert user not in ("", "0")
        static = docker("exec", name, "ls", "staticfiles/staticfiles.json")
        assert static.returncode == 0
    finally:
        docker("rm", "--force", name)
