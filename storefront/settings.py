"""Settings for the storefront, read from the environment.

Safe defaults for a developer's laptop (SQLite, console email, the Daraja
simulator); with ``DEBUG`` off, anything that must be configured for
production is an error at start-up instead of a silent default.
"""

import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from storefront.addresses import trusted_networks

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Return the environment variable *name*, or *default* when unset/empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value is not None else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


# GENERAL
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "dev-only-insecure-secret-key-do-not-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]"]
else:
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the shop refuses to start "
            "without one: set SECRET_KEY in the environment (see .env.example)."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. With DEBUG off the shop refuses to start "
            "without it: set ALLOWED_HOSTS=shop.example.co.ke (comma-separated)."
        )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_NAME = env("SITE_NAME", "Duka Tech")
SITE_URL = (env("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "crispy_forms",
    "crispy_tailwind",
    "sorl.thumbnail",
    "django_filters",
    "import_export",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "shop",
    "payments",
]

MIDDLEWARE = [
    # Probes (/healthz, /readyz, token scrapes of /metrics) answer before any host
    # check or HTTPS redirect; then every other request is timed (storefront/observability.py).
    "storefront.observability.ProbeMiddleware",
    "storefront.observability.RequestTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "storefront.security.SecurityHeadersMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "shop.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "storefront.i18n.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "storefront.urls"
WSGI_APPLICATION = "storefront.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "storefront.i18n.context",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.shop",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# DATABASE
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the task worker write
    # side by side; IMMEDIATE transactions take the write lock up front so
    # concurrent writers queue instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    # Tests use a file too: the in-memory test database is shared-cache, whose
    # table locks fail a writer at once (no busy wait) while another thread
    # reads, as the live server does when a callback arrives mid-poll.
    DATABASES["default"]["TEST"] = {
        "NAME": env("SQLITE_TEST_NAME", str(BASE_DIR / "db.sqlite3-test"))
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The shop's statements are short and many: PostgreSQL's JIT compiler
    # spent 1.5 s compiling a filtered listing query that runs in 0.2 s
    # (100,000 products). DATABASE_STATEMENT_TIMEOUT_MS (0: none) cancels any
    # statement running longer, so a pathological one fails instead of
    # holding a worker; the task worker's long jobs (rebuilds) need it unset
    # or generous. Options in DATABASE_URL (?options=...) come last and win.
    _server = ["-c jit=off"]
    if env_int("DATABASE_STATEMENT_TIMEOUT_MS", 0) > 0:
        _server.append(f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 0)}")
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = " ".join([*_server, _options.get("options", "")]).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# CACHE: Redis when REDIS_URL is set (shared by every process and machine:
# the catalogue's pages, the Daraja token, thumbnails), otherwise memory per
# process. Rate-limit counters live in a cache of their own
# (RATELIMIT_REDIS_URL, by default REDIS_URL): give that Redis (or database)
# no eviction, and the page cache maxmemory with allkeys-lru (docs/deploy.md).
# Both keep the shop running when Redis is away (storefront/cache.py): the
# page cache fails open, rate limits count per process until it's back.
REDIS_URL = env("REDIS_URL")
RATELIMIT_REDIS_URL = env("RATELIMIT_REDIS_URL", REDIS_URL)
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", "storefront")
# Entries a per-process memory cache keeps (the oldest go first).
CACHE_MAX_ENTRIES = env_int("CACHE_MAX_ENTRIES", 2000)


def _cache(alias, url, fallback):
    if not url:
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": alias,
            "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES},
        }
    return {
        "BACKEND": "storefront.cache.ResilientRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {"FALLBACK": fallback},
    }


CACHES = {
    "default": _cache("default", REDIS_URL, "none"),
    "ratelimit": _cache("ratelimit", RATELIMIT_REDIS_URL, "local"),
}

# AUTH
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "optional")
# Failed logins: 10 a minute per client address, 5 in 5 minutes per account
# and client (accounts/adapter.py: a stranger can't lock a shopper out).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# The staff login (/staff/login/): failures per client, and per client and account.
STAFF_LOGIN_FAILURES_PER_CLIENT = env_int("STAFF_LOGIN_FAILURES_PER_CLIENT", 10)
STAFF_LOGIN_FAILURES_PER_ACCOUNT = env_int("STAFF_LOGIN_FAILURES_PER_ACCOUNT", 5)
STAFF_LOGIN_WINDOW_SECONDS = env_int("STAFF_LOGIN_WINDOW_SECONDS", 300)
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

