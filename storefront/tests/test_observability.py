"""Request timing, request ids, JSON logs, gunicorn's access log and metrics, Sentry."""

import gzip
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from storefront.logging import JsonFormatter, request_id

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-0123456789abcdef"


# Server-Timing, request id, access log ----------------------------------------------


@pytest.mark.django_db
def test_server_timing_gives_total_and_sql_time_and_the_query_count():
    client = Client()
    client.get("/")  # warm: the same queries are counted both ways below
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    timing = response["Server-Timing"]
    match = re.fullmatch(r'total;dur=(\d+\.\d), sql;dur=(\d+\.\d);desc="(\d+) queries"', timing)
    assert match, timing
    total, sql, count = float(match[1]), float(match[2]), int(match[3])
    assert count == len(queries.captured_queries)
    assert 0 <= sql <= total


def test_the_timing_can_be_switched_off(settings):
    settings.SERVER_TIMING = False
    response = Client().get("/robots.txt")
    assert "Server-Timing" not in response
    assert "X-Request-ID" in response  # the middleware still runs for the metrics


def test_with_observability_off_the_middleware_steps_aside(settings):
    settings.SERVER_TIMING = settings.METRICS_ENABLED = settings.ACCESS_LOG = False
    response = Client().get("/robots.txt")
    assert "Server-Timing" not in response
    assert "X-Request-ID" not in response


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("nginx-4f1c2a9b7d", True), ("short", False), ("bad id\nInjected: 1", False), ("", False)],
)
def test_a_proxys_request_id_is_kept_when_it_looks_like_one(sent, kept):
    response = Client().get("/robots.txt", HTTP_X_REQUEST_ID=sent)
    if kept:
        assert response["X-Request-ID"] == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_access_log_writes_one_line_per_request(settings, caplog):
    settings.ACCESS_LOG = True
    with caplog.at_level(logging.INFO, logger="storefront.access"):
        response = Client().get("/robots.txt?x=1")
    (record,) = [r for r in caplog.records if r.name == "storefront.access"]
    assert re.fullmatch(r"GET /robots.txt\?x=1 200 \d+\.\dms \d+ queries", record.getMessage())
    assert record.request_id == response["X-Request-ID"]


# JSON logs ---------------------------------------------------------------------------


