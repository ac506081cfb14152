"""Profile photos: what counts as an acceptable avatar, and where it is stored."""

import uuid
import warnings
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
# Pillow's format name -> the extension the stored file gets.
ALLOWED_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
ACCEPT = "image/jpeg,image/png,image/webp"

NOT_AN_IMAGE = _("That file is not a photo we can read. Upload a JPEG, PNG or WebP image.")
WRONG_TYPE = _("%(format)s images are not accepted. Upload a JPEG, PNG or WebP image.")
TOO_BIG = _("Your photo is %(size)s; the limit is %(limit)s. Upload a smaller one.")
TOO_LARGE = _("Your photo is larger than %(max)s×%(max)s pixels. Upload a smaller one.")


def validate_avatar(file) -> str:
    """Check an uploaded avatar and return its Pillow format name.

    Check the size before decoding anything, then let Pillow identify the
    content (the file name and the browser's content type are not trusted),
    then the dimensions from the header, then the file's integrity. Raise
    ValidationError with a message for the shopper; leave the file rewound.
    """
    if file.size > MAX_BYTES:
        raise ValidationError(
            TOO_BIG,
            code="file_too_big",
            params={"size": filesizeformat(file.size), "limit": filesizeformat(MAX_BYTES)},
        )
    try:
        file.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                image_format = image.format
                width, height = image.size
                if image_format in ALLOWED_FORMATS and max(width, height) <= MAX_SIDE:
                    image.verify()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ValidationError(TOO_LARGE, code="image_too_large", params={"max": MAX_SIDE}) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(NOT_AN_IMAGE, code="not_an_image") from exc
    finally:
        file.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(WRONG_TYPE, code="wrong_type", params={"format": image_format})
    if max(width, height) > MAX_SIDE:
        raise ValidationError(TOO_LARGE, code="image_too_large", params={"max": MAX_SIDE})
    return image_format


def avatar_upload_to(instance, filename: str) -> str:
    """Return a random name under ``avatars/``, keeping only the extension.

    The shopper's own file name ("IMG_20240101_home.jpg") is not kept: it can
    say more than it should, and random names cannot be guessed.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix not in ALLOWED_FORMATS.values():
        suffix = ".img"
    return f"avatars/{uuid.uuid4().hex}{suffix}"
