"""The shop's own pages (terms, privacy, returns, delivery, contact, about).

Staff write the body as plain text in the admin. It is never trusted as
HTML: ``render_text`` escapes it and makes only paragraphs, ``## ``
headings, ``- `` lists and links of bare addresses out of it.

Each page has an English title, summary and text, and optionally a Kiswahili
one of each: shoppers reading in Kiswahili get every Kiswahili field that is
filled in, and the English one where it is blank (``Page.text_in``).
"""

import re
from dataclasses import dataclass

from django.db import models
from django.urls import reverse
from django.utils.html import escape, urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

#: The pages every shopper can reach from the footer; they can't be deleted.
CORE_PAGES = ("terms", "privacy", "returns", "delivery", "contact", "about")

_LIST_ITEM = re.compile(r"^\s*[-*•]\s+")


def _inline(text: str) -> str:
    """Escape one block's text and link its web and email addresses."""
    return urlize(escape(text), nofollow=True, autoescape=False)


def render_text(text: str) -> SafeString:
    """Return *text* as safe HTML: every character staff typed is escaped.

    Blank lines separate blocks. A block whose lines start with ``- `` (or
    ``* ``) is a list; a line starting with ``## `` is a heading; other
    blocks are paragraphs, their line breaks kept.
    """
    html: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if lines[0].startswith("## "):
            html.append(f"<h2>{_inline(lines.pop(0)[3:].strip())}</h2>")
            if not lines:
                continue
        if all(_LIST_ITEM.match(line) for line in lines):
            items = "".join(f"<li>{_inline(_LIST_ITEM.sub('', line))}</li>" for line in lines)
            html.append(f"<ul>{items}</ul>")
        else:
            html.append("<p>" + "<br>".join(_inline(line.strip()) for line in lines) + "</p>")
    return mark_safe("\n".join(html))  # noqa: S308 - every piece was escaped above


@dataclass(frozen=True)
class PageText:
    """A page's words as one language's reader sees them.

    ``title_language`` and ``body_language`` name the language of a field
    that fell back to English ("en"), and are blank when the field is in the
    language asked for.
    """

    title: str
    summary: str
    body: str
    title_language: str = ""
    body_language: str = ""

    @property
    def body_html(self) -> SafeString:
        return render_text(self.body)


class Page(models.Model):
    """A page of plain text staff keep up to date, at ``/pages/<slug>/``."""

    slug = models.SlugField(_("address"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=120)
    summary = models.CharField(
        _("summary"),
        max_length=200,
        blank=True,
        help_text=_("One sentence for search engines and link previews."),
    )
    body = models.TextField(
        _("text"),
        help_text=_(
            "Plain text, no HTML. A blank line starts a new paragraph; lines starting "
            "with “- ” make a list; a line starting with “## ” is a heading; web and "
            "email addresses become links."
        ),
    )
    title_sw = models.CharField(
        _("title in Kiswahili"),
        max_length=120,
        blank=True,
        help_text=_("Leave blank to show the English title to shoppers reading in Kiswahili."),
    )
    summary_sw = models.CharField(
        _("summary in Kiswahili"),
        max_length=200,
        blank=True,
        help_text=_("Leave blank to use the English summary."),
    )
    body_sw = models.TextField(
        _("text in Kiswahili"),
        blank=True,
        help_text=_(
            "Written like the English text. Leave blank to show the English text to "
            "shoppers reading in Kiswahili."
        ),
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("page")
        verbose_name_plural = _("pages")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("shop:page", kwargs={"slug": self.slug})

    @property
    def body_html(self) -> SafeString:
        return render_text(self.body)

    def text_in(self, language: str | None) -> PageText:
        """Return the page's words for a reader of *language* (a language code).

        Kiswahili readers get each Kiswahili field staff filled in and the
        English one where it is blank; every other language gets the English.
        """
        if (language or "").split("-")[0] != "sw":
            return PageText(self.title, self.summary, self.body)
        title, summary, body = self.title_sw.strip(), self.summary_sw.strip(), self.body_sw.strip()
        return PageText(
            title=title or self.title,
            summary=summary or self.summary,
            body=body or self.body,
            title_language="" if title else "en",
            body_language="" if body else "en",
        )
