"""Check that the lock files pin everything the requirements files name.

    python scripts/check_lock.py [REQUIREMENTS=LOCK ...]

By default requirements.txt against requirements.lock and
requirements-dev.txt against requirements-dev.lock. A package named in a
requirements file (or in one it includes with ``-r``) must be pinned in its
lock at a version the requirement allows, and a package both locks pin must
have the same version in each: otherwise the lock is stale and
``make lock`` writes it again. Exit status 1 lists every problem.
"""

import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (
    ("requirements.txt", "requirements.lock"),
    ("requirements-dev.txt", "requirements-dev.lock"),
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def requirements(path: Path) -> list[Requirement]:
    """Return the requirements *path* names, following ``-r`` includes."""
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += requirements(path.parent / line.split(None, 1)[1])
        elif not line.startswith("-"):
            found.append(Requirement(line))
    return found


def pins(path: Path) -> dict[str, str]:
    """Return {canonical name: version} of the ``name==version`` lines of a lock."""
    return {
        canonicalize_name(match[1]): match[2]
        for match in map(PIN.match, path.read_text().splitlines())
        if match
    }


def problems(pairs) -> list[str]:
    found = []
    locked = {}
    for requirements_file, lock_file in pairs:
        lock_path = ROOT / lock_file
        if not lock_path.exists():
            found.append(f"{lock_file} is missing")
            continue
        locked[lock_file] = pins(lock_path)
        for requirement in requirements(ROOT / requirements_file):
            name = canonicalize_name(requirement.name)
            version = locked[lock_file].get(name)
            if version is None:
                found.append(
                    f"{requirements_file} names {requirement.name}, which {lock_file} doesn't pin"
                )
            elif not requirement.specifier.contains(version, prereleases=True):
                found.append(
                    f"{requirements_file} asks for {requirement}, but {lock_file} pins {version}"
                )
    names = list(locked)
    for other in names[1:]:
        first = locked[names[0]]
        for name in sorted(first.keys() & locked[other].keys()):
            if first[name] != locked[other][name]:
                found.append(
                    f"{name} is {first[name]} in {names[0]} but {locked[other][name]} in {other}"
                )
    return found


def main(argv: list[str]) -> int:
    pairs = [tuple(arg.split("=", 1)) for arg in argv] or PAIRS
    found = problems(pairs)
    for problem in found:
        print(f"stale lock: {problem}", file=sys.stderr)
    if found:
        print("Run `make lock` to write the lock files again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
