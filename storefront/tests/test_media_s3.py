"""Media on S3-compatible storage: uploads, thumbnails, avatars and the demo.

Every test here talks HTTP to a real S3 API server (moto's, started by
``tests.support.s3``); the shop's code goes through django-storages exactly
as it would with Amazon S3, R2, Spaces or MinIO.
"""

import io
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image
from sorl.thumbnail.models import KVStore as ThumbnailRecord

from accounts.tests.factories import UserFactory, image_upload
from shop.models import ProductImage
from shop.tests.factories import make_product
from tests.support.s3 import create_bucket, media_env, s3_client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CACHE_CONTROL = "public, max-age=31536000, immutable"


def fetch(url: str) -> tuple[int, str, bytes]:
    """GET *url* as a browser would (no credentials); status, type, body."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def img_sources(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', html)


def jpeg(size=(900, 600), colour="#0a5cd5", name="phone.jpg") -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return ContentFile(buffer.getvalue(), name=name)


def uploaded_jpeg(**kwargs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = jpeg(**kwargs)
    return SimpleUploadedFile(content.name, content.read(), content_type="image/jpeg")


def admin_form_data(response) -> dict:
    """Return the POST data of an admin change page as the browser would send it."""
    forms = [response.context["adminform"].form]
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms += inline.formset.forms
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or hasattr(field.widget, "clear_checkbox_name"):
                continue
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            elif isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(item) for item in value]
            else:
                data[form.add_prefix(name)] = value
    return data


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)
    return client


# Uploads ---------------------------------------------------------------------


def test_staff_upload_of_a_product_image_lands_in_the_bucket(staff_client, s3_media):
    product = make_product(name="Tecno Spark 20", image=False)
    change_url = reverse("admin:shop_product_change", args=[product.pk])
    data = admin_form_data(staff_client.get(change_url))
    data.update(
        {
            "images-TOTAL_FORMS": "1",
            "images-0-image": uploaded_jpeg(name="Spark 20 front.jpg"),
            "images-0-alt": "Tecno Spark 20, front",
            "images-0-is_primary": "on",
            "images-0-sort_order": "0",
        }
    )

    response = staff_client.post(change_url, data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][1].formset.forms
    ]
    image = ProductImage.objects.get(product=product)
    assert image.image.name.startswith("products/")
    assert s3_media.keys("products/") == [s3_media.key(image.image.name)]
    head = s3_media.head(image.image.name)
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == CACHE_CONTROL
    # The admin's preview link is the bucket's URL, and it opens.
    page = staff_client.get(change_url).content.decode()
    assert f'href="{image.image.url}"' in page
    assert image.image.url.startswith(f"{s3_media.endpoint}/{s3_media.bucket}/media/products/")
    status, content_type, body = fetch(image.image.url)
    assert (status, content_type) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(body)).size == (900, 600)


def test_a_file_of_the_same_name_never_replaces_another(s3_media):
    first = default_storage.save("products/phone.jpg", jpeg(colour="#000000"))
    second = default_storage.save("products/phone.jpg", jpeg(colour="#ffffff"))

    assert first == "products/phone.jpg"
    assert second != first
    assert s3_media.keys("products/") == sorted([s3_media.key(first), s3_media.key(second)])
    assert fetch(default_storage.url(first))[2] != fetch(default_storage.url(second))[2]


# Thumbnails --------------------------------------------------------------------


def test_listing_and_product_page_show_thumbnails_from_the_bucket(client, s3_media):
    product = make_product(name="Galaxy A15", image=False)
    ProductImage.objects.create(product=product, image=jpeg(), is_primary=True)
    ProductImage.objects.create(product=product, image=jpeg(colour="#ff6900"), sort_order=1)
    bucket_url = f"{s3_media.endpoint}/{s3_media.bucket}/media/cache/"

    listing = img_sources(client.get(reverse("shop:product-list")).content.decode())
    detail = img_sources(client.get(product.get_absolute_url()).content.decode())

    assert listing and detail
    thumbnails = set(listing + detail)
    assert all(url.startswith(bucket_url) and url.endswith(".webp") for url in thumbnails)
    sizes = set()
    for url in thumbnails:
        status, content_type, body = fetch(url)
        assert (status, content_type) == (200, "image/webp")
        with Image.open(io.BytesIO(body)) as picture:
            assert picture.format == "WEBP"
            sizes.add(picture.size)
    assert (320, 320) in sizes and (640, 640) in sizes and (80, 80) in sizes
    # Search engines get the original pictures' bucket URLs.
    page = client.get(product.get_absolute_url()).content.decode()
    assert product.images.first().image.url in page
    for key in s3_media.keys("cache/"):
        head = s3_media.client.head_object(Bucket=s3_media.bucket, Key=key)
        assert head["CacheControl"] == CACHE_CONTROL


def test_another_instance_finds_the_thumbnails_without_making_them_again(client, s3_media):
    """sorl's records live in the database, shared by every web instance.

    Another instance has its own (empty) cache; it must find the thumbnail
    that this one made, not 404 it or write it again.
    """
    assert django_settings.THUMBNAIL_KVSTORE == "sorl.thumbnail.kvstores.cached_db_kvstore.KVStore"
    assert django_settings.THUMBNAIL_STORAGE == "default"
    product = make_product(name="Galaxy A25", image=False)
    ProductImage.objects.create(product=product, image=jpeg(), is_primary=True)
    first = img_sources(client.get(product.get_absolute_url()).content.decode())
    made = s3_media.keys("cache/")
    assert made and ThumbnailRecord.objects.exists()

    from django.core.cache import cache

    cache.clear()  # what another process has: no cache, the same database
    second = img_sources(client.get(product.get_absolute_url()).content.decode())

    assert second == first
    assert s3_media.keys("cache/") == made


def test_thumbnail_urls_use_the_custom_domain(client, s3_media):
    # The "CDN" here is the moto server itself, reached by host and bucket path.
    domain = f"{s3_media.endpoint.removeprefix('http://')}/{s3_media.bucket}"
    s3_media.configure(AWS_S3_CUSTOM_DOMAIN=domain, AWS_S3_URL_PROTOCOL="http:")
    product = make_product(name="Nokia 105", image=False)
    ProductImage.objects.create(product=product, image=jpeg(), is_primary=True)

    sources = img_sources(client.get(product.get_absolute_url()).content.decode())

    assert sources
    for url in sources:
        assert url.startswith(f"http://{domain}/media/cache/")
        assert fetch(url)[:2] == (200, "image/webp")


# Avatars -----------------------------------------------------------------------


def test_an_avatar_upload_lands_in_the_bucket_and_resizes(
    client, s3_media, django_capture_on_commit_callbacks
):
    shopper = UserFactory()
    client.force_login(shopper)

    response = client.post(
        reverse("accounts:profile"),
        {
            "first_name": "Wanjiku",
            "last_name": "Kamau",
            "phone": "",
            "avatar": image_upload("PNG", size=(1200, 900)),
        },
    )

    assert response.status_code == 302
    shopper.refresh_from_db()
    assert s3_media.keys("avatars/") == [s3_media.key(shopper.avatar.name)]
    assert shopper.avatar.url.startswith(f"{s3_media.endpoint}/{s3_media.bucket}/media/avatars/")
    assert fetch(shopper.avatar.url)[:2] == (200, "image/png")
    # The profile page shows a 160 px copy, made in the bucket.
    page = client.get(reverse("accounts:profile")).content.decode()
    small = re.search(r'<img src="([^"]+)" alt="Your profile photo"', page).group(1)
    assert small.startswith(f"{s3_media.endpoint}/{s3_media.bucket}/media/cache/")
    with Image.open(io.BytesIO(fetch(small)[2])) as picture:
        assert picture.size == (160, 160)

    # A new photo replaces the old one, whose object goes once that commits.
    old = shopper.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("accounts:profile"),
            {"first_name": "W", "last_name": "K", "phone": "", "avatar": image_upload("JPEG")},
        )
    shopper.refresh_from_db()
    assert s3_media.keys("avatars/") == [s3_media.key(shopper.avatar.name)]
    assert shopper.avatar.name != old


# The demo catalogue ----------------------------------------------------------------


def test_seed_demo_puts_its_pictures_in_the_bucket(client, s3_media):
    call_command("seed_demo", no_staff=True, stdout=io.StringIO())

    names = set(ProductImage.objects.values_list("image", flat=True))
    assert names
    assert set(s3_media.keys("products/")) == {s3_media.key(name) for name in names}
    call_command("seed_demo", no_staff=True, stdout=io.StringIO())  # idempotent
    assert len(s3_media.keys("products/")) == len(names)
    sources = img_sources(client.get("/").content.decode())
    assert sources and all(url.startswith(s3_media.endpoint) for url in sources)
    assert fetch(sources[0])[:2] == (200, "image/webp")


# Settings ------------------------------------------------------------------------


def run_settings(code: str, **env_overrides) -> subprocess.CompletedProcess:
    """Run *code* after ``django.setup()`` with production-like variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MEDIA_")) and key != "DEBUG"
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="shop.example.co.ke",
        DJANGO_SETTINGS_MODULE="storefront.settings",
    )
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_s3_without_a_bucket_stops_start_up():
    result = run_settings("", MEDIA_STORAGE="s3", AWS_S3_ENDPOINT_URL="https://example.com")
    assert result.returncode != 0
    assert "ImproperlyConfigured: MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_an_unknown_media_storage_stops_start_up():
    result = run_settings("", MEDIA_STORAGE="gcs")
    assert result.returncode != 0
    assert "ImproperlyConfigured: MEDIA_STORAGE='gcs' is not one of local, s3" in result.stderr