# I18N
LANGUAGE_CODE = "en-gb"
# English and Kiswahili (storefront/i18n.py picks one per request; locale/ holds
# the Kiswahili catalogue, checked by storefront/tests/test_translations.py).
LANGUAGES = [("en-gb", "English"), ("sw", "Kiswahili")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Africa/Nairobi"
USE_I18N = True
USE_TZ = True

# STATIC AND MEDIA
STATIC_URL = "/static/"
# Where collectstatic writes (scripts/build.sh; nginx may serve it on a VM).
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SERVE_MEDIA = env_bool("SERVE_MEDIA", DEBUG)
# --- MEDIA STORAGE (begin) ---------------------------------------------------
# Where uploads (product pictures, avatars) and their thumbnails live. "local"
# (the default) keeps them in MEDIA_ROOT on this machine; "s3" puts them in an
# S3-compatible bucket (Amazon S3, Cloudflare R2, DigitalOcean Spaces, MinIO)
# through django-storages, so every web instance sees the same files.
# sorl-thumbnail writes to and reads from STORAGES["default"] and keeps its
# records in the database (cached in the cache), so every instance finds the
# thumbnails another made.
# Said here, though they are sorl's defaults, because shared thumbnails rest on them.
THUMBNAIL_STORAGE = "default"
THUMBNAIL_KVSTORE = "sorl.thumbnail.kvstores.cached_db_kvstore.KVStore"
# sorl's, with the thumbnails found kept a few minutes per process (no round trip).
THUMBNAIL_BACKEND = "storefront.thumbnails.ThumbnailBackend"
MEDIA_STORAGES = ("local", "s3")
MEDIA_STORAGE = (env("MEDIA_STORAGE", "local") or "").strip().lower()
if MEDIA_STORAGE not in MEDIA_STORAGES:
    raise ImproperlyConfigured(
        f"MEDIA_STORAGE={MEDIA_STORAGE!r} is not one of {', '.join(MEDIA_STORAGES)}: "
        "use local (files in MEDIA_ROOT) or s3 (an S3-compatible bucket)."
    )
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL")  # unset for Amazon S3
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME")
# Unset keys leave boto3 its own credential chain (e.g. an instance role).
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY")
AWS_S3_CUSTOM_DOMAIN = env("AWS_S3_CUSTOM_DOMAIN")  # a public or CDN host for media URLs
AWS_S3_URL_PROTOCOL = env("AWS_S3_URL_PROTOCOL", "https:")  # of custom-domain URLs
# Product pictures are public: plain URLs, no signatures that expire.
AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", False)
AWS_LOCATION = (env("AWS_LOCATION", "media") or "").strip("/")  # "/" for the bucket's root
# Only for stores that make objects public by ACL (DigitalOcean Spaces:
# public-read); Amazon and R2 make a bucket public by policy or setting.
AWS_DEFAULT_ACL = env("AWS_DEFAULT_ACL")
# botocore's choice (path-style on an endpoint, virtual-hosted on Amazon) unless set.
AWS_S3_ADDRESSING_STYLE = env("AWS_S3_ADDRESSING_STYLE")
# Uploads get a new name instead of replacing a file of the same name, so a
# stored picture never changes: browsers and CDNs may keep it for a year.
AWS_S3_FILE_OVERWRITE = False
AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "public, max-age=31536000, immutable"}
if MEDIA_STORAGE == "s3":
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured(
            "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME, the bucket that holds product "
            "pictures, avatars and thumbnails (and AWS_S3_ENDPOINT_URL for R2, Spaces or "
            "MinIO). Set it, or MEDIA_STORAGE=local to keep media in MEDIA_ROOT."
        )
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    # Media come from the bucket; the shop never serves them from disk.
    SERVE_MEDIA = False
    # MEDIA_URL is where the storage's URLs start (the CSP's img-src and the
    # cached pages' keys read it). botocore makes unsigned URLs path-style on
    # a custom endpoint and virtual-hosted on Amazon; for any other
    # addressing style, ask botocore itself (no request is sent).
    _media_prefix = f"{AWS_LOCATION}/" if AWS_LOCATION else ""
    if AWS_S3_CUSTOM_DOMAIN:
        MEDIA_URL = f"{AWS_S3_URL_PROTOCOL}//{AWS_S3_CUSTOM_DOMAIN}/{_media_prefix}"
    elif AWS_S3_ADDRESSING_STYLE in (None, "auto", "path") and AWS_S3_ENDPOINT_URL:
        MEDIA_URL = f"{AWS_S3_ENDPOINT_URL.rstrip('/')}/{AWS_STORAGE_BUCKET_NAME}/{_media_prefix}"
    elif AWS_S3_ADDRESSING_STYLE in (None, "auto"):
        MEDIA_URL = f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com/{_media_prefix}"
    else:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        _unsigned = Config(
            signature_version=UNSIGNED, s3={"addressing_style": AWS_S3_ADDRESSING_STYLE}
        )
        MEDIA_URL = (
            boto3.session.Session()
            .client(
                "s3",
                region_name=AWS_S3_REGION_NAME,
                endpoint_url=AWS_S3_ENDPOINT_URL,
                config=_unsigned,
            )
            .generate_presigned_url(
                "get_object", Params={"Bucket": AWS_STORAGE_BUCKET_NAME, "Key": "-"}
            )
            .removesuffix("-")
        ) + _media_prefix
