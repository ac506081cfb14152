"""Run the development processes side by side; Ctrl-C stops them all.

The shop (runserver), the background task worker, the scheduler of the
periodic jobs, and the Daraja simulator when it is installed: the same
processes as the Procfile, for one laptop.

Each process starts in a session (and process group) of its own, and is
stopped by signalling its whole group: runserver's autoreloader serves from
a child process, which would otherwise keep the port. Ctrl-C, SIGTERM (GNU
make passes it on to the recipe), SIGHUP (the terminal closed) and the
death of the parent (``make`` killed) stop everything; what is still alive
after ``STOP_SECONDS`` is killed.

Every console line carries the shop's time with its offset: the shop's
processes from its settings, the simulator from ``TIME_ZONE`` passed here.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

logger = logging.getLogger("dev")


def shop_time_zone() -> str:
    """Return the shop's TIME_ZONE (loading its settings sets TZ here too)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    from django.conf import settings

    return settings.TIME_ZONE


def commands(python: str, port: str, simulator_port: str) -> dict[str, list[str]]:
    found = {
        "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [python, "manage.py", "worker"],
        "scheduler": [python, "manage.py", "scheduler"],
    }
    if (ROOT / "payments" / "simulator" / "__main__.py").exists():
        found["daraja-simulator"] = [
            python,
            "-m",
            "payments.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            simulator_port,
        ]
    return found


def signal_group(process: subprocess.Popen, signum: int) -> bool:
    """Send *signum* to the process group *process* leads; False when none is left."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return False
    return True


def group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader, so only live members count
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return _members_running(process.pid)


def _members_running(pgid: int) -> bool:
    """Whether a process of group *pgid* still runs (zombies hold no port)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_all(processes: dict[str, subprocess.Popen], timeout: float = STOP_SECONDS) -> None:
    """Stop every process group: SIGINT, then SIGKILL after *timeout* seconds."""
    for process in processes.values():
        signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(group_alive(process) for process in processes.values()):
            return
        time.sleep(0.1)
    for name, process in processes.items():
        if group_alive(process):
            logger.warning("%s did not stop in %ss; killing it", name, timeout)
            signal_group(process, signal.SIGKILL)
    for process in processes.values():
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.error("process %s could not be killed", process.pid)


def main() -> int:
    stop_requested: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: stop_requested.append(signum))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S%z",
    )
    parent = os.getppid()
    processes: dict[str, subprocess.Popen] = {}
    try:
        env = {**os.environ, "TIME_ZONE": shop_time_zone(), "PYTHONUNBUFFERED": "1"}
        port = os.environ.get("PORT", "8000")
        simulator_port = os.environ.get("SIMULATOR_PORT", "8001")
        for name, command in commands(sys.executable, port, simulator_port).items():
            if stop_requested:
                return 0
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        logger.info("Started: %s", ", ".join(processes))
        while not stop_requested:
            for name, process in processes.items():
                if process.poll() is not None:
                    logger.error("%s exited with %s; stopping.", name, process.returncode)
                    return process.returncode or 1
            if os.getppid() != parent:
                logger.info("The parent process is gone; stopping.")
                return 0
            time.sleep(0.2)
        logger.info("%s: stopping.", signal.Signals(stop_requested[0]).name)
        return 0
    finally:
        stop_all(processes)
        if processes:
            logger.info("Stopped: %s", ", ".join(processes))


if __name__ == "__main__":
    sys.exit(main())
