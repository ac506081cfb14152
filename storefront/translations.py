"""The Kiswahili catalogue of the shop's own strings.

``locale/sw/LC_MESSAGES/django.po`` holds every string the shop marks for
translation (templates, forms, messages, emails, texts); ``django.mo`` beside
it is its compiled form, committed so that a deploy needs no gettext tools.

    make messages     # = python -m storefront.translations update
                      #   extract new and changed strings, then compile
    python -m storefront.translations check
                      # what the test suite checks (storefront/tests/test_translations.py)
    python -m storefront.translations part OUT.po PATH...
                      # the strings of some files only, to translate on their own
    python -m storefront.translations merge PART.po...
                      # fold translated parts into the catalogue, then update

The check fails on an untranslated or fuzzy entry, on a string the code uses
that the catalogue lacks (or one it keeps that the code no longer uses), on
placeholders that differ between English and Kiswahili, and on a ``.mo`` that
is not the compiled ``.po``. It needs GNU gettext (``make test`` installs it).
"""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "sw"
CATALOGUE = Path("locale") / LANGUAGE / "LC_MESSAGES" / "django.po"
PO = ROOT / CATALOGUE
MO = PO.with_suffix(".mo")
# The shop's own code: not its tests, tools, simulators of outside services or
# third-party packages.
SOURCES = ["accounts", "payments", "shop", "storefront", "templates"]
IGNORE = ["*/tests/*", "*/tests", "payments/simulator/*", "*/migrations/*", "*/__pycache__/*"]


@contextmanager
def _within(directory: Path):
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def _makemessages(root: Path) -> None:
    """Extract the strings under *root* into *root*/locale (merging what is there)."""
    from django.core.management import call_command
    from django.core.management.commands.makemessages import Command
    from django.test.utils import override_settings

    class Makemessages(Command):
        # A new string starts untranslated, never as a guess from a similar one.
        msgmerge_options = [*Command.msgmerge_options, "--no-fuzzy-matching"]

    with _within(root), override_settings(LOCALE_PATHS=[root / "locale"]):
        call_command(
            Makemessages(),
            locale=[LANGUAGE],
            no_obsolete=True,
            add_location="file",
            ignore_patterns=IGNORE + [p + "/*" for p in _others(root)],
            verbosity=0,
        )


def _others(root: Path) -> list[str]:
    """Top-level entries of *root* that are not the shop's own sources."""
    return sorted(p.name for p in root.iterdir() if p.name not in SOURCES and p.name != "locale")


def compile_catalogue(po: Path = PO, mo: Path = MO) -> str:
    """Compile *po* into *mo* with msgfmt (format strings checked); return its statistics."""
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(mo), str(po)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"msgfmt refused {po}:\n{done.stderr}")
    return done.stderr.strip()


def update() -> str:
    """Extract the shop's strings into the catalogue and compile it."""
    _makemessages(ROOT)
    return compile_catalogue()


def _fresh_extract() -> Path:
    """Extract the shop's strings from a copy of its sources into a new catalogue."""
    copy = Path(tempfile.mkdtemp(prefix="catalogue-"))
    ignored = shutil.ignore_patterns("tests", "__pycache__", "migrations", "simulator")
    for name in SOURCES:
        shutil.copytree(ROOT / name, copy / name, ignore=ignored)
    (copy / "locale").mkdir()
    _makemessages(copy)
    return copy


def fragment(out: Path, paths: list[str]) -> None:
    """Extract the strings of *paths* (relative to the checkout) into the catalogue *out*.

    Translations already in *out* are kept (msgmerge). For translating one part of
    the shop on its own; ``merge`` folds such parts into the shop's catalogue.
    """
    copy = Path(tempfile.mkdtemp(prefix="catalogue-part-"))
    try:
        for name in paths:
            source, target = ROOT / name, copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("tests"))
            else:
                shutil.copy2(source, target)
        (copy / "locale").mkdir()
        _makemessages(copy)
        extracted = copy / CATALOGUE
        if out.exists():
            subprocess.run(
                [
                    "msgmerge",
                    "--quiet",
                    "--no-fuzzy-matching",
                    "--update",
                    "--backup=none",
                    str(out),
                    str(extracted),
                ],
                check=True,
            )
            subprocess.run(["msgattrib", "--no-obsolete", "-o", str(out), str(out)], check=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(extracted, out)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def merge(parts: list[Path]) -> str:
    """Fold translated *parts* into the shop's catalogue (a part's translation
    wins over the catalogue's), extract again and compile."""
    joined = subprocess.run(
        ["msgcat", "--use-first", *map(str, parts), str(PO)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header = PO.read_text().split("\n\n", 1)[0]  # the catalogue's own header stays
    PO.write_text(header + "\n\n" + joined.split("\n\n", 1)[1])
    return update()


def msgids(po: Path) -> set[str]:
    """Return the messages of catalogue *po*: each msgid, after its msgctxt and a "|"
    when it has one (obsolete entries and the header left out)."""
    found = set()
    for block in po.read_text().split("\n\n"):
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            if keyword in ("msgctxt", "msgid"):
                current = keyword
                fields[current] = _unquote(rest)
            elif line.startswith('"') and current:
                fields[current] += _unquote(line)
            else:
                current = None
        if fields.get("msgid"):
            found.add(
                f"{fields['msgctxt']}|{fields['msgid']}" if "msgctxt" in fields else fields["msgid"]
            )
    return found


def _unquote(text: str) -> str:
    return ast.literal_eval(text.strip())


def _catalog(mo: Path) -> dict:
    with open(mo, "rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)


_STATS = re.compile(r"(\d+) (translated|fuzzy|untranslated)")


def problems() -> list[str]:
    """Return what is wrong with the catalogue (empty when it is complete and current)."""
    found: list[str] = []
    if not PO.exists():
        return [f"{CATALOGUE} is missing: run `make messages` and translate it"]
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "django.mo"
        try:
            statistics = compile_catalogue(PO, compiled)
        except RuntimeError as error:
            return [str(error)]
        counts = {kind: int(n) for n, kind in _STATS.findall(statistics)}
        for kind in ("fuzzy", "untranslated"):
            if counts.get(kind):
                found.append(f"{PO}: {counts[kind]} {kind} ({statistics})")
        if not MO.exists() or _catalog(MO) != _catalog(compiled):
            found.append(f"{MO} is not {PO} compiled: run `make messages`")
    copy = _fresh_extract()
    try:
        used, kept = msgids(copy / CATALOGUE), msgids(PO)
        for msgid in sorted(used - kept):
            found.append(f"not in the catalogue (run `make messages`): {msgid!r}")
        for msgid in sorted(kept - used):
            found.append(f"no longer used (run `make messages`): {msgid!r}")
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return found


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        sys.stdout.write(update() + "\n")
        found = problems()
    elif command == "check":
        found = problems()
    elif command == "part" and len(argv) > 3:
        fragment(Path(argv[2]), argv[3:])
        found = []
    elif command == "merge" and len(argv) > 2:
        sys.stdout.write(merge([Path(a) for a in argv[2:]]) + "\n")
        found = []
    else:
        sys.stderr.write(
            "usage: python -m storefront.translations update | check"
            " | part OUT.po PATH... | merge PART.po...\n"
        )
        return 2
    for line in found:
        sys.stderr.write(line + "\n")
    return 1 if found and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