# --- MEDIA STORAGE (end) -----------------------------------------------------

# THUMBNAILS
THUMBNAIL_FORMAT = "WEBP"
THUMBNAIL_QUALITY = 80
THUMBNAIL_PRESERVE_FORMAT = False
THUMBNAIL_DEBUG = False

# FORMS
CRISPY_ALLOWED_TEMPLATE_PACKS = "tailwind"
CRISPY_TEMPLATE_PACK = "tailwind"

# EMAIL
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# SMS to shoppers ("paid", "shipped"): Africa's Talking when its API key is
# set, else the log. See storefront/sms.py.
AFRICASTALKING_USERNAME = env("AFRICASTALKING_USERNAME", "sandbox")
AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY", "")
SMS_SENDER_ID = env("SMS_SENDER_ID", "")
SMS_BACKEND = env(
    "SMS_BACKEND",
    "storefront.sms.AfricasTalkingBackend"
    if AFRICASTALKING_API_KEY
    else "storefront.sms.ConsoleBackend",
)

# TASKS
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- BACKGROUND WORK (begin) -------------------------------------------------
# Workers (manage.py worker) note a heartbeat every WORKER_HEARTBEAT_SECONDS;
# the scheduler (manage.py scheduler) wakes every SCHEDULER_TICK_SECONDS, puts
# back a task whose worker has been silent for WORKER_DEAD_AFTER_SECONDS (or
# that has run longer than TASK_MAX_RUNNING_SECONDS), and gives it up after
# TASK_MAX_REQUEUES such returns. See shop/jobs.py.
WORKER_HEARTBEAT_SECONDS = float(env("WORKER_HEARTBEAT_SECONDS", "10"))
WORKER_DEAD_AFTER_SECONDS = float(env("WORKER_DEAD_AFTER_SECONDS", "60"))
TASK_MAX_RUNNING_SECONDS = float(env("TASK_MAX_RUNNING_SECONDS", "3600"))
TASK_MAX_REQUEUES = env_int("TASK_MAX_REQUEUES", 3)
SCHEDULER_TICK_SECONDS = float(env("SCHEDULER_TICK_SECONDS", "15"))
# A failing send (SMTP, SMS, Daraja query) is tried again after
# TASK_RETRY_BASE_SECONDS, doubling each time up to TASK_RETRY_MAX_SECONDS,
# TASK_RETRY_ATTEMPTS times in all (storefront/jobs.py).
TASK_RETRY_ATTEMPTS = env_int("TASK_RETRY_ATTEMPTS", 8)
TASK_RETRY_BASE_SECONDS = float(env("TASK_RETRY_BASE_SECONDS", "60"))
TASK_RETRY_MAX_SECONDS = float(env("TASK_RETRY_MAX_SECONDS", "3600"))
# The scheduler's periodic jobs: sweeps every so many seconds, daily jobs at
# an hour of shop time (the low-stock report at LOW_STOCK_REPORT_HOUR).
EXPIRE_ORDERS_EVERY_SECONDS = env_int("EXPIRE_ORDERS_EVERY_SECONDS", 300)
RECONCILE_PAYMENTS_EVERY_SECONDS = env_int("RECONCILE_PAYMENTS_EVERY_SECONDS", 300)
CLEAR_SESSIONS_HOUR = env_int("CLEAR_SESSIONS_HOUR", 3)
PRUNE_TASKS_HOUR = env_int("PRUNE_TASKS_HOUR", 4)
# Finished task results and job runs are deleted after this many days.
TASK_RESULTS_KEEP_DAYS = env_int("TASK_RESULTS_KEEP_DAYS", 14)
# --- BACKGROUND WORK (end) ---------------------------------------------------

