"""Shop instances behind Debian's nginx, for tests: render, start, drive, stop.

``render_site`` fills in deploy/nginx/shop.conf (the file the deploy guide
documents) exactly as envsubst would; ``Nginx`` runs nginx in the
foreground with its own prefix, temporary folders and logs in a test
folder; ``Gunicorn`` runs one instance of the shop (``gunicorn.conf.py``
when the repository has it) on a port or a unix socket; ``Client`` is a
``requests.Session`` whose connections leave from a loopback address of
its choosing (Linux routes all of 127/8 to ``lo``), so nginx sees distinct
clients; ``form_fields`` reads a page's form as a browser would submit it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"
SHOP_CONF = ROOT / "deploy" / "nginx" / "shop.conf"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render_site(values: dict[str, str], template: Path = SHOP_CONF) -> str:
    """Return *template* with every ``${NAME}`` replaced by ``values[NAME]``.

    Every name the file uses must be given and every name given must be
    used, so the test and the deploy guide can't drift apart silently.
    """
    text = template.read_text()
    names = set(PLACEHOLDER.findall(text))
    if names != set(values):
        raise KeyError(
            f"{template.name} uses {sorted(names)}; given {sorted(values)} "
            f"(missing {sorted(names - set(values))}, unused {sorted(set(values) - names)})"
        )
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a throwaway certificate for 127.0.0.1 into *folder*; return (cert, key)."""
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _wait(ready, *, timeout: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start (exit code {process.poll()}):\n{output}")
        time.sleep(0.05)


def _accepts(address: tuple[str, int] | str) -> bool:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Nginx:
    """Debian's nginx in the foreground, everything it writes inside *folder*."""

    def __init__(self, folder: Path, sites: dict[str, str], ports: list[int]):
        self.folder = folder
        self.sites = sites
        self.ports = ports
        self.error_log = folder / "error.log"
        self.access_log = folder / "access.log"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        temp = self.folder / "temp"
        # A root master would run its workers as "nobody", who may not read
        # the test's folders or use its sockets.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"{user}worker_processes 1;\n"
            f"error_log {self.error_log} info;\n"
            f"pid {self.folder}/nginx.pid;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            '    log_format upstream \'$remote_addr "$request" $status '
            'upstream=$upstream_addr xff="$http_x_forwarded_for"\';\n'
            f"    access_log {self.access_log} upstream;\n"
            f"    client_body_temp_path {temp}/body;\n"
            f"    proxy_temp_path {temp}/proxy;\n"
            f"    fastcgi_temp_path {temp}/fastcgi;\n"
            f"    uwsgi_temp_path {temp}/uwsgi;\n"
            f"    scgi_temp_path {temp}/scgi;\n"
            f"    include {self.folder}/sites/*.conf;\n"
            "}\n"
        )

    def start(self) -> Nginx:
        (self.folder / "temp").mkdir(parents=True, exist_ok=True)
        sites = self.folder / "sites"
        sites.mkdir(exist_ok=True)
        for name, text in self.sites.items():
            (sites / f"{name}.conf").write_text(text)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config())
        command = [NGINX, "-p", str(self.folder), "-c", str(conf), "-g", "daemon off;"]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
        output = self.folder / "nginx.out"
        with output.open("w") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        _wait(
            lambda: all(_accepts(("127.0.0.1", port)) for port in self.ports),
            timeout=15,
            what="nginx",
            process=self.process,
            log=self.error_log,
        )
        return self

    def stop(self) -> None:
        _stop(self.process)


