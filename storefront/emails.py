"""Emails in the shop's style: every message has a text and an HTML part.

``templates/emails/<name>.txt`` is the text part (the first line is the
subject); ``templates/emails/<name>.html`` the HTML part, which extends
``emails/_base.html``. Both get the same context plus ``SITE_NAME`` and
``SITE_URL``. They are written in the recipient's *language* (the shop's
default when none is given): an order's, or the account's.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Return (subject, text, html) of email *name* rendered with *context*."""
    context = {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **context}
    subject, _, text = render_to_string(f"emails/{name}.txt", context).partition("\n")
    html = render_to_string(f"emails/{name}.html", context)
    return " ".join(subject.split()), text.lstrip("\n"), html


def send_email(name: str, *, to: list[str], context: dict, language: str | None = None) -> None:
    """Send email *name* to *to*, written in *language*."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject, text, html = render_email(name, context)
    message = EmailMultiAlternatives(subject, text, None, to)
    message.attach_alternative(html, "text/html")
    message.send()