# SECURITY (switched on by environment, on by default in production)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Requests above this size are refused with 413 (storefront/security.py);
# deploy/nginx/shop.conf's client_max_body_size says the same.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 10 * 1024 * 1024)
# Forms without files stay small: Django's own limit on the rest of a body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Content-Security-Policy: scripts only from our own static files (htmx
# included; no page has an inline script or handler). Inline style
# attributes stay allowed (templates use a few, htmx adds its indicator
# style). Pictures may come from the media host (S3, a CDN).
_media_origin = "/".join(MEDIA_URL.split("/")[:3]) if "://" in MEDIA_URL else ""
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: {_media_origin}".strip(),
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    ),
)
# The staff pages add the one inline handler of the export page (its
# "select all" box), by hash.
STAFF_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'",
    "script-src 'self' 'unsafe-hashes' 'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='",
)
# Pages about one person (their orders, cart, checkout, wishlist, account,
# the staff's pages): "Cache-Control: private, no-store".
PRIVATE_PATH_PREFIXES = (
    "/orders/",
    "/cart/",
    "/checkout/",
    "/wishlist/",
    "/account/",
    "/accounts/",
    "/staff/",
)

# LOGGING
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            # Local time is TIME_ZONE (Django sets TZ); the offset shows it.
            # payments/simulator/logs.py writes the same line.
            "datefmt": "%Y-%m-%d %H:%M:%S%z",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.tasks": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# SHOP
CURRENCY = "KES"
PRODUCTS_PER_PAGE = env_int("PRODUCTS_PER_PAGE", 24)
# Leave products with no unit available out of listings, search and shelves.
HIDE_SOLD_OUT_PRODUCTS = env_bool("HIDE_SOLD_OUT_PRODUCTS", False)
# Staff news (the daily low-stock report): these addresses, or every staff
# member with an email when unset; sent at this hour, shop time.
STAFF_EMAILS = env_list("STAFF_EMAILS")
LOW_STOCK_REPORT_HOUR = env_int("LOW_STOCK_REPORT_HOUR", 7)
# The shop's customer-care number, shown on order pages.
SUPPORT_PHONE = env("SUPPORT_PHONE", "0700 000 000")
# The shop's WhatsApp number (2547XXXXXXXX, for https://wa.me/…) and support
# email, shown in the footer and on the contact page when set.
SUPPORT_WHATSAPP = env("SUPPORT_WHATSAPP", "")
SUPPORT_EMAIL = env("SUPPORT_EMAIL", "")
# Unpaid orders expire (and release their stock) after this many minutes.
ORDER_PAYMENT_MINUTES = env_int("ORDER_PAYMENT_MINUTES", 30)
# What one shopper may hold unpaid (shop/services/limits.py): units of one
# item in a cart or order, units in one order, and unpaid orders (awaiting
# payment, not expired) per visitor (session or account), per M-Pesa number
# and per IP address (shared by offices and mobile NAT, so the loosest). An
# unpaid-orders limit of 0 is off.
MAX_UNITS_PER_LINE = env_int("MAX_UNITS_PER_LINE", 10)
MAX_UNITS_PER_ORDER = env_int("MAX_UNITS_PER_ORDER", 30)
MAX_UNPAID_ORDERS_PER_VISITOR = env_int("MAX_UNPAID_ORDERS_PER_VISITOR", 3)
MAX_UNPAID_ORDERS_PER_PHONE = env_int("MAX_UNPAID_ORDERS_PER_PHONE", 3)
MAX_UNPAID_ORDERS_PER_ADDRESS = env_int("MAX_UNPAID_ORDERS_PER_ADDRESS", 10)
# Delivery fee for counties in no delivery zone, when no fallback zone exists.
DEFAULT_DELIVERY_FEE = env("DEFAULT_DELIVERY_FEE", "500")
# Paid orders not shipped this many days after payment are listed on the
# staff's "Needs attention" page.
SHIP_WITHIN_DAYS = env_int("SHIP_WITHIN_DAYS", 2)

