"""Settings shared by every environment, read from the environment (12-factor, django-environ).

Every variable is documented in the README with its default. `DATABASE_URL` and
`REDIS_URL` left unset start private servers under `var/` (see tradeoffice.embedded);
a URL that is set always wins.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ

from tradeoffice.connections import (
    REPLICA_ALIAS,
    SENTINEL_SCHEMES,
    parse_sentinels,
    pool_options,
    replica_database,
    split_sentinel_url,
    with_pool,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

VAR_DIR = Path(env("TRADEOFFICE_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-development-only-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")
if not ADMIN_URL.endswith("/"):
    ADMIN_URL += "/"

INSTALLED_APPS = [
    "apps.backoffice.admin_config.BackofficeAdminConfig",  # django.contrib.admin with the back-office site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.exchanges",
    "apps.execution",
    "apps.portfolio",
    "apps.decisions",
    "apps.memory",
    "apps.strategies",
    "apps.reconciliation",
    "apps.journal",
    "apps.system_events",
    "apps.operations",
    "apps.agents",
    "apps.demo",
    "apps.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.common.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its process_exception sees a view's exception first: PostgreSQL down is a 503.
    "apps.common.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "tradeoffice.urls"
WSGI_APPLICATION = "tradeoffice.wsgi.application"

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

# --- PostgreSQL -------------------------------------------------------------------------------
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    from tradeoffice.embedded import postgres_database

    DATABASES = {"default": postgres_database(VAR_DIR)}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- PostgreSQL: connection pool and read replica ----------------------------------------------

# psycopg's pool in each process (pip install psycopg-pool). Off: one persistent connection per
# thread (CONN_MAX_AGE). With PgBouncer in transaction mode in front, leave it off and set
# DATABASE_CONN_MAX_AGE=0 instead (docs/scaling.md).
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)
_pool = (
    pool_options(
        min_size=DATABASE_POOL_MIN_SIZE, max_size=DATABASE_POOL_MAX_SIZE, timeout=DATABASE_POOL_TIMEOUT
    )
    if DATABASE_POOL
    else None
)
DATABASES["default"] = with_pool(DATABASES["default"], _pool)

# A streaming replica of the primary. Set, the admin's changelists and the API's list endpoints
# (GET requests on DATABASE_REPLICA_PATHS) read the record's tables there; every write, every other
# read and everything inside a transaction stays on the primary.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_APPS = env.list(
    "DATABASE_REPLICA_APPS",
    default=["exchanges", "execution", "portfolio", "decisions", "memory", "strategies", "system_events"],
)
DATABASE_REPLICA_PATHS = env.list(
    "DATABASE_REPLICA_PATHS",
    default=[
        rf"^/{re.escape(ADMIN_URL)}\w+/\w+/$",  # a changelist: /admin/<app>/<model>/
        r"^/api/v1/(?!health|memory|schema|docs|redoc)[\w-]+/?$",  # a list endpoint: /api/v1/<resource>/
    ],
)
DATABASE_ROUTERS: list[str] = []
if DATABASE_REPLICA_URL:
    DATABASES[REPLICA_ALIAS] = with_pool(replica_database(DATABASE_REPLICA_URL, DATABASES["default"]), _pool)
    DATABASE_ROUTERS = ["tradeoffice.db_routers.ReplicaRouter"]
    MIDDLEWARE.append("tradeoffice.db_routers.ReplicaReadsMiddleware")

# The seed's SERIAL keys are 32-bit integers.
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# The seed names some indexes with more than Django's 30-character limit (an Oracle-era
# portability rule, models.E034); PostgreSQL takes up to 63, and the seed's names are kept.
SILENCED_SYSTEM_CHECKS = ["models.E034"]

# --- Redis ------------------------------------------------------------------------------------
if env("REDIS_URL", default=""):
    REDIS_URL = env("REDIS_URL")
else:
    from tradeoffice.embedded import redis_url

    REDIS_URL = redis_url(VAR_DIR)

# REDIS_URL=rediss://... is TLS as it stands. For Sentinel, either
#   REDIS_URL=redis+sentinel://[:password@]sentinel-1:26379,sentinel-2:26379/mymaster/0
# or REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379 with REDIS_URL=redis://[:password@]mymaster/0
# (the host is the service name). Both end as the second form. Redis Cluster is not supported: the
# short-term memory writes a batch as one MULTI/EXEC, which Cluster allows only within one hash slot.
REDIS_SENTINELS = parse_sentinels(env.list("REDIS_SENTINELS", default=[]))
if urlsplit(REDIS_URL).scheme in SENTINEL_SCHEMES:
    REDIS_URL, REDIS_SENTINELS = split_sentinel_url(REDIS_URL)
# The sentinels' own password, when they have one (often not the primary's).
REDIS_SENTINEL_PASSWORD = env("REDIS_SENTINEL_PASSWORD", default="")

# Short timeouts: an agent must never stall on a slow or absent Redis.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
# Optional prefix for every short-term memory key, for a Redis shared with other systems.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "tradeoffice:cache",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
if REDIS_SENTINELS:
    DJANGO_REDIS_CONNECTION_FACTORY = "django_redis.pool.SentinelConnectionFactory"
    CACHES["default"]["LOCATION"] = REDIS_URL
    CACHES["default"]["OPTIONS"].update(
        {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "SENTINELS": REDIS_SENTINELS,
            "SENTINEL_KWARGS": {"password": REDIS_SENTINEL_PASSWORD} if REDIS_SENTINEL_PASSWORD else {},
        }
    )

# --- Qdrant -----------------------------------------------------------------------------------
# QDRANT_URL set: a Qdrant server. Unset: qdrant-client's local mode with data in QDRANT_PATH.
QDRANT_URL = env("QDRANT_URL", default="")
QDRANT_API_KEY = env("QDRANT_API_KEY", default="")
QDRANT_PATH = env("QDRANT_PATH", default=str(VAR_DIR / "qdrant"))
QDRANT_COLLECTION = env("QDRANT_COLLECTION", default="trading_experiences")

# --- Exchange credentials at rest ---------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Development serves static files with runserver; production with whitenoise from the app server
    # itself (no CDN, no separate web server) and hashed, compressed files (settings/prod.py).
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Per-concern settings, each in its own module -----------------------------------------------
from .api import *  # noqa: E402, F403
from .memory import *  # noqa: E402, F403
from .operations import *  # noqa: E402, F403
from .reconciliation import *  # noqa: E402, F403
from .scaling import *  # noqa: E402, F403
from .security import *  # noqa: E402, F403
