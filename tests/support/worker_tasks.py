"""Tasks for the worker tests, importable by a worker process.

``hold`` notes that it started, waits for a ``go`` file, then notes that it
finished: a test can kill its worker while it waits, and count how often
each step happened from the files.
"""

import time
from pathlib import Path

from django_tasks import task


@task()
def hold(folder: str, name: str, timeout: float = 60) -> str:
    here = Path(folder)
    with (here / "started").open("a") as log:
        log.write(f"{name}\n")
    deadline = time.monotonic() + timeout
    while not (here / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no go file in {folder}")
        time.sleep(0.05)
    with (here / "done").open("a") as log:
        log.write(f"{name}\n")
    return name
