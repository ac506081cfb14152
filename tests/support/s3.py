"""A real S3 API server for tests, and the shop's media pointed at it.

``s3_server()`` starts moto's standalone server (``python -m moto.server``)
on a free 127.0.0.1 port and yields its endpoint URL; ``create_bucket()``
makes a bucket there whose objects anyone may GET, as a shop's media bucket
is. Both work outside pytest and outside Django, e.g. to give several shop
instances one bucket::

    with s3_server() as endpoint:
        create_bucket(endpoint, "media")
        env = {**os.environ, **media_env(endpoint, "media")}
        ...  # start gunicorn with env=env, twice

The pytest fixtures ``s3_endpoint`` (one server per test session) and
``s3_media`` (a fresh bucket for one test, the shop's settings pointed at
it) are registered by ``storefront/tests/conftest.py``; another conftest
registers them with ``from tests.support.s3 import s3_endpoint, s3_media``.
"""

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.config import Config

# moto accepts any credentials; these are what the shop and the tests send.
ACCESS_KEY_ID = "test-access-key"
SECRET_ACCESS_KEY = "test-secret-key"
REGION = "us-east-1"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@contextlib.contextmanager
def s3_server(*, host: str = "127.0.0.1", timeout: float = 30.0) -> Iterator[str]:
    """Run moto's S3 server on a free port of *host*; yield its endpoint URL.

    The endpoint looks like ``http://127.0.0.1:41234`` (no trailing slash) and
    takes any credentials (see ``ACCESS_KEY_ID``). The server keeps its
    buckets in memory and is stopped on leaving the block. Raise
    RuntimeError, with the server's output, if it does not answer within
    *timeout* seconds.
    """
    port = _free_port(host)
    endpoint = f"http://{host}:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _answers(f"{endpoint}/moto-api/"):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"moto's S3 server did not start on {endpoint} "
                        f"(exit code {process.poll()}):\n{log.read()[-2000:]}"
                    )
                time.sleep(0.1)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def s3_client(endpoint: str):
    """Return a boto3 S3 client for the server at *endpoint*."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )


def create_bucket(endpoint: str, name: str, *, public: bool = True) -> None:
    """Create bucket *name* on the server at *endpoint*.

    With *public* (the default) a bucket policy lets anyone GET its objects,
    as a shop's media bucket does, so unsigned media URLs open in a browser.
    """
    client = s3_client(endpoint)
    client.create_bucket(Bucket=name)
    if public:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{name}/*",
                }
            ],
        }
        client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def media_env(endpoint: str, bucket: str) -> dict[str, str]:
    """Return the environment variables that put a shop's media in *bucket*."""
    return {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


@dataclass
class S3Media:
    """The bucket a test's media go to, and a client to look into it."""

    endpoint: str
    bucket: str
    location: str  # the key prefix of media, settings.AWS_LOCATION
    client: object
    settings: object = field(repr=False)  # pytest-django's settings fixture

    def configure(self, **values) -> None:
        """Change media settings for this test (e.g. ``AWS_S3_CUSTOM_DOMAIN``).

        The storage reads its settings when made: make it anew with these.
        """
        for name, value in values.items():
            setattr(self.settings, name, value)
        self.settings.STORAGES = {**self.settings.STORAGES}
        _forget_thumbnail_storage()

    def keys(self, prefix: str = "") -> list[str]:
        """Return the bucket's keys under *prefix* (after the media prefix)."""
        full = f"{self.location}/{prefix}" if self.location else prefix
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=full)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def key(self, name: str) -> str:
        """Return the bucket key of the stored file *name* (``products/x.jpg``)."""
        return f"{self.location}/{name}" if self.location else name

    def head(self, name: str) -> dict:
        """Return the metadata of the stored file *name*."""
        return self.client.head_object(Bucket=self.bucket, Key=self.key(name))


def _forget_thumbnail_storage() -> None:
    # sorl keeps, for the life of the process, the storage it resolved from
    # STORAGES["default"] and the one each stored thumbnail record names
    # (Django's own handles are reset when the setting changes; sorl's are not).
    from django.utils.functional import empty
    from sorl.thumbnail import default
    from sorl.thumbnail.images import get_or_create_storage

    default.storage._wrapped = empty
    get_or_create_storage.cache_clear()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One moto S3 server for the test session; its endpoint URL."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_media(settings, s3_endpoint) -> Iterator[S3Media]:
    """Put the shop's media in a fresh public bucket for one test.

    Set what ``MEDIA_STORAGE=s3`` with ``media_env()``'s variables sets: the
    default storage (uploads, and sorl-thumbnail's thumbnails) becomes
    django-storages' S3Storage on the bucket; the rest of the media settings
    (key prefix, no overwriting, Cache-Control, unsigned URLs) stay those of
    storefront/settings.py.
    """
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    for name, value in media_env(s3_endpoint, bucket).items():
        setattr(settings, name, value)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    }
    settings.MEDIA_URL = f"{s3_endpoint}/{bucket}/{settings.AWS_LOCATION}/"
    _forget_thumbnail_storage()
    yield S3Media(
        endpoint=s3_endpoint,
        bucket=bucket,
        location=settings.AWS_LOCATION,
        client=s3_client(s3_endpoint),
        settings=settings,
    )
    _forget_thumbnail_storage()