# --- RECEIPTS (begin) --------------------------------------------------------
# Prices include VAT; receipts and order pages show the VAT they include at
# VAT_RATE percent (Kenya's standard rate, 16). The PDF receipt / tax invoice
# (shop/receipts.py) names the seller with these; KRA_PIN is the shop's KRA
# PIN (left off the receipt while unset: set it in production).
try:
    VAT_RATE = Decimal(env("VAT_RATE", "16") or "16")
except ArithmeticError as _bad_rate:
    raise ImproperlyConfigured("VAT_RATE must be a percentage such as 16.") from _bad_rate
if not VAT_RATE.is_finite() or not 0 <= VAT_RATE < 100:
    raise ImproperlyConfigured(f"VAT_RATE={VAT_RATE} must be a percentage from 0 to 99.")
KRA_PIN = env("KRA_PIN", "")
BUSINESS_NAME = env("BUSINESS_NAME", SITE_NAME)
BUSINESS_ADDRESS = env("BUSINESS_ADDRESS", "Nairobi, Kenya")
# --- RECEIPTS (end) ----------------------------------------------------------

# M-PESA (Daraja STK Push). "simulator" talks to the built-in Daraja
# simulator (payments/simulator) on MPESA_BASE_URL; "sandbox" and
# "production" talk to Safaricom. Only the base URL and credentials differ.
MPESA_ENVIRONMENTS = ("simulator", "sandbox", "production")
MPESA_ENVIRONMENT = env("MPESA_ENVIRONMENT", "simulator")
if MPESA_ENVIRONMENT not in MPESA_ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"MPESA_ENVIRONMENT={MPESA_ENVIRONMENT!r} is not one of {', '.join(MPESA_ENVIRONMENTS)}."
    )
_MPESA_SIMULATED = MPESA_ENVIRONMENT == "simulator"
MPESA_BASE_URL = (
    env(
        "MPESA_BASE_URL",
        {
            "simulator": "http://127.0.0.1:8001",
            "sandbox": "https://sandbox.safaricom.co.ke",
            "production": "https://api.safaricom.co.ke",
        }[MPESA_ENVIRONMENT],
    )
    or ""
).rstrip("/")
# The simulator's defaults match payments/simulator's; real environments have none.
MPESA_CONSUMER_KEY = env("MPESA_CONSUMER_KEY", "simulator-key" if _MPESA_SIMULATED else "")
MPESA_CONSUMER_SECRET = env("MPESA_CONSUMER_SECRET", "simulator-secret" if _MPESA_SIMULATED else "")
# 174379 is Safaricom's sandbox shortcode; production must say its own.
MPESA_SHORTCODE = env("MPESA_SHORTCODE", "" if MPESA_ENVIRONMENT == "production" else "174379")
MPESA_PASSKEY = env("MPESA_PASSKEY", "simulator-passkey" if _MPESA_SIMULATED else "")
# CustomerPayBillOnline (paybill) or CustomerBuyGoodsOnline (till).
MPESA_TRANSACTION_TYPE = env("MPESA_TRANSACTION_TYPE", "CustomerPayBillOnline")
if MPESA_TRANSACTION_TYPE not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
    raise ImproperlyConfigured(
        f"MPESA_TRANSACTION_TYPE={MPESA_TRANSACTION_TYPE!r} must be CustomerPayBillOnline "
        "(paybill) or CustomerBuyGoodsOnline (till)."
    )
