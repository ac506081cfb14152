"""storefront.web.client_ip: the one address every throttle and rate limit counts."""

import os
import subprocess
import sys

import pytest
from django.test import RequestFactory

from storefront.web import client_ip


def request(remote: str | None, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote if remote is not None else ""}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "197.248.1.1", None, "197.248.1.1"),
        ([], "197.248.1.1", "6.6.6.6", "197.248.1.1"),  # not from a proxy: header ignored
        (["10.0.0.0/8"], "10.4.5.6", "41.90.1.1", "41.90.1.1"),
        (["10.0.0.0/8"], "10.4.5.6", "6.6.6.6, 41.90.1.1", "41.90.1.1"),  # spoof ignored
        (["10.0.0.0/8", "172.16.0.0/12"], "10.4.5.6", "41.90.1.1, 172.16.3.3", "41.90.1.1"),
        (["10.0.0.0/8"], "11.0.0.1", "41.90.1.1", "11.0.0.1"),  # outside the range
        (["127.0.0.1"], "127.0.0.1", "2c0f:fe38:2000::1", "2c0f:fe38:2000::1"),
        (["::1"], "::1", "41.90.1.1", "41.90.1.1"),
        (["10.0.0.0/8"], "10.4.5.6", "10.9.9.9", "10.9.9.9"),  # only proxies: the first
        ([], "", "41.90.1.1", "41.90.1.1"),  # a unix socket: the local proxy's header
        ([], "", None, None),
        (["10.0.0.0/8"], "10.4.5.6", "not-an-address", None),
    ],
)
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    assert client_ip(request(remote, forwarded)) == expected


def test_a_bad_trusted_proxy_is_refused_at_start_up():
    env = {**os.environ, "TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}
    result = subprocess.run(
        [sys.executable, "-c", "import storefront.settings"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES has 'proxy.local'" in result.stderr