def test_media_stay_on_local_disk_by_default():
    result = run_settings(
        "from django.conf import settings as s; "
        "print(s.STORAGES['default']['BACKEND'], s.MEDIA_URL, s.SERVE_MEDIA)",
        SERVE_MEDIA="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.files.storage.FileSystemStorage",
        "/media/",
        "True",
    ]


def test_the_environment_puts_media_in_the_bucket(s3_endpoint):
    """MEDIA_STORAGE=s3 and the AWS_* variables alone configure everything."""
    create_bucket(s3_endpoint, "shop-media")
    result = run_settings(
        "from django.conf import settings as s; "
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage as d; "
        "name = d.save('products/x.txt', ContentFile(b'hello')); "
        "print(d.url(name), s.MEDIA_URL, s.SERVE_MEDIA)",
        **media_env(s3_endpoint, "shop-media"),
        AWS_LOCATION="shop/media",
        SERVE_MEDIA="1",
    )

    assert result.returncode == 0, result.stderr
    url, media_url, serve_media = result.stdout.split()
    assert url == f"{s3_endpoint}/shop-media/shop/media/products/x.txt"
    assert media_url == f"{s3_endpoint}/shop-media/shop/media/"
    assert serve_media == "False"
    head = s3_client(s3_endpoint).head_object(Bucket="shop-media", Key="shop/media/products/x.txt")
    assert head["CacheControl"] == CACHE_CONTROL
    assert fetch(url)[2] == b"hello"


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"AWS_S3_REGION_NAME": "eu-west-1", "AWS_S3_ADDRESSING_STYLE": "path"},
        {"AWS_S3_REGION_NAME": "eu-west-1", "AWS_S3_ADDRESSING_STYLE": "virtual"},
        {
            "AWS_S3_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com",
            "AWS_S3_REGION_NAME": "auto",
        },
        {"AWS_S3_ENDPOINT_URL": "https://fra1.digitaloceanspaces.com/", "AWS_LOCATION": "/"},
        {
            "AWS_S3_ENDPOINT_URL": "https://fra1.digitaloceanspaces.com",
            "AWS_S3_ADDRESSING_STYLE": "virtual",
        },
        {"AWS_S3_ENDPOINT_URL": "http://minio.internal:9000", "AWS_S3_ADDRESSING_STYLE": "path"},
        {"AWS_S3_CUSTOM_DOMAIN": "media.duka.example"},
    ],
    ids=[
        "amazon",
        "amazon-path",
        "amazon-virtual",
        "r2",
        "spaces-root",
        "spaces-virtual",
        "minio",
        "cdn",
    ],
)
def test_media_url_is_where_the_storage_urls_start(variables):
    """MEDIA_URL (and so the CSP's img-src) matches the URLs pictures get."""
    result = run_settings(
        "from django.conf import settings as s; "
        "from django.core.files.storage import default_storage as d; "
        "print(s.MEDIA_URL, d.url('products/x.jpg'))",
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="duka-media",
        # Keys given, so boto3 looks for none on the machine; no request is sent.
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
        **variables,
    )

    assert result.returncode == 0, result.stderr
    media_url, url = result.stdout.split()
    assert url == f"{media_url}products/x.jpg"
    assert media_url.endswith("/duka-media/" if "AWS_LOCATION" in variables else "/media/")
