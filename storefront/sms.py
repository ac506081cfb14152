"""Text messages to shoppers: one small interface, a backend chosen by settings.

``SMS_BACKEND`` names the class: ``storefront.sms.ConsoleBackend`` (the default:
the message goes to the log), ``storefront.sms.LocmemBackend`` (kept in
``storefront.sms.outbox``, for tests) or ``storefront.sms.AfricasTalkingBackend``
(the official ``africastalking`` SDK; needs ``AFRICASTALKING_USERNAME`` and
``AFRICASTALKING_API_KEY``, optional ``SMS_SENDER_ID``).
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

#: Messages "sent" by LocmemBackend, oldest first: (to, message).
outbox: list[tuple[str, str]] = []


class SmsError(Exception):
    """The provider refused or could not be reached; the message was not sent."""


class ConsoleBackend:
    def send(self, *, to: str, message: str) -> None:
        logger.info("SMS to %s: %s", to, message)


class LocmemBackend:
    def send(self, *, to: str, message: str) -> None:
        outbox.append((to, message))


class AfricasTalkingBackend:
    """Send through Africa's Talking's SMS API with their official SDK."""

    def __init__(self) -> None:
        import africastalking

        africastalking.initialize(settings.AFRICASTALKING_USERNAME, settings.AFRICASTALKING_API_KEY)
        self.service = africastalking.SMS

    def send(self, *, to: str, message: str) -> None:
        try:
            answer = self.service.send(
                message, [f"+{to}"], sender_id=settings.SMS_SENDER_ID or None
            )
        except Exception as error:  # the SDK raises bare Exceptions for API errors
            raise SmsError(str(error)) from error
        recipients = (answer or {}).get("SMSMessageData", {}).get("Recipients", [])
        if not recipients or recipients[0].get("status") != "Success":
            raise SmsError(f"Africa's Talking did not accept the message: {answer!r}")


def send_sms(*, to: str, message: str) -> None:
    """Send *message* to the normalised number *to* (``2547XXXXXXXX``)."""
    import_string(settings.SMS_BACKEND)().send(to=to, message=message)
