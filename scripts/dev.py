"""Run the development processes side by side; Ctrl-C stops them all.

The shop (runserver), the background task worker, the scheduler of the
periodic jobs, and the Daraja simulator when it is installed: the same
processes as the Procfile, for one laptop.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
python = sys.executable
port = os.environ.get("PORT", "8000")
simulator_port = os.environ.get("SIMULATOR_PORT", "8001")

commands = {
    "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
    "worker": [python, "manage.py", "worker"],
    "scheduler": [python, "manage.py", "scheduler"],
}
if (ROOT / "payments" / "simulator" / "__main__.py").exists():
    commands["daraja-simulator"] = [
        python,
        "-m",
        "payments.simulator",
        "--host",
        "127.0.0.1",
        "--port",
        simulator_port,
    ]


def main() -> int:
    processes = {name: subprocess.Popen(command, cwd=ROOT) for name, command in commands.items()}
    print(f"Started: {', '.join(processes)}", flush=True)
    try:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping.", flush=True)
                    return process.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