MPESA_PARTY_B = env("MPESA_PARTY_B", MPESA_SHORTCODE)
# docs/mpesa.md §2: a paybill is paid to its own number (PartyB = the
# shortcode); for a till, MPESA_SHORTCODE is the store (head office) number and
# MPESA_PARTY_B the till number, a different 5-8 digit number. A wrong pair
# makes every prompt fail with result 2028.
if MPESA_TRANSACTION_TYPE == "CustomerBuyGoodsOnline":
    _till = MPESA_PARTY_B or ""
    if not (_till.isascii() and _till.isdigit() and 5 <= len(_till) <= 8) or (
        _till == MPESA_SHORTCODE
    ):
        raise ImproperlyConfigured(
            f"MPESA_TRANSACTION_TYPE=CustomerBuyGoodsOnline (till) needs MPESA_PARTY_B set to "
            f"the till number (5 to 8 digits), not MPESA_SHORTCODE, the store number; got "
            f"MPESA_PARTY_B={_till!r} and MPESA_SHORTCODE={MPESA_SHORTCODE!r}."
        )
elif MPESA_PARTY_B != MPESA_SHORTCODE:
    raise ImproperlyConfigured(
        f"MPESA_TRANSACTION_TYPE=CustomerPayBillOnline (paybill) pays the shortcode: "
        f"MPESA_PARTY_B={MPESA_PARTY_B!r} must equal MPESA_SHORTCODE={MPESA_SHORTCODE!r} "
        "(or be unset). For a till, set MPESA_TRANSACTION_TYPE=CustomerBuyGoodsOnline."
    )
# The public base URL Daraja calls back on, and the secret token in its path.
MPESA_CALLBACK_BASE_URL = (env("MPESA_CALLBACK_BASE_URL", SITE_URL) or "").rstrip("/")
MPESA_CALLBACK_TOKEN = env("MPESA_CALLBACK_TOKEN", "dev-callback-token" if DEBUG else None)
MPESA_TIMEOUT_SECONDS = float(env("MPESA_TIMEOUT_SECONDS", "10") or 10)
if not DEBUG and MPESA_ENVIRONMENT == "production":
    _mpesa_missing = [
        name
        for name in (
            "MPESA_CONSUMER_KEY",
            "MPESA_CONSUMER_SECRET",
            "MPESA_SHORTCODE",
            "MPESA_PASSKEY",
            "MPESA_CALLBACK_TOKEN",
        )
        if not globals()[name]
    ]
    if _mpesa_missing:
        raise ImproperlyConfigured(
            f"M-Pesa is in production mode but {', '.join(_mpesa_missing)} "
            f"{'is' if len(_mpesa_missing) == 1 else 'are'} not set. Set them in the environment "
            "(see .env.example), or set MPESA_ENVIRONMENT=sandbox or simulator."
        )
    if not MPESA_CALLBACK_BASE_URL.startswith("https://"):
        raise ImproperlyConfigured(
            f"MPESA_CALLBACK_BASE_URL={MPESA_CALLBACK_BASE_URL!r} must be a public https:// URL "
            "in production: Daraja only calls back secure URLs."
        )
    if not MPESA_BASE_URL.startswith("https://"):
        raise ImproperlyConfigured(
            f"MPESA_BASE_URL={MPESA_BASE_URL!r} must be https:// in production."
        )
