"""Factories and image helpers for account tests."""

import io
import random

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Address, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    first_name = "Wanjiku"
    last_name = "Kamau"
    password = factory.django.Password(PASSWORD)


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    recipient_name = factory.Sequence(lambda n: f"Recipient {n}")
    phone = "254712345678"
    county = 47
    town = "Westlands"
    street = "Mpaka Road, Apple Court, flat 4B"
    notes = "Opposite the petrol station"


def image_upload(
    fmt: str = "JPEG",
    size: tuple[int, int] = (64, 64),
    name: str | None = None,
    mode: str = "RGB",
    noise: bool = False,
) -> SimpleUploadedFile:
    """Return an uploaded file holding a real image in format *fmt*."""
    if noise:
        # Random pixels do not compress: the file is about width×height×3 bytes.
        pixels = random.Random(47).randbytes(size[0] * size[1] * 3)
        image = Image.frombytes("RGB", size, pixels)
    else:
        image = Image.new(mode, size, "#2f855a" if mode == "RGB" else 1)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    extension = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    return SimpleUploadedFile(
        name or f"photo.{extension}", buffer.getvalue(), content_type=f"image/{extension}"
    )
