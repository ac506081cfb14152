"""Start-up safety: production settings fail fast with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(**env_overrides) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MPESA_", "SECURE_", "SESSION_", "CSRF_"))
        and key not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_stops_start_up():
    result = run_check(DEBUG="0", ALLOWED_HOSTS="shop.example.co.ke")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_allowed_hosts_stops_start_up():
    result = run_check(DEBUG="0", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_debug_runs_with_laptop_defaults():
    result = run_check(DEBUG="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("SECURE_SSL_REDIRECT", True),
        ("SESSION_COOKIE_SECURE", True),
        ("CSRF_COOKIE_SECURE", True),
        ("SECURE_HSTS_SECONDS", 31536000),
        ("SECURE_HSTS_PRELOAD", True),
    ],
)
def test_production_security_is_on_by_default(setting, expected):
    code = f"from django.conf import settings; print(repr(settings.{setting}))"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_")) and k != "DEBUG"
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="shop.example.co.ke",
        DJANGO_SETTINGS_MODULE="storefront.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(expected)


def setting_under(name: str, **env_overrides) -> str:
    """Return repr(settings.<name>) in a fresh process with *env_overrides*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPESA_") and k != "DEBUG"}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="storefront.settings", **env_overrides)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr(settings.{name}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_callback_source_addresses_are_logged_with_safaricom_and_ignored_with_the_simulator():
    assert setting_under("MPESA_CALLBACK_IP_POLICY", MPESA_ENVIRONMENT="sandbox") == "'log'"
    assert setting_under("MPESA_CALLBACK_IP_POLICY") == "'off'"
    enforce = setting_under(
        "MPESA_CALLBACK_IP_POLICY", MPESA_ENVIRONMENT="sandbox", MPESA_CALLBACK_IP_POLICY="enforce"
    )
    assert enforce == "'enforce'"


def test_an_unknown_callback_address_policy_stops_start_up():
    result = run_check(DEBUG="1", MPESA_CALLBACK_IP_POLICY="maybe")
    assert result.returncode != 0
    assert "MPESA_CALLBACK_IP_POLICY must be log, enforce or off" in result.stderr


BUY_GOODS = "CustomerBuyGoodsOnline"


@pytest.mark.parametrize(
    "overrides",
    [
        {"MPESA_TRANSACTION_TYPE": BUY_GOODS},  # PartyB defaults to the shortcode
        {"MPESA_TRANSACTION_TYPE": BUY_GOODS, "MPESA_PARTY_B": "174379"},
        {"MPESA_TRANSACTION_TYPE": BUY_GOODS, "MPESA_PARTY_B": "1234"},
        {"MPESA_TRANSACTION_TYPE": BUY_GOODS, "MPESA_PARTY_B": "123456789"},
        {"MPESA_TRANSACTION_TYPE": BUY_GOODS, "MPESA_PARTY_B": "60010O"},
    ],
    ids=["unset", "the-shortcode", "too-short", "too-long", "not-digits"],
)
def test_a_till_set_up_without_a_till_number_stops_start_up(overrides):
    """Buy Goods needs PartyB to be a till number (5-8 digits) other than the store's
    shortcode; the message names both settings."""
    result = run_check(DEBUG="1", MPESA_SHORTCODE="174379", **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "MPESA_PARTY_B" in result.stderr
    assert "MPESA_SHORTCODE='174379'" in result.stderr


def test_a_till_set_up_with_a_till_number_starts():
    result = run_check(
        DEBUG="1",
        MPESA_TRANSACTION_TYPE=BUY_GOODS,
        MPESA_SHORTCODE="174379",
        MPESA_PARTY_B="600100",
    )
    assert result.returncode == 0, result.stderr


def test_a_paybill_set_up_paying_another_number_stops_start_up():
    """A paybill is paid to its own shortcode: PartyB must be the shortcode (or unset)."""
    result = run_check(DEBUG="1", MPESA_SHORTCODE="174379", MPESA_PARTY_B="600100")
    assert result.returncode != 0
    assert "MPESA_PARTY_B='600100' must equal MPESA_SHORTCODE='174379'" in result.stderr
    explicit = run_check(DEBUG="1", MPESA_SHORTCODE="174379", MPESA_PARTY_B="174379")
    assert explicit.returncode == 0, explicit.stderr