# A new STK push for the same order waits this long after the previous one
# (Daraja refuses a second prompt while one is open: 500.001.1001, result 17).
MPESA_RESEND_SECONDS = env_int("MPESA_RESEND_SECONDS", 60)
# Pending pushes are STK-queried this long after the push, then with backoff.
MPESA_RECONCILE_AFTER_SECONDS = env_int("MPESA_RECONCILE_AFTER_SECONDS", 60)
# How long a prompt may still be answered on the phone after the push: an
# order whose window closed waits this long for a live prompt's result, and
# a push whose answer never came blocks a new one for this long.
MPESA_PROMPT_SECONDS = env_int("MPESA_PROMPT_SECONDS", 120)
# M-Pesa's ceiling per payment (docs/mpesa.md §2): a larger order is paid
# in parts of at most this much, each its own prompt. Above the per-order
# ceiling (the payer's daily limit) checkout refuses M-Pesa.
MPESA_MAX_PER_PAYMENT = env_int("MPESA_MAX_PER_PAYMENT", 250_000)
MPESA_MAX_PER_ORDER = env_int("MPESA_MAX_PER_ORDER", 500_000)
# Prompts sent to one phone across all orders within an hour.
MPESA_MAX_PUSHES_PER_PHONE_HOUR = env_int("MPESA_MAX_PUSHES_PER_PHONE_HOUR", 8)
# Source-address check of callbacks: "log" (the default with Safaricom: note
# and accept), "enforce" (refuse others with 403) or "off" (the default with
# the simulator). The list is the community one (docs/mpesa.md §6);
# Safaricom publishes none, so it starts log-only.
MPESA_CALLBACK_IP_POLICY = env("MPESA_CALLBACK_IP_POLICY", "off" if _MPESA_SIMULATED else "log")
if MPESA_CALLBACK_IP_POLICY not in ("log", "enforce", "off"):
    raise ImproperlyConfigured("MPESA_CALLBACK_IP_POLICY must be log, enforce or off.")
MPESA_CALLBACK_ALLOWED_IPS = env_list(
    "MPESA_CALLBACK_ALLOWED_IPS",
    "196.201.214.200,196.201.214.206,196.201.213.114,196.201.214.207,196.201.214.208,"
    "196.201.213.44,196.201.212.127,196.201.212.138,196.201.212.129,196.201.212.136,"
    "196.201.212.74,196.201.212.69",
)
# X-Forwarded-For is believed only as far as these wrote it: the shop's own
# reverse proxies, as addresses or CIDR ranges ("10.0.0.0/8,127.0.0.1").
# storefront.web.client_ip reads it, and every throttle and rate limit (the
# login library's included) counts by what it returns.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        trusted_networks([_proxy])
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES has {_proxy!r}, which is not an address or a CIDR range "
            "(e.g. 10.0.0.0/8, 127.0.0.1, ::1)."
        ) from None

# --- OBSERVABILITY (begin) ---------------------------------------------------
# /healthz, /readyz and /metrics, Server-Timing, request metrics, Sentry and
# JSON logs (storefront/observability.py, health.py, metrics.py, logging.py;
# README "Health and metrics"). OBSERVABILITY=0 switches off the per-request
# work (Server-Timing and request metrics) unless each is set on its own.
OBSERVABILITY = env_bool("OBSERVABILITY", True)
SERVER_TIMING = env_bool("SERVER_TIMING", OBSERVABILITY)
METRICS_ENABLED = env_bool("METRICS_ENABLED", OBSERVABILITY)
# One log line per request from the shop itself (gunicorn's access log is the
# main one; this one is for runserver).
ACCESS_LOG = env_bool("ACCESS_LOG", False)
# Bearer token for Prometheus at /metrics; unset: staff only.
METRICS_TOKEN = env("METRICS_TOKEN", "")
# The balancer probes over plain HTTP.
SECURE_REDIRECT_EXEMPT = [
    *globals().get("SECURE_REDIRECT_EXEMPT", []),
    r"^healthz$",
    r"^readyz$",
]
# LOG_FORMAT=json: every line one JSON object (storefront/logging.py).
LOG_FORMAT = (env("LOG_FORMAT", "plain") or "").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json.")
if LOG_FORMAT == "json":
    import logging

    logging.captureWarnings(True)  # Python's warnings as log lines too, not bare text
    LOGGING["formatters"]["json"] = {"()": "storefront.logging.JsonFormatter"}
    for _handler in LOGGING["handlers"].values():
        if _handler.get("formatter") == "plain":
            _handler["formatter"] = "json"
LOGGING["loggers"].setdefault(
    "storefront.access", {"handlers": ["console"], "level": "INFO", "propagate": False}
)
# Errors to Sentry when SENTRY_DSN is set; nothing is sent otherwise.
SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        environment=env("SENTRY_ENVIRONMENT", "production"),
        release=env("SENTRY_RELEASE"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        send_default_pii=False,
    )
# --- OBSERVABILITY (end) -----------------------------------------------------
