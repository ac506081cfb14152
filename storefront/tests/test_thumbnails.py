"""The thumbnail backend remembers, per process, the thumbnails it found."""

from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from sorl.thumbnail import default, delete, get_thumbnail
from sorl.thumbnail.images import ImageFile

from shop.models import ProductImage
from shop.tests.factories import make_product, tiny_jpeg
from storefront import thumbnails

pytestmark = pytest.mark.django_db


@pytest.fixture
def picture():
    product = make_product(image=False)
    return ProductImage.objects.create(product=product, image=tiny_jpeg(), is_primary=True)


def _lookups():
    """Spy on sorl's key-value store: each call is a round trip to the cache."""
    return mock.patch.object(default.kvstore, "get", wraps=default.kvstore.get)


def test_a_thumbnail_found_once_is_served_again_without_a_lookup(picture):
    first = get_thumbnail(picture.image, "320x320", crop="center")
    assert first.size == [320, 320]
    with _lookups() as lookups:
        again = get_thumbnail(picture.image, "320x320", crop="center")
    assert lookups.call_count == 0
    assert (again.url, again.size) == (first.url, first.size)
    # Another size or option is another thumbnail.
    with _lookups() as lookups:
        other = get_thumbnail(picture.image, "100x100", crop="center")
    assert lookups.call_count >= 1
    assert other.url != first.url


def test_a_deleted_source_is_forgotten(picture):
    first = get_thumbnail(picture.image, "320x320", crop="center")
    delete(picture.image, delete_file=False)
    with _lookups() as lookups:
        again = get_thumbnail(picture.image, "320x320", crop="center")
    assert lookups.call_count >= 1
    assert again.url == first.url


def test_a_missing_source_is_asked_again_each_time(picture):
    picture.image.storage.delete(picture.image.name)
    get_thumbnail(picture.image, "320x320", crop="center")
    with _lookups() as lookups:
        get_thumbnail(picture.image, "320x320", crop="center")
    assert lookups.call_count >= 1


def test_the_same_name_in_another_media_folder_is_another_thumbnail(tmp_path):
    here = FileSystemStorage(location=tmp_path / "a", base_url="/media/")
    there = FileSystemStorage(location=tmp_path / "b", base_url="/media/")
    name = "products/phone.jpg"
    assert thumbnails._key(ImageFile(name, here), "320x320", {}) != thumbnails._key(
        ImageFile(name, there), "320x320", {}
    )