class Gunicorn:
    """One instance of the shop: ``gunicorn storefront.wsgi`` bound to *bind*.

    *bind* is ``127.0.0.1:PORT`` or ``unix:/path``; the access and error
    logs go to ``<folder>/<name>.log``.
    """

    def __init__(self, name: str, bind: str, env: dict[str, str], folder: Path, workers: int = 1):
        self.name = name
        self.bind = bind
        self.env = env
        self.log = folder / f"{name}.log"
        self.workers = workers
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int] | str:
        if self.bind.startswith("unix:"):
            return self.bind.removeprefix("unix:")
        host, port = self.bind.rsplit(":", 1)
        return host, int(port)

    @property
    def upstream(self) -> str:
        """The nginx ``server`` line for this instance."""
        return f"server {self.bind};"

    def start(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "storefront.wsgi"]
        if GUNICORN_CONF.exists():
            command += ["-c", str(GUNICORN_CONF)]
        command += [
            "--bind",
            self.bind,
            "--workers",
            str(self.workers),
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        _wait(
            lambda: _accepts(self.address),
            timeout=timeout,
            what=f"gunicorn {self.name}",
            process=self.process,
            log=self.log,
        )

    def requests_seen(self) -> list[str]:
        """Return the request lines (``GET /path HTTP/1.0``) in this instance's access log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(r'"((?:GET|POST|HEAD|PUT|DELETE|PATCH) [^"]*)"', text)

    def stop(self) -> None:
        _stop(self.process)


def stop_all(instances) -> None:
    """Stop every instance at once: each has up to its graceful timeout to finish."""
    for instance in instances:
        if instance.process is not None and instance.process.poll() is None:
            instance.process.terminate()
    for instance in instances:
        instance.stop()


class SourceAddressAdapter(HTTPAdapter):
    """An adapter whose connections leave from *source* (an address of this machine)."""

    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class Client(requests.Session):
    """A browser without JavaScript at loopback address *source*.

    Every request carries a forged ``X-Forwarded-For``: nginx must replace
    it with the address it really saw, or the shop would count the forger
    as someone else.
    """

    FORGED = "203.0.113.66"

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        adapter = SourceAddressAdapter(source)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["X-Forwarded-For"] = self.FORGED
        self.headers["User-Agent"] = f"deploy-test/{source}"

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, **kwargs)

    def csrf(self) -> str:
        """The CSRF token: the cookie's secret, which Django accepts as the form value."""
        return self.cookies.get("csrftoken", "")

    def submit(self, url: str, data: dict, **kwargs) -> requests.Response:
        """POST *data* with the CSRF token, as the page's form would."""
        return self.post(
            url, data={"csrfmiddlewaretoken": self.csrf(), **data}, allow_redirects=False, **kwargs
        )


class _FormParser(HTMLParser):
    def __init__(self, action: str | None, form_id: str | None):
        super().__init__(convert_charrefs=True)
        self.action = action
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.select_chosen: list[str] = []
        self.select_first: str | None = None
        self.select_multiple = False
        self.option: str | None = None
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and not self.found:
            if (self.action is None or attributes.get("action", "") == self.action) and (
                self.form_id is None or attributes.get("id") == self.form_id
            ):
                self.inside = self.found = True
            return
        if not self.inside:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = (attributes.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.fields.append(
                (name, attributes.get("value") or ("on" if kind == "checkbox" else ""))
            )
        elif tag == "select" and name:
            self.select, self.select_chosen, self.select_first = name, [], None
            self.select_multiple = "multiple" in attributes
        elif tag == "option" and self.select is not None:
            value = attributes.get("value")
            self.option = value
            if value is not None and self.select_first is None:
                self.select_first = value
            if "selected" in attributes and value is not None:
                self.select_chosen.append(value)
        elif tag == "textarea" and name:
            self.textarea, self.text = name, []

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = self.select_chosen
            if not chosen and not self.select_multiple and self.select_first is not None:
                chosen = [self.select_first]
            self.fields += [(self.select, value) for value in chosen]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, "".join(self.text).removeprefix("\n")))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.text.append(data)


def form_fields(
    html: str, *, action: str | None = None, form_id: str | None = None
) -> list[tuple[str, str]]:
    """Return what the page's first form (posting to *action*, with id *form_id*) would submit.

    Buttons are left out: add the one pressed. Raise LookupError without such a form.
    """
    parser = _FormParser(action, form_id)
    parser.feed(html)
    if not parser.found:
        raise LookupError(f"no form (action {action!r}, id {form_id!r}) on the page")
    return parser.fields
