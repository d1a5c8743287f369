"""Settings for Handoff, read from environment variables.

With no environment at all the project runs on its embedded default: SQLite in
`.demo/` and, when `manage.py rundemo` supervises it, an embedded Redis shared by the
web and worker processes. Production sets DATABASE_URL and REDIS_URL.
"""

import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import ConnectionError as RedisConnectionError

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DATA_DIR = Path(os.environ.get("HANDOFF_DATA_DIR", BASE_DIR / ".demo"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# No DATABASE_URL: the embedded default (SQLite in .demo/), for the demo and development.
EMBEDDED = not os.environ.get("DATABASE_URL")


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured("Set SECRET_KEY: production settings need their own secret key.")
    # Web and worker processes must share one key (sessions, widget tokens, task signing).
    key_file = EMBEDDED_DATA_DIR / "secret_key"
    if not key_file.exists():
        EMBEDDED_DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Fernet keys, comma-separated, newest first: the first encrypts channel credentials and
# webhook signing secrets at rest, all of them decrypt (rotation: channels_gateway.encryption).
# Unset: a key derived from SECRET_KEY, with a warning at startup outside DEBUG and the demo.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# Behind a load balancer that terminates TLS and sets X-Forwarded-Proto.
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS") or ([SITE_URL] if SITE_URL.startswith("https://") else [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    # Before django_q: its `qcluster` command is handoff_site's (task modules preloaded).
    "handoff_site",
    "django_q",
    "axes",
    "orgs",
    "billing",
    "conversations",
    "channels_gateway",
    "inbox",
]

MIDDLEWARE = [
    # Outermost: a database outage anywhere below answers 503 with Retry-After, never 500.
    "handoff_site.database_outage.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes requires: turns a locked-out log-in into handoff_site.login_attempts' page.
    "axes.middleware.AxesMiddleware",
]

# What of MIDDLEWARE runs for a platform's webhook (/webhooks/, handoff_site/asgi_handler.py):
# a platform's server sends no session, cookie or CSRF token and renders nothing it gets back.
WEBHOOK_MIDDLEWARE = ["handoff_site.database_outage.DatabaseOutageMiddleware"]

ROOT_URLCONF = "handoff_site.urls"
ASGI_APPLICATION = "handoff_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{EMBEDDED_DATA_DIR / 'handoff.sqlite3'}"
# PostgreSQL connections are kept (each web pool thread and worker keeps one): a new one per
# request costs a backend fork on the database server, and under load that fork was most of a
# webhook's latency (bench/perf, figure 1). A connection an error left broken is replaced at the
# next request boundary (handoff_site/asgi_handler.py); DB_HEALTH_CHECKS=1 also pings each reused
# connection first, which turns that one failed request into a round trip on every request.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=env_bool("DB_HEALTH_CHECKS"))}
_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "0" if _SQLITE else "60"))
if not _SQLITE and env_bool("DB_PREPARED_STATEMENTS", default=True):
    # Django's cursors bind on the client and never prepare. The webhook's statement
    # (conversations/services/inbound_store.py) binds on the server, and psycopg prepares it on
    # a connection's fifth run: PostgreSQL then skips parsing and planning it. Off behind a
    # PgBouncer in transaction mode older than 1.21, which cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# A webhook into an ongoing conversation is taken on the web process's event loop, its one
# statement on a small asyncio pool of this many connections per web process
# (channels_gateway/loop_webhooks.py); everything else goes through Django's view. PostgreSQL only.
WEBHOOKS_ON_EVENT_LOOP = env_bool("WEBHOOKS_ON_EVENT_LOOP", default=True)
LOOP_DATABASE_CONNECTIONS = int(os.environ.get("LOOP_DATABASE_CONNECTIONS", "4"))
if _SQLITE:
    EMBEDDED_DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # The web and worker processes write concurrently: WAL lets readers continue,
        # IMMEDIATE takes the write lock up front so a row lock is a real lock here too.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and task broker --------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYER_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "handoff")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub, with a Redis restart noticed (handoff_site/channel_layer.py says why);
            # channels_redis.core.RedisChannelLayer also works, at a lower rate.
            "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "handoff_site.channel_layer.ReconnectingPubSubChannelLayer"),
            "CONFIG": {
                # With the core layer, redis-py's default 5 s read timeout equals its 5 s blocking
                # pop: an idle socket's consumer would die with a TimeoutError every few seconds.
                # One more try on a broken connection: the pool's connections that outlived a
                # Redis restart fail at once, and the first publish after it would be lost.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5,
                           "retry_on_error": [RedisConnectionError]}],
                "prefix": CHANNEL_LAYER_PREFIX,
                # The core layer's per-channel queue (the pub/sub layer has none).
                "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "1000")),
                "expiry": 60,
            },
        }
    }
else:
    # Single-process development only: `manage.py rundemo` always provides a Redis.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Every web process marks all its open inbox tabs as seen in one UPDATE this often (inbox/
# tab_heartbeat.py); well inside the 90 s after which a tab counts as gone.
INBOX_TAB_HEARTBEAT_SECONDS = float(os.environ.get("INBOX_TAB_HEARTBEAT_SECONDS", "25"))

Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "handoff"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "recycle": 500,
    # Above an AI turn's worst case (model time-out × tries, twice when a handoff is declined),
    # below the 5 minutes after which the sweep treats a started turn as dead.
    "timeout": int(os.environ.get("Q_TASK_TIMEOUT", "240")),
    "retry": int(os.environ.get("Q_TASK_TIMEOUT", "240")) + 30,
    "catch_up": False,
    "max_attempts": 1,
    "save_limit": 500,
    "ack_failures": True,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if env_bool("Q_SYNC"):
    Q_CLUSTER["sync"] = True

