"""Receivers: a new shopper gets a welcome email once they have signed up."""

from allauth.account.signals import user_signed_up
from django.db import transaction
from django.dispatch import receiver


@receiver(user_signed_up)
def welcome(sender, request, user, **kwargs):
    from .tasks import send_welcome_email

    user_id = user.pk
    transaction.on_commit(lambda: send_welcome_email.enqueue(user_id))
