"""``make run``'s process runner (scripts/dev.py) stops everything it started.

Each test starts scripts/dev.py on free ports with a scratch SQLite
database, waits until the shop and the Daraja simulator answer over HTTP,
sends it a stop signal as a terminal or ``make`` would, and checks that no
process of its tree (runserver's autoreloader child included) is left and
that both ports can be listened on again.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="walks the process tree through /proc (Linux)"
)

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)([+-]\d{4}) [A-Z]+ (\S+) ", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def can_listen(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer, whatever its status
    except OSError:
        return False


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie holds nothing


def descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory):
    """The environment of ``make run`` with a migrated scratch database."""
    folder = tmp_path_factory.mktemp("dev")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "SQLITE_TEST", "TIME_ZONE"))
    }
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        MPESA_ENVIRONMENT="simulator",
        TZ="UTC",  # the machine's clock differs from the shop's
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )
    return env, folder


@pytest.fixture
def launch(dev_env):
    """Start a command as ``make run`` would be; kill what is left after the test."""
    base, folder = dev_env
    started: list[tuple[subprocess.Popen, set[int]]] = []

    def start(command: list[str]):
        port, simulator_port = free_port(), free_port()
        env = {
            **base,
            "PORT": str(port),
            "SIMULATOR_PORT": str(simulator_port),
            "MPESA_BASE_URL": f"http://127.0.0.1:{simulator_port}",
            "SITE_URL": f"http://127.0.0.1:{port}",
        }
        log = folder / f"run-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [part.format(port=port, simulator_port=simulator_port) for part in command],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, as in a terminal
            )
        seen: set[int] = set()
        started.append((process, seen))
        return process, (port, simulator_port), log, seen

    yield start
    for process, seen in started:
        for pid in seen | descendants(process.pid) | {process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)


@pytest.fixture
def dev(launch):
    """scripts/dev.py: (process, ports, log path, pids to clean up)."""
    return launch([sys.executable, "scripts/dev.py"])


def wait_until_serving(process, ports, log) -> None:
    port, simulator_port = ports
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        if answers(f"http://127.0.0.1:{port}/healthz") and answers(
            f"http://127.0.0.1:{simulator_port}/simulator"
        ):
            return
        time.sleep(0.3)
    pytest.fail(f"the shop and the simulator did not answer:\n{log.read_text()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_every_process_it_started_and_frees_the_ports(dev, signum):
    process, ports, log, seen = dev
    wait_until_serving(process, ports, log)
    tree = descendants(process.pid)
    seen |= tree
    children = {pid for pid in tree if stat(pid)[1] == str(process.pid)}
    assert len(children) == 4  # runserver, worker, scheduler, simulator
    assert tree - children, "runserver's autoreloader child is serving"
    for pid in children:  # each in a process group of its own
        assert os.getpgid(pid) == pid

    # Ctrl-C reaches the terminal's foreground group: here, dev.py alone.
    os.killpg(process.pid, signum)
    assert process.wait(timeout=30) == 0

    left = {pid for pid in tree if running(pid)}
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    assert all(can_listen(port) for port in ports)
    assert signal.Signals(signum).name in log.read_text()


def test_every_console_line_is_on_the_shops_clock(dev):
    process, ports, log, seen = dev
    wait_until_serving(process, ports, log)
    seen |= descendants(process.pid)
    os.killpg(process.pid, signal.SIGHUP)  # the terminal closed
    assert process.wait(timeout=30) == 0
    assert not any(running(pid) for pid in seen)

    lines = LINE.findall(log.read_text())
    offsets = {}
    for _moment, offset, logger in lines:
        offsets.setdefault(logger.split(".")[0], set()).add(offset)
    shop_zone = ZoneInfo(settings.TIME_ZONE)
    expected = datetime.now(shop_zone).strftime("%z")
    assert expected != "+0000"  # the test machine runs on UTC (TZ above)
    assert offsets["payments"] == {expected}  # the simulator
    assert offsets["django"] == {expected}  # runserver and its request lines
    assert offsets["django_tasks_db"] == {expected}  # the worker
    assert offsets["dev"] == {expected}
    newest = max(datetime.fromisoformat(m + o) for m, o, _ in lines)
    assert abs(datetime.now(shop_zone) - newest).total_seconds() < 300


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
@pytest.mark.parametrize("ctrl_c", [False, True], ids=["sigterm-to-make", "ctrl-c"])
def test_stopping_make_run_stops_everything(launch, ctrl_c):
    venv = Path(sys.executable).parent.parent.name
    process, ports, log, seen = launch(
        # Installs and the CSS are up to date; the database is migrated.
        ["make", "-s", "-o", f"{venv}/.installed-dev", "-o", f"{venv}/.installed", "-o", "css"]
        + ["run", "PORT={port}", "SIMULATOR_PORT={simulator_port}"]
    )
    wait_until_serving(process, ports, log)
    tree = descendants(process.pid)
    seen |= tree
    assert any(b"scripts/dev.py" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in tree)
    if ctrl_c:
        os.killpg(process.pid, signal.SIGINT)  # the terminal's foreground group
    else:
        process.send_signal(signal.SIGTERM)  # make alone
    process.wait(timeout=30)

    deadline = time.monotonic() + 30  # make may leave before dev.py has finished
    while time.monotonic() < deadline and any(running(pid) for pid in tree):
        time.sleep(0.2)
    left = {pid for pid in tree if running(pid)}
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    assert all(can_listen(port) for port in ports)


@pytest.mark.parametrize(("time_zone", "offset"), [("Africa/Nairobi", "+0300"), ("", "+0000")])
def test_the_simulator_logs_in_the_zone_named_by_time_zone(time_zone, offset):
    env = {key: value for key, value in os.environ.items() if key != "TIME_ZONE"}
    env.update(TZ="UTC", TIME_ZONE=time_zone)  # the machine's clock is UTC
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.simulator", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()
    finally:
        process.terminate()
        process.communicate(timeout=10)
    found = LINE.match(first)
    assert found, first
    assert found[2] == offset
    assert found[3] == "payments.simulator"