# --- Auth, permissions ----------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "handoff_site.login_attempts.LoginAttemptsBackend",  # first: refuses locked-out log-ins
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; the product has no anonymous staff
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox:home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and SITE_URL.startswith("https"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Log-in attempts (django-axes, handoff_site.login_attempts): after LOGIN_FAILURE_LIMIT failures
# for one username from one address, that pair is refused for LOGIN_LOCKOUT_MINUTES (the login
# page says so, 429). Per pair, so nobody can lock a teammate out from elsewhere. Counted in the
# database: shared by every web process, and it works on the embedded SQLite as well.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "handoff_site.login_attempts.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures are what matter; a row per successful log-in only grows

# --- Security headers -------------------------------------------------------------------
# HSTS goes only on HTTPS responses (SecurityMiddleware asks request.is_secure(): TLS at daphne,
# or TRUST_X_FORWARDED_PROTO behind a proxy), so plain-http development never pins a host.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if SITE_URL.startswith("https://") else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's probe speaks plain http
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No page of ours is ever framed: the widget is a script and a websocket on the customer's
# page (a shadow root, no iframe), so both framing headers forbid it everywhere.
X_FRAME_OPTIONS = "DENY"
# django-csp: every script is one of our files (no inline script, no eval anywhere: the
# templates, inbox.js, widget.js, Django admin and Swagger UI's split view), so injected markup
# can never run. Inline styles stay allowed: the templates' <style> blocks, the widget's
# shadow-root <style> on the demo page, admin and Swagger UI use them, and CSS cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],  # fetch and the same-origin ws(s):// sockets
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **({"report-uri": [os.environ["CSP_REPORT_URI"]]} if os.environ.get("CSP_REPORT_URI") else {}),
    },
}

# --- Internationalisation, static -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# The embedded default runs without collectstatic: files are found in the apps instead.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.exists()
if WHITENOISE_USE_FINDERS:
    warnings.filterwarnings("ignore", message="No directory at")
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ------------------------------------------------------------------------------

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = 10
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(EMBEDDED_DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Handoff <handoff@localhost>")

# --- AI ------------------------------------------------------------------------------------

ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL") or None  # None: the SDK's default
ANTHROPIC_DEFAULT_MODEL = os.environ.get("ANTHROPIC_DEFAULT_MODEL", "claude-sonnet-5-5")
# The guard and the summary are small, frequent calls: a small, fast model.
ANTHROPIC_FAST_MODEL = os.environ.get("ANTHROPIC_FAST_MODEL", "claude-haiku-5-5")
ANTHROPIC_TIMEOUT_SECONDS = float(os.environ.get("ANTHROPIC_TIMEOUT_SECONDS", "30"))
ANTHROPIC_GUARD_TIMEOUT_SECONDS = float(os.environ.get("ANTHROPIC_GUARD_TIMEOUT_SECONDS", "4"))
ANTHROPIC_MAX_RETRIES = int(os.environ.get("ANTHROPIC_MAX_RETRIES", "2"))

# --- Channel platforms -----------------------------------------------------------------------
# Every client's API base URL is a setting, so a test or a staging setup can point it at a
# fake server. Credentials are per connection (ChannelConnection.secrets), not settings.

# A platform call waits this long for an answer (connecting: 3 s): a hanging platform
# holds a worker no longer, and the reply is retried with backoff.
PLATFORM_READ_TIMEOUT_SECONDS = float(os.environ.get("PLATFORM_READ_TIMEOUT_SECONDS", "15"))
# A delivery attempt whose worker died (killed, machine lost) is taken up again this long
# after it started, by the minute sweep: longer than an attempt runs, short enough that the
# reply still goes out within minutes (and within Discord's nonce window).
DELIVERY_LEASE_SECONDS = int(os.environ.get("DELIVERY_LEASE_SECONDS", "120"))
TELEGRAM_API_BASE_URL = os.environ.get("TELEGRAM_API_BASE_URL", "https://api.telegram.org").rstrip("/")
SLACK_API_BASE_URL = os.environ.get("SLACK_API_BASE_URL", "https://slack.com/api").rstrip("/")
META_GRAPH_BASE_URL = os.environ.get("META_GRAPH_BASE_URL", "https://graph.facebook.com/v21.0").rstrip("/")
DISCORD_API_BASE_URL = os.environ.get("DISCORD_API_BASE_URL", "https://discord.com/api/v10").rstrip("/")
# Empty: ask Discord (GET /gateway/bot) where the bot's Gateway websocket is.
DISCORD_GATEWAY_URL = os.environ.get("DISCORD_GATEWAY_URL", "")
GOOGLE_CHAT_API_BASE_URL = os.environ.get("GOOGLE_CHAT_API_BASE_URL", "https://chat.googleapis.com/v1").rstrip("/")
# Where Google's OAuth token endpoint and public certificates live (service-account auth,
# verifying Chat's bearer tokens).
GOOGLE_OAUTH_TOKEN_URL = os.environ.get("GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token")
GOOGLE_CHAT_CERTS_URL = os.environ.get(
    "GOOGLE_CHAT_CERTS_URL",
    "https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com",
)

# --- Logging -------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}


# --- REST API (conversations.api) -------------------------------------------------------------
# Authentication, permissions and throttles are set on the API's views (API keys only).
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "conversations.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
# Requests per API key; DRF rate syntax ("600/min", "10/s").
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min")
# Outbound webhooks refuse private, loopback and link-local addresses (no reaching the
# database or a metadata service through an admin-typed URL) unless this is set.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Handoff API",
    "DESCRIPTION": "Conversations, messages and handoff sessions of one organization, with an org API key "
                   "(`Authorization: Bearer hk_...`). Errors: `{\"error\": {\"code\", \"message\", ...}}`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}
