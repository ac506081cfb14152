"""Two instances of the shop behind Debian's nginx, sharing PostgreSQL, Redis and media.

Production runs more than one gunicorn behind nginx; these tests start
exactly that on loopback and drive it over HTTP as a browser without
JavaScript would:

- instance A listens on a port, instance B on a unix socket;
- nginx runs deploy/nginx/shop.conf, the file the deploy guide documents,
  rendered four times: a site per instance (so a test says which one
  answers), a site that goes round both (the Daraja simulator calls back
  there, as Safaricom would call the public name) and the same over TLS;
- both share the pytest-django test database (PostgreSQL), a Redis of
  their own and, when tests/support/s3.py is there, an S3 bucket (moto's
  server), else one media folder that nginx serves;
- shoppers are clients at 127.0.0.2 and 127.0.0.3 (Linux routes all of
  127/8 to lo), each sending a forged X-Forwarded-For that nginx must
  overwrite with the address it saw.

PostgreSQL only: SQLite's test database is a file the instances could
share, but production never runs two instances on SQLite.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests
from allauth.account.models import EmailAddress
from django.db import connection

from accounts.models import User
from payments.models import PaymentAttempt
from payments.simulator import start_simulator
from payments.tests.simulators import CREDENTIALS
from shop.models import Order, ProductVariant
from shop.tests.factories import make_product
from storefront.money import format_kes
from tests.support.redis import RedisServer

from .instances import (
    NGINX,
    ROOT,
    Client,
    Gunicorn,
    Nginx,
    form_fields,
    free_port,
    render_site,
    self_signed_certificate,
    stop_all,
)

try:  # the shared-media helpers (moto's S3 server)
    from tests.support import s3 as s3_support
except ImportError:  # pragma: no cover - before S3 media existed
    s3_support = None

if not (os.environ.get("DATABASE_URL") or "").startswith(("postgres://", "postgresql://")):
    pytest.skip(
        "two shop instances need a database server: set DATABASE_URL to PostgreSQL "
        "(.ci/run runs the suite a second time that way)",
        allow_module_level=True,
    )
if not os.access(NGINX, os.X_OK):
    pytest.skip(f"Debian's nginx is not installed at {NGINX} (make nginx)", allow_module_level=True)
if not shutil.which("openssl"):
    pytest.skip(
        "openssl is not installed (the TLS site needs a certificate)", allow_module_level=True
    )
if not shutil.which("redis-server"):
    pytest.skip(
        "redis-server is not installed (apt-get install redis-server)", allow_module_level=True
    )

PAYS = "0708 374 149"  # the simulator pays for this payer
PASSWORD = "Nairobi-Westlands-2024!"
CALLBACK_TOKEN = "deploy-test-callback-token"
PAGE_STATE = re.compile(r'id="payment-status"[^>]*data-state="([a-z_]+)"')
STATUS_PATH = re.compile(r"^/orders/(DT[0-9A-Z]{8})/payment/$")
IMAGE_SRC = re.compile(r'<img src="([^"]+)"')
SHOPPER, OTHER = "127.0.0.2", "127.0.0.3"
#: The allauth message for a client over its failed-login limit.
TOO_MANY = "Too many failed login attempts"


@dataclass
class Deployment:
    a: str  # nginx site in front of instance A (a port) only
    b: str  # nginx site in front of instance B (a unix socket) only
    both: str  # nginx site going round A and B
    tls: str  # the same over TLS
    redirect: str  # the plain-HTTP server block of the TLS site
    certificate: Path
    instances: dict[str, Gunicorn]
    nginx: Nginx
    redis_url: str
    static_root: Path
    media_root: Path
    s3: dict[str, str] | None  # media_env() of the shared bucket, or None for disk

    def seen(self, name: str) -> list[str]:
        """Return the request lines in instance *name*'s access log."""
        return self.instances[name].requests_seen()

    def logged(self, name: str, prefix: str, count: int = 1) -> list[str]:
        """Wait (up to 5 s) for *count* requests starting with *prefix* in *name*'s log.

        An instance writes its access log after the response has gone out,
        so the last line may lag the client by a moment. Return them all.
        """
        deadline = time.monotonic() + 5
        while True:
            found = [line for line in self.seen(name) if line.startswith(prefix)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or "5432"
    return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"


def _collectstatic(static_root: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (static_root / "staticfiles.json").exists(), (
        f"collectstatic wrote no manifest into STATIC_ROOT={static_root}"
    )


@pytest.fixture(scope="module")
def deployment(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start Redis, S3, the Daraja simulator, instances A and B, and nginx; stop them after."""
    folder = tmp_path_factory.mktemp("deploy")
    with django_db_blocker.unblock():
        database_url = _database_url()
    with contextlib.ExitStack() as stack:
        cache = RedisServer().start()
        stack.callback(cache.stop)
        media_root = folder / "media"
        media_root.mkdir()
        s3 = None
        if s3_support is not None:
            endpoint = stack.enter_context(s3_support.s3_server())
            s3_support.create_bucket(endpoint, "shop-media")
            s3 = s3_support.media_env(endpoint, "shop-media")
        simulator, simulator_url = start_simulator(
            **CREDENTIALS, callback_delay=0.3, callback_timeout=10.0, poll_interval=0.05
        )
        stack.callback(simulator.stop)

        ports = {name: free_port() for name in ("a", "b", "both", "tls")}
        http_ports = {name: free_port() for name in ("a", "b", "both", "tls")}
        both = f"http://127.0.0.1:{ports['both']}"
        # Nothing of this machine's own set-up may leak into the instances.
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "MEDIA_", "RATELIMIT_", "PROMETHEUS_", "SENTRY_"))
        }
        env = {
            **inherited,
            "DEBUG": "0",
            "SECRET_KEY": "deploy-test-secret-key-0123456789abcdefghijklmnop",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "REDIS_URL": cache.url,
            "TRUSTED_PROXIES": "127.0.0.1/32,::1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "TRUST_X_FORWARDED_PROTO": "1",
            "MEDIA_ROOT": str(media_root),
            "MPESA_ENVIRONMENT": "simulator",
            "MPESA_BASE_URL": simulator_url,
            "MPESA_CONSUMER_KEY": CREDENTIALS["consumer_key"],
            "MPESA_CONSUMER_SECRET": CREDENTIALS["consumer_secret"],
            "MPESA_PASSKEY": CREDENTIALS["passkey"],
            "MPESA_SHORTCODE": CREDENTIALS["shortcode"],
            "MPESA_CALLBACK_BASE_URL": both,
            "MPESA_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "SITE_URL": both,
            **(s3 or {}),
        }
        static_root = folder / "static"
        env["STATIC_ROOT"] = str(static_root)

        instances = {
            "A": Gunicorn("A", f"127.0.0.1:{free_port()}", env, folder),
            "B": Gunicorn("B", f"unix:{folder / 'b.sock'}", env, folder),
        }
        # The release step's collectstatic comes first: a worker reads the
        # manifest once, when it boots.
        _collectstatic(static_root, env)
        stack.callback(stop_all, instances.values())
        for instance in instances.values():
            instance.start()
        certificate, key = self_signed_certificate(folder)

        def site(name: str, servers: list[Gunicorn], listen: str) -> str:
            return render_site(
                {
                    "SHOP_UPSTREAM": f"shop_{name}",
                    "SHOP_SERVERS": " ".join(server.upstream for server in servers),
                    "SHOP_SERVER_NAME": "127.0.0.1 localhost",
                    "SHOP_HTTP_LISTEN": f"127.0.0.1:{http_ports[name]}",
                    "SHOP_LISTEN": listen,
                    "SHOP_TLS_CERT": str(certificate),
                    "SHOP_TLS_KEY": str(key),
                    "SHOP_STATIC_ROOT": str(static_root),
                    "SHOP_MEDIA_ROOT": str(media_root),
                }
            )

        a, b = instances["A"], instances["B"]
        nginx = Nginx(
            folder,
            sites={
                "a": site("a", [a], f"127.0.0.1:{ports['a']}"),
                "b": site("b", [b], f"127.0.0.1:{ports['b']}"),
                "both": site("both", [a, b], f"127.0.0.1:{ports['both']}"),
                "tls": site("tls", [a, b], f"127.0.0.1:{ports['tls']} ssl"),
            },
            ports=[*ports.values(), *http_ports.values()],
        )
        nginx.start()
        stack.callback(nginx.stop)
        for instance in instances.values():
            instance.wait_ready()

        deployment = Deployment(
            a=f"http://127.0.0.1:{ports['a']}",
            b=f"http://127.0.0.1:{ports['b']}",
            both=both,
            tls=f"https://127.0.0.1:{ports['tls']}",
            redirect=f"http://127.0.0.1:{http_ports['tls']}",
            certificate=certificate,
            instances=instances,
            nginx=nginx,
            redis_url=cache.url,
            static_root=static_root,
            media_root=media_root,
            s3=s3,
        )
        # Each instance has booted once it answers through nginx with a page.
        for url in (deployment.a, deployment.b):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/", timeout=30).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{url} never answered 200:\n{nginx.error_log.read_text()[-3000:]}"
                    )
                time.sleep(0.2)
        yield deployment


def _forget_thumbnail_storage() -> None:
    # sorl keeps the storage it resolved (Django resets its own on a settings change).
    from django.utils.functional import empty
    from sorl.thumbnail import default

    default.storage._wrapped = empty


@pytest.fixture
def shop(deployment, transactional_db, settings):
    """The deployment with an empty cache, and this process's files and passwords as its own.

    Rows this test writes are committed (``transactional_db``), so the
    instances see them; the flush after the test empties the tables again.
    Passwords are hashed as the instances check them (the suite's MD5 is
    not in production's list), and pictures go where the instances read them.
    """
    redis.Redis.from_url(deployment.redis_url).flushall()
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    if deployment.s3:
        for name, value in deployment.s3.items():
            setattr(settings, name, value)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        }
        _forget_thumbnail_storage()
    else:
        settings.MEDIA_ROOT = deployment.media_root
    yield deployment
    _forget_thumbnail_storage()


def seed_product(price: str = "9999"):
    product = make_product(prices=(price,), stock=5)
    return product, product.variants.get()


def make_shopper(email: str = "amina@example.com") -> User:
    user = User.objects.create_user(username="amina", email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def make_staff() -> User:
    return User.objects.create_user(
        username="wanjiku",
        email="wanjiku@example.com",
        password=PASSWORD,
        is_staff=True,
        is_superuser=True,
    )


def page_state(html: str) -> str:
    found = PAGE_STATE.search(html)
    assert found, "the payment page has no #payment-status"
    return found.group(1)


# A purchase, its requests alternating between the instances -----------------


def test_a_purchase_paid_through_mpesa_alternates_between_the_instances(shop):
    product, variant = seed_product()
    client = Client(SHOPPER)

    page = client.get(f"{shop.a}{product.get_absolute_url()}")  # A
    assert page.status_code == 200
    assert f'name="variant" value="{variant.pk}"' in page.text

    added = client.submit(
        f"{shop.b}/cart/add/", {"variant": variant.pk, "quantity": 1, "next": "/cart/"}
    )  # B
    assert added.status_code == 302, added.text[:500]
    cart = client.get(f"{shop.a}/cart/")  # A: the cart B filled, through the shared session
    assert variant.sku in cart.text or product.name in cart.text

    assert client.get(f"{shop.b}/checkout/").status_code == 200  # B
    details = {
        "email": "amina@example.com",
        "new-recipient_name": "Amina Wanjiru",
        "new-phone": "0712 345 678",
        "new-county": "47",  # Nairobi
        "new-town": "Westlands",
        "new-street": "Mpaka Road, Apple Court",
        "mpesa_phone": PAYS,
    }
    quote = client.submit(f"{shop.a}/checkout/", {**details, "action": "quote"})  # A
    assert quote.status_code == 200
    assert "Delivery to Nairobi" in quote.text

    placed = client.submit(f"{shop.b}/checkout/", {**details, "action": "pay"})  # B
    assert placed.status_code == 302, placed.text[:2000]
    status_path = placed.headers["Location"]
    number = STATUS_PATH.match(status_path).group(1)
    first = client.get(f"{shop.a}{status_path}")  # A
    assert first.status_code == 200
    assert page_state(first.text) in ("pending", "paid")

    # The simulator calls back through the site going round both; the
    # status page, asked of each instance in turn, shows the payment.
    deadline = time.monotonic() + 20
    sites = [shop.b, shop.a]
    asked = 0
    while True:
        status = client.get(f"{sites[asked % 2]}{status_path}")
        asked += 1
        if page_state(status.text) == "paid":
            break
        assert time.monotonic() < deadline, f"still {page_state(status.text)!r} after 20 s"
        time.sleep(0.3)
    assert "Payment received" in status.text

    order = Order.objects.get(number=number)
    assert order.status == Order.Status.PAID
    paid = order.payment_attempts.get(status=PaymentAttempt.Status.PAID)
    assert paid.receipt_number and paid.receipt_number in status.text
    assert [(line.variant_id, line.quantity) for line in order.lines.all()] == [(variant.pk, 1)]
    # The order keeps the shopper's real address: nginx replaced the forged header.
    assert order.placed_from == SHOPPER

    assert shop.logged("A", "POST /checkout/")  # the quote
    assert shop.logged("B", "POST /cart/add/")
    assert shop.logged("B", "POST /checkout/")  # the order
    assert shop.logged("A", f"GET {status_path}")
    assert shop.logged("B", f"GET {status_path}")
    time.sleep(0.2)  # the callback's log line, if it lags the page
    callback = "POST /pay/stk/callback/"
    callbacks = [line for line in shop.seen("A") + shop.seen("B") if line.startswith(callback)]
    assert len(callbacks) == 1, callbacks


# Pictures ------------------------------------------------------------------------


def _stored_thumbnails(shop: Deployment) -> list[str]:
    if shop.s3:
        listing = s3_support.s3_client(shop.s3["AWS_S3_ENDPOINT_URL"]).list_objects_v2(
            Bucket=shop.s3["AWS_STORAGE_BUCKET_NAME"]
        )
        keys = [item["Key"] for item in listing.get("Contents", [])]
    else:
        keys = [str(path.relative_to(shop.media_root)) for path in shop.media_root.rglob("*")]
    return sorted(key for key in keys if "cache/" in key and not key.endswith("/"))


def _thumbnail_srcs(html: str) -> list[str]:
    return [src for src in IMAGE_SRC.findall(html) if "cache/" in src]


def _fetch_picture(shop: Deployment, site: str, src: str) -> requests.Response:
    url = src if src.startswith("http") else f"{site}{src}"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    assert response.content[:4] == b"RIFF" and response.content[8:12] == b"WEBP", url
    return response


def test_a_thumbnail_made_by_one_instance_is_served_when_the_other_renders(shop):
    product, _ = seed_product()
    before = _stored_thumbnails(shop)

    # A renders the product page and makes its thumbnail.
    on_a = client_get(shop.a, product.get_absolute_url())
    [src] = _thumbnail_srcs(on_a)
    made = _stored_thumbnails(shop)
    assert len(made) == len(before) + 1

    # B renders the page itself (another URL: no stored page to reuse) and
    # points at the same file, making none of its own.
    on_b = client_get(shop.b, f"{product.get_absolute_url()}?from=b")
    assert _thumbnail_srcs(on_b) == [src]
    assert _stored_thumbnails(shop) == made
    for site in (shop.a, shop.b):
        _fetch_picture(shop, site, src)

    # The other way round: B makes the listing's card, A shows the same one.
    listing_b = client_get(shop.b, "/products/")
    cards = _thumbnail_srcs(listing_b)
    assert cards and cards[0] != src
    made = _stored_thumbnails(shop)
    listing_a = client_get(shop.a, "/products/?from=a")
    assert _thumbnail_srcs(listing_a) == cards
    assert _stored_thumbnails(shop) == made
    _fetch_picture(shop, shop.a, cards[0])


def client_get(site: str, path: str) -> str:
    response = requests.get(f"{site}{path}", timeout=30)
    assert response.status_code == 200, (site, path, response.status_code)
    return response.text


# A staff price change ------------------------------------------------------------


def staff_signs_in(client: Client, site: str) -> requests.Response:
    client.get(f"{site}/staff/login/")
    return client.submit(
        f"{site}/staff/login/",
        {"username": "wanjiku", "password": PASSWORD, "next": "/staff/"},
    )


def test_a_staff_price_change_shows_at_once_through_both_instances(shop):
    product, variant = seed_product("12000")
    make_staff()
    old, new = format_kes(Decimal("12000")), format_kes(Decimal("10500"))
    visitor = Client(OTHER)
    for site in (shop.a, shop.b):  # both have the old price rendered and stored
        assert (
            f'data-testid="price">{old}' in visitor.get(f"{site}{product.get_absolute_url()}").text
        )

    staff = Client(SHOPPER)
    signed_in = staff_signs_in(staff, shop.a)
    assert signed_in.status_code == 302, signed_in.text[:1000]
    change = f"{shop.a}/staff/shop/productvariant/{variant.pk}/change/"
    fields = form_fields(staff.get(change).text, form_id="productvariant_form")
    assert ("price", "12000.00") in fields
    fields = [(k, v) for k, v in fields if k not in ("price", "csrfmiddlewaretoken")]
    saved = staff.post(
        change,
        data=[
            *fields,
            ("price", "10500.00"),
            ("_save", "Save"),
            ("csrfmiddlewaretoken", staff.csrf()),
        ],
        allow_redirects=False,
    )
    assert saved.status_code == 302, saved.text[:3000]
    assert ProductVariant.objects.get(pk=variant.pk).price == Decimal("10500.00")

    for site in (shop.a, shop.b, shop.both, shop.both):
        text = visitor.get(f"{site}{product.get_absolute_url()}").text
        assert f'data-testid="price">{new}' in text, site


# Failed logins: counted per client, and the client is the one nginx saw ---------


def shopper_signs_in(client: Client, site: str, password: str) -> requests.Response:
    client.get(f"{site}/accounts/login/")
    return client.submit(
        f"{site}/accounts/login/", {"login": "amina@example.com", "password": password}
    )


def test_ten_bad_logins_lock_out_neither_another_client_nor_the_staff(shop):
    make_shopper()
    make_staff()
    guesser = Client(SHOPPER)
    # Eight guesses on A and two on B: B stops the guesser only if the
    # instances share their counts (two are below every limit).
    for attempt, site in enumerate([shop.a] * 8 + [shop.b] * 2):
        # A new forged address each time: nginx overwrites it, so it helps nothing.
        guesser.headers["X-Forwarded-For"] = f"198.51.100.{attempt + 1}"
        failed = shopper_signs_in(guesser, site, f"wrong-{attempt}")
        assert failed.status_code == 200, failed.status_code
        assert "sessionid" not in failed.cookies
        guesser.get(f"{site}/staff/login/")
        failed = guesser.submit(
            f"{site}/staff/login/",
            {"username": "wanjiku", "password": f"wrong-{attempt}", "next": "/staff/"},
        )
        assert failed.status_code in (200, 429), failed.status_code

    # The guesser is stopped, on either instance, even with the right passwords.
    sites = [shop.a, shop.b]
    for site in sites:
        refused = shopper_signs_in(guesser, site, PASSWORD)
        assert refused.status_code == 200 and TOO_MANY in refused.text, site
        refused = staff_signs_in(guesser, site)
        assert refused.status_code == 429, (site, refused.status_code)

    # The shopper and the staff, from another address, sign in on either instance.
    for site in sites:
        shopper = Client(OTHER)
        signed_in = shopper_signs_in(shopper, site, PASSWORD)
        assert signed_in.status_code == 302, (site, signed_in.status_code, signed_in.text[:2000])
        assert signed_in.headers["Location"] == "/"
        staff = Client(OTHER)
        signed_in = staff_signs_in(staff, site)
        assert signed_in.status_code == 302, (site, signed_in.status_code, signed_in.text[:2000])
        assert staff.get(f"{site}/staff/", allow_redirects=False).status_code == 200


# The instance on a unix socket ----------------------------------------------------


def test_the_instance_on_a_unix_socket_signs_shoppers_and_staff_in(shop):
    assert shop.instances["B"].bind.startswith("unix:")
    make_shopper()
    make_staff()
    shopper = Client(SHOPPER)
    signed_in = shopper_signs_in(shopper, shop.b, PASSWORD)
    assert signed_in.status_code == 302, (signed_in.status_code, signed_in.text[:2000])
    assert "Sign out" in shopper.get(f"{shop.b}/cart/").text
    staff = Client(OTHER)
    signed_in = staff_signs_in(staff, shop.b)
    assert signed_in.status_code == 302, (signed_in.status_code, signed_in.text[:2000])
    assert staff.get(f"{shop.b}/staff/", allow_redirects=False).status_code == 200


# nginx itself: round robin, static files, TLS, upload limit --------------------


def test_nginx_goes_round_both_instances_and_serves_static_files_itself(shop):
    for n in range(6):
        assert requests.get(f"{shop.both}/robots.txt?probe={n}", timeout=10).status_code == 200
    probes_a = shop.logged("A", "GET /robots.txt?probe=", 3)
    probes_b = shop.logged("B", "GET /robots.txt?probe=", 3)
    assert len(probes_a) == len(probes_b) == 3, (probes_a, probes_b)

    manifest = json.loads((shop.static_root / "staticfiles.json").read_text())
    css = manifest["paths"]["css/app.css"]
    response = requests.get(
        f"{shop.both}/static/{css}", headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"  # collectstatic's .gz file
    assert "immutable" in response.headers["Cache-Control"]
    # A file collected after the instances started, which they never indexed:
    # nginx serves it from disk.
    (shop.static_root / "probe.txt").write_text("from disk")
    probe = requests.get(f"{shop.both}/static/probe.txt", timeout=10)
    assert (probe.status_code, probe.text) == (200, "from disk")

    for site in (shop.a, shop.b):  # the probe goes through to each instance
        assert requests.get(f"{site}/healthz", timeout=10).status_code == 200

    # The shop learns the scheme from nginx (TRUST_X_FORWARDED_PROTO), not from
    # the client: the product page's canonical link says which it believed.
    product, _ = seed_product()
    canonical = f'<link rel="canonical" href="{{}}://127.0.0.1{product.get_absolute_url()}">'
    secure = requests.get(
        f"{shop.tls}{product.get_absolute_url()}", verify=str(shop.certificate), timeout=10
    )
    assert secure.status_code == 200
    assert canonical.format("https") in secure.text
    forged = requests.get(
        f"{shop.both}{product.get_absolute_url()}",
        headers={"X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert canonical.format("http") in forged.text
    moved = requests.get(f"{shop.redirect}/cart/?x=1", allow_redirects=False, timeout=10)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "https://127.0.0.1/cart/?x=1"

    too_big = requests.post(f"{shop.both}/cart/add/", data=b"x" * (11 * 1024 * 1024), timeout=30)
    assert too_big.status_code == 413
