"""Settings shared by every environment, read from the environment (12-factor, django-environ).

Every variable is documented in the README with its default. `DATABASE_URL` and
`REDIS_URL` left unset start private servers under `var/` (see tradeoffice.embedded);
a URL that is set always wins.
"""

from pathlib import Path

import environ

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
from .scaling import *  # noqa: E402, F403
from .security import *  # noqa: E402, F403
