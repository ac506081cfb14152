"""The Kiswahili catalogue: complete, current, compiled (storefront/translations.py)."""

import shutil

import pytest

from storefront import translations

pytestmark = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="GNU gettext is not installed (make test installs it)"
)


def test_every_string_the_shop_shows_has_kiswahili():
    assert translations.problems() == []


@pytest.fixture
def catalogue_copy(tmp_path, monkeypatch):
    """Point the check at a copy of the catalogue that a test may spoil."""
    po, mo = tmp_path / "django.po", tmp_path / "django.mo"
    shutil.copy(translations.PO, po)
    shutil.copy(translations.MO, mo)
    monkeypatch.setattr(translations, "PO", po)
    monkeypatch.setattr(translations, "MO", mo)
    return po


def entries(po) -> list[str]:
    return po.read_text().split("\n\n")


def spoil(po, index: int, change) -> None:
    blocks = entries(po)
    blocks[index] = change(blocks[index])
    po.write_text("\n\n".join(blocks))
    translations.compile_catalogue(po, po.with_suffix(".mo"))


def test_the_check_finds_an_untranslated_entry(catalogue_copy):
    spoil(catalogue_copy, 1, lambda b: b[: b.index("msgstr")] + 'msgstr ""')
    assert any("1 untranslated" in line for line in translations.problems())


def test_the_check_finds_a_fuzzy_entry(catalogue_copy):
    spoil(catalogue_copy, 1, lambda b: "#, fuzzy\n" + b)
    assert any("1 fuzzy" in line for line in translations.problems())


def test_the_check_finds_a_string_missing_from_the_catalogue(catalogue_copy):
    blocks = entries(catalogue_copy)
    gone = blocks.pop(1)
    catalogue_copy.write_text("\n\n".join(blocks))
    translations.compile_catalogue(catalogue_copy, catalogue_copy.with_suffix(".mo"))
    msgid = gone.split('msgid "', 1)[1].split('"', 1)[0]
    found = translations.problems()
    assert any("not in the catalogue" in line for line in found)
    assert msgid in "\n".join(found)


def test_the_check_finds_a_stale_compiled_catalogue(catalogue_copy):
    blocks = entries(catalogue_copy)
    blocks[1] = blocks[1].rsplit("msgstr", 1)[0] + 'msgstr "Imebadilika"'
    catalogue_copy.write_text("\n\n".join(blocks))  # the .mo is not compiled again
    assert any("is not" in line and "compiled" in line for line in translations.problems())


def test_the_check_refuses_a_translation_that_drops_a_placeholder(catalogue_copy):
    text = catalogue_copy.read_text()
    start = text.index("#, python-format")
    block_end = text.index("\n\n", start)
    block = text[start:block_end]
    spoiled = block.rsplit("msgstr", 1)[0] + 'msgstr "Hakuna nafasi"'
    catalogue_copy.write_text(text[:start] + spoiled + text[block_end:])
    found = translations.problems()
    assert found and "msgfmt refused" in found[0]