def test_the_json_formatter_writes_one_object_per_line():
    logger = logging.getLogger("storefront.test")
    try:
        raise ValueError("no such order")
    except ValueError:
        record = logger.makeRecord(
            "storefront.test",
            logging.ERROR,
            __file__,
            1,
            "order %s\nfailed",
            ("DT-1",),
            sys.exc_info(),
            extra={"order": "DT-1"},
        )
    token = request_id.set("req-12345678")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR"
    assert data["logger"] == "storefront.test"
    assert data["message"] == "order DT-1\nfailed"
    assert data["request_id"] == "req-12345678"
    assert data["order"] == "DT-1"
    assert "ValueError: no such order" in data["exc_info"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", data["time"])


def run_django(code: str, **env) -> subprocess.CompletedProcess:
    """Run *code* in a new Python process with the shop's settings and *env*."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_json_makes_every_line_json():
    code = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('shop').warning('low stock %s', 'SKU-1')\n"
        "try:\n    1/0\nexcept ZeroDivisionError:\n"
        "    logging.getLogger('django.request').exception('boom')\n"
    )
    result = run_django(code, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["low stock SKU-1", "boom"]
    assert "ZeroDivisionError" in lines[1]["exc_info"]
    plain = run_django(code)
    assert " WARNING shop low stock SKU-1" in plain.stderr.splitlines()[0]


# gunicorn: the Procfile's web line, its access log and multiprocess metrics ----------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("no web line in the Procfile")


class Gunicorn:
    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.log = tmp_path / f"gunicorn-{self.port}.log"
        environment = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            **env,
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                ["bash", "-c", f"exec {procfile_web()}"],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def get(self, path, **headers):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def lines(self):
        return self.log.read_text().splitlines()


def request_count(body: bytes, view: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if (
                sample.name == "storefront_http_request_duration_seconds_count"
                and sample.labels.get("view") == view
            ):
                total += sample.value
    return total


@pytest.mark.django_db(transaction=True)
def test_gunicorn_logs_duration_and_client_and_adds_up_every_workers_metrics(tmp_path):
    server = Gunicorn(
        tmp_path,
        DATABASE_URL=database_url(),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        METRICS_TOKEN=TOKEN,
        TRUSTED_PROXIES="127.0.0.1",
        SECURE_SSL_REDIRECT="1",
        SENTRY_DSN="",
    )
    try:
        for _ in range(8):
            status, headers, _ = server.get(
                "/robots.txt", **{"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
            )
            assert status == 200
            assert headers["Server-Timing"].startswith("total;dur=")
        auth = {"Authorization": f"Bearer {TOKEN}", "Host": "10.244.3.17:8000"}
        # Whichever worker answers the scrape, it counts every worker's requests.
        scrapes = [server.get("/metrics", **auth) for _ in range(4)]
        assert {status for status, _, _ in scrapes} == {200}
        assert {request_count(body, "robots-txt") for _, _, body in scrapes} == {8.0}
        assert server.get("/readyz", Host="10.244.3.17:8000")[0] == 200
    finally:
        server.stop()
    access = [line for line in server.lines() if '"GET /robots.txt' in line]
    assert len(access) == 8, server.lines()
    assert all(
        re.match(r'203\.0\.113\.7 - - \[.+\] "GET /robots.txt HTTP/1.1" 200 \d+ \d+ms ', line)
        for line in access
    ), access
    assert list((tmp_path / "metrics").glob("*.db")), "the workers wrote their metrics there"


def test_gunicorn_answers_healthz_but_not_readyz_without_a_database_in_json(tmp_path):
    """The process lives (healthz 200) but must not take traffic (readyz 503); all logs JSON."""
    server = Gunicorn(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/no/such/folder/db.sqlite3",
        LOG_FORMAT="json",
        TRUSTED_PROXIES="",
        SENTRY_DSN="",
    )
    try:
        assert server.get("/healthz", Host="10.0.0.9")[:3:2] == (200, b"ok\n")
        status, headers, body = server.get("/readyz", Host="10.0.0.9")
    finally:
        server.stop()
    assert status == 503
    assert headers["Cache-Control"] == "no-store"
    checks = json.loads(body)["checks"]
    assert checks["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": pytest.approx(checks["database"]["ms"]),
    }
    lines = [json.loads(line) for line in server.lines() if line.strip()]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert [line["path"] for line in access] == ["/healthz", "/healthz", "/readyz"][-len(access) :]
    assert access[-1]["status"] == "503"
    assert isinstance(access[-1]["duration_ms"], int)
    assert any("OperationalError" in line.get("exc_info", "") for line in lines)


# Sentry ------------------------------------------------------------------------------


class Ingest(BaseHTTPRequestHandler):
    """Sentry's ingest endpoint: keep each envelope POSTed to /api/<project>/envelope/."""

    envelopes: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def ingest():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SENTRY_PROBE = """
import sys, types
import django

django.setup()
from django.http import HttpResponse
from django.urls import include, path

def boom(request):
    raise RuntimeError("sentry probe " + request.GET["n"])

def server_error(request):
    return HttpResponse("error", status=500)

urls = types.ModuleType("sentry_probe_urls")
urls.urlpatterns = [path("boom/", boom), path("", include("storefront.urls"))]
urls.handler500 = server_error
sys.modules["sentry_probe_urls"] = urls

from django.test import Client, override_settings
import sentry_sdk

assert sentry_sdk.get_client().is_active()
with override_settings(ROOT_URLCONF="sentry_probe_urls"):
    response = Client(raise_request_exception=False).get(
        "/boom/",
        {"n": "42"},
        HTTP_COOKIE="sessionid=secret-session",
        HTTP_AUTHORIZATION="Bearer secret",
    )
assert response.status_code == 500, response.status_code
sentry_sdk.flush(timeout=10)
"""


def test_sentry_sends_an_error_to_the_dsn_when_set(ingest):
    port = ingest.server_address[1]
    result = run_django(
        SENTRY_PROBE,
        SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42",
        SENTRY_ENVIRONMENT="staging",
        SENTRY_RELEASE="shop@1.2.3",
    )
    assert result.returncode == 0, result.stderr
    assert ingest.envelopes, "no envelope reached the ingest server"
    assert {path for path, _ in ingest.envelopes} == {"/api/42/envelope/"}
    body = b"\n".join(envelope for _, envelope in ingest.envelopes)
    items = [json.loads(line) for line in body.decode().splitlines() if line.startswith("{")]
    (event,) = [item for item in items if item.get("exception")]
    (exception,) = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("RuntimeError", "sentry probe 42")
    assert event["environment"] == "staging"
    assert event["release"] == "shop@1.2.3"
    assert "secret-session" not in body.decode()  # send_default_pii=False
    assert "Bearer secret" not in body.decode()


def test_sentry_stays_off_without_a_dsn():
    result = run_django(
        "import django; django.setup(); import sentry_sdk; "
        "print(sentry_sdk.get_client().is_active())",
        SENTRY_DSN="",
    )
    assert result.stdout.strip() == "False", result.stderr
