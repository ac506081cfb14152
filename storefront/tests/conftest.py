"""Fixtures of the storefront's tests: media in a real S3 bucket (moto's server)."""

from tests.support.s3 import s3_endpoint, s3_media  # noqa: F401 - fixtures
