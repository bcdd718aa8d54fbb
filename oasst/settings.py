"""oasst settings: one file for every deployment.

With no environment at all this is the embedded set-up: SQLite in WAL mode
under the data directory, the in-memory channel layer, a local-memory cache and
a Celery broker on the filesystem, so nothing needs to be installed beside
Python. Production only adds variables (README, "Configuration"):
DATABASE_URL, REDIS_URL, SECRET_KEY or SECRET_KEY_FILE, DEBUG, ALLOWED_HOSTS,
CSRF_TRUSTED_ORIGINS, OASST_DATA_DIR and the OASST_* thresholds.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from oasst.lib.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = Path(env_str("OASST_DATA_DIR") or BASE_DIR / "data").resolve()
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"OASST_DATA_DIR {DATA_DIR} cannot be created: {exc}") from None

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
# "Production" means a shared database: then several processes and machines
# may serve the site, and it is assumed to sit behind HTTPS unless told not to.
PRODUCTION = bool(DATABASE_URL) and not DATABASE_URL.startswith("sqlite")

DEBUG = env_bool("DEBUG", False)


def _embedded_secret_key() -> str:
    """Generate the secret key once and keep it, readable only by us, in the data directory."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set with DATABASE_URL")
    SECRET_KEY = _embedded_secret_key()
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://, got {_origin!r}"
        )

# HTTPS hardening is on in production; OASST_HTTPS=false turns it off for a
# private network without TLS.
HTTPS = env_bool("OASST_HTTPS", PRODUCTION)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("OASST_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("OASST_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("OASST_SESSION_DAYS", 30, minimum=1) * 24 * 3600

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "oasst.accounts",
    "oasst.health",
    "oasst.trees",
    "oasst.inference",
    "oasst.training",
    "oasst.chat",
    "oasst.exports",
    "oasst.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "oasst.accounts.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "oasst.urls"
ASGI_APPLICATION = "oasst.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oasst.context_processors.site",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
if DATABASE_URL:
    # Under ASGI each concurrent request runs its synchronous code in a thread
    # of its own, so persistent connections (CONN_MAX_AGE) pile up, one per
    # thread, until PostgreSQL refuses more. A pool per process hands
    # connections out per request and takes them back instead.
    DB_POOL_SIZE = env_int("OASST_DB_POOL_SIZE", 10, minimum=0)
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DB_POOL_SIZE:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": 30,
        }
    # The task selector's candidate queries are bound on the server and
    # prepared (trees/selection.py): psycopg prepares a server-bound statement
    # on its first run, and the connection plans it once, generically. Django's
    # own queries are bound on the client, so neither setting reaches them
    # (and a pooler in transaction mode, which prepared statements would
    # confuse, is not part of this set-up: the pool above is).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("prepare_threshold", 0)
    _options["options"] = (
        f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
    )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Keep connections open: Channels closes "old" connections around
            # every database_sync_to_async call, and with the default of 0 each
            # call of the chat socket paid for a new connection and its PRAGMAs
            # (about 2.5 ms, several times before a first token). A connection
            # is a file handle here, so one per thread costs nothing like the
            # PostgreSQL connections the pool above exists for.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                # WAL lets readers run while one writer writes; IMMEDIATE makes a
                # writing transaction take the lock at BEGIN, so two writers
                # queue on busy_timeout instead of failing half-way.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Web processes (python -m oasst.serve) -------------------------------------------
# Each web process keeps about one CPU core busy (Python's interpreter lock);
# more use more cores. They share the cache and the channel layer only
# through Redis.
OASST_WEB_PROCESSES = env_int("OASST_WEB_PROCESSES", 1, minimum=1)
if OASST_WEB_PROCESSES > 1 and not REDIS_URL:
    raise ImproperlyConfigured(
        "OASST_WEB_PROCESSES > 1 needs REDIS_URL: web processes share the cache "
        "(rate limits) and the channel layer only through Redis"
    )

# --- Cache, channel layer, Celery ------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "oasst",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "oasst:channels", "capacity": 1500},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    # One web process in embedded mode, so a local-memory cache is shared by
    # every request that needs it (rate limits, short-lived state).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    BROKER_DIR = DATA_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange bindings (broadcast, the worker's control pidbox) live here too;
        # kombu's default is a "control" folder under the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'results'}"

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs, keyed by name; each app's entries are added next to its jobs.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "oasst.health.jobs.heartbeat", "schedule": 30.0},
}

# --- Tree engine (oasst.trees) ---------------------------------------------------
# Open-Assistant's tree-manager defaults (reference/oa-backend.md §3.1, §3.9);
# each can be overridden by the environment variable of the same name, so an
# operator or a test can make trees complete with a handful of volunteers.
OASST_GOAL_TREE_SIZE = env_int("OASST_GOAL_TREE_SIZE", 12, minimum=1)
OASST_MAX_TREE_DEPTH = env_int("OASST_MAX_TREE_DEPTH", 3, minimum=1)
OASST_MAX_CHILDREN_COUNT = env_int("OASST_MAX_CHILDREN_COUNT", 3, minimum=1)
OASST_NUM_PROMPTER_REPLIES = env_int("OASST_NUM_PROMPTER_REPLIES", 1, minimum=1)
OASST_MAX_ACTIVE_TREES = env_int("OASST_MAX_ACTIVE_TREES", 10, minimum=0)
OASST_MAX_INITIAL_PROMPT_REVIEW = env_int("OASST_MAX_INITIAL_PROMPT_REVIEW", 100, minimum=0)
OASST_MAX_PROMPT_LOTTERY_WAITING = env_int("OASST_MAX_PROMPT_LOTTERY_WAITING", 250, minimum=0)
OASST_NUM_REVIEWS_INITIAL_PROMPT = env_int("OASST_NUM_REVIEWS_INITIAL_PROMPT", 3, minimum=1)
OASST_NUM_REVIEWS_REPLY = env_int("OASST_NUM_REVIEWS_REPLY", 3, minimum=1)
OASST_NUM_REQUIRED_RANKINGS = env_int("OASST_NUM_REQUIRED_RANKINGS", 3, minimum=1)
OASST_ACCEPTANCE_THRESHOLD_INITIAL_PROMPT = env_float(
    "OASST_ACCEPTANCE_THRESHOLD_INITIAL_PROMPT", 0.6, minimum=0.0, maximum=1.0
)
OASST_ACCEPTANCE_THRESHOLD_REPLY = env_float(
    "OASST_ACCEPTANCE_THRESHOLD_REPLY", 0.6, minimum=0.0, maximum=1.0
)
OASST_AUTO_MOD_ENABLED = env_bool("OASST_AUTO_MOD_ENABLED", True)
OASST_AUTO_MOD_RED_FLAGS = env_int("OASST_AUTO_MOD_RED_FLAGS", 4, minimum=1)
OASST_AUTO_MOD_MAX_SKIP_REPLY = env_int("OASST_AUTO_MOD_MAX_SKIP_REPLY", 25, minimum=1)
OASST_P_FULL_LABELING_REVIEW_PROMPT = env_float(
    "OASST_P_FULL_LABELING_REVIEW_PROMPT", 1.0, minimum=0.0, maximum=1.0
)
OASST_P_FULL_LABELING_REVIEW_REPLY_ASSISTANT = env_float(
    "OASST_P_FULL_LABELING_REVIEW_REPLY_ASSISTANT", 1.0, minimum=0.0, maximum=1.0
)
# OA's config says 0.25 but its next_task overwrote it with 0.1 ([quirk]); the
# configured value is the one we use.
OASST_P_FULL_LABELING_REVIEW_REPLY_PROMPTER = env_float(
    "OASST_P_FULL_LABELING_REVIEW_REPLY_PROMPTER", 0.25, minimum=0.0, maximum=1.0
)
OASST_P_ACTIVATE_BACKLOG_TREE = env_float(
    "OASST_P_ACTIVATE_BACKLOG_TREE", 0.1, minimum=0.0, maximum=1.0
)
OASST_MIN_ACTIVE_RANKINGS_PER_LANG = env_int("OASST_MIN_ACTIVE_RANKINGS_PER_LANG", 0, minimum=0)
OASST_RANK_PROMPTER_REPLIES = env_bool("OASST_RANK_PROMPTER_REPLIES", False)
OASST_LONELY_CHILDREN_COUNT = env_int("OASST_LONELY_CHILDREN_COUNT", 2, minimum=1)
OASST_P_LONELY_CHILD_EXTENSION = env_float(
    "OASST_P_LONELY_CHILD_EXTENSION", 0.75, minimum=0.0, maximum=1.0
)
OASST_RECENT_TASKS_SPAN_SEC = env_int("OASST_RECENT_TASKS_SPAN_SEC", 300, minimum=1)
OASST_MAX_PENDING_TASKS_PER_USER = env_int("OASST_MAX_PENDING_TASKS_PER_USER", 8, minimum=1)
OASST_INIT_PROMPT_DISABLED_LANGS = env_list("OASST_INIT_PROMPT_DISABLED_LANGS", [])
OASST_TASK_VALIDITY_MINUTES = env_int("OASST_TASK_VALIDITY_MINUTES", 2880, minimum=1)
OASST_MESSAGE_SIZE_LIMIT = env_int("OASST_MESSAGE_SIZE_LIMIT", 2000, minimum=1)
OASST_DUPLICATE_MESSAGE_FILTER_WINDOW_MINUTES = env_int(
    "OASST_DUPLICATE_MESSAGE_FILTER_WINDOW_MINUTES", 120, minimum=0
)
OASST_LOTTERY_MAX_ACTIVATE_TASK = env_int("OASST_LOTTERY_MAX_ACTIVATE_TASK", 2, minimum=0)
OASST_LOTTERY_MAX_ACTIVATE_AVAILABILITY = env_int(
    "OASST_LOTTERY_MAX_ACTIVATE_AVAILABILITY", 1, minimum=0
)
# Rate limits (§3.9): "<times> per <minutes>", cache-backed (Redis in production).
OASST_RATE_LIMIT = env_bool("OASST_RATE_LIMIT", True)
OASST_RATE_LIMIT_TASK_USER_TIMES = env_int("OASST_RATE_LIMIT_TASK_USER_TIMES", 30, minimum=1)
OASST_RATE_LIMIT_TASK_USER_MINUTES = env_int("OASST_RATE_LIMIT_TASK_USER_MINUTES", 4, minimum=1)
OASST_RATE_LIMIT_TASK_API_TIMES = env_int("OASST_RATE_LIMIT_TASK_API_TIMES", 10000, minimum=1)
OASST_RATE_LIMIT_TASK_API_MINUTES = env_int("OASST_RATE_LIMIT_TASK_API_MINUTES", 1, minimum=1)
OASST_RATE_LIMIT_ASSISTANT_USER_TIMES = env_int(
    "OASST_RATE_LIMIT_ASSISTANT_USER_TIMES", 4, minimum=1
)
OASST_RATE_LIMIT_ASSISTANT_USER_MINUTES = env_int(
    "OASST_RATE_LIMIT_ASSISTANT_USER_MINUTES", 2, minimum=1
)
OASST_RATE_LIMIT_PROMPTER_USER_TIMES = env_int("OASST_RATE_LIMIT_PROMPTER_USER_TIMES", 8, minimum=1)
OASST_RATE_LIMIT_PROMPTER_USER_MINUTES = env_int(
    "OASST_RATE_LIMIT_PROMPTER_USER_MINUTES", 2, minimum=1
)
# Volunteer pages (oasst.web): how long after writing a message its author may still edit it.
OASST_SELF_EDIT_WINDOW_MINUTES = env_int("OASST_SELF_EDIT_WINDOW_MINUTES", 120, minimum=0)
# OA's DEBUG_IGNORE_TOS_ACCEPTANCE defaulted to True; here the terms count.
OASST_REQUIRE_TOS = env_bool("OASST_REQUIRE_TOS", True)
OASST_DB_MAX_RETRIES = env_int("OASST_DB_MAX_RETRIES", 3, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "trees-expire-tasks": {"task": "oasst.trees.jobs.expire_tasks", "schedule": 3600.0},
        "trees-run-lottery": {"task": "oasst.trees.jobs.run_lottery", "schedule": 60.0},
        "trees-check-active-trees": {
            "task": "oasst.trees.jobs.check_active_trees",
            "schedule": 600.0,
        },
        "trees-retry-scoring": {"task": "oasst.trees.jobs.retry_scoring", "schedule": 3600.0},
    }
)

# --- Exports (oasst.exports) -------------------------------------------------------
# Published export files live here; old ones are deleted after the retention.
OASST_EXPORT_DIR = Path(env_str("OASST_EXPORT_DIR") or DATA_DIR / "exports")
OASST_EXPORT_RETENTION_DAYS = env_int("OASST_EXPORT_RETENTION_DAYS", 30, minimum=1)
# A running export that saved no progress for this long lost its worker.
OASST_EXPORT_STALE_MINUTES = env_int("OASST_EXPORT_STALE_MINUTES", 30, minimum=1)
# The anonymiser's secret salt; when unset one is generated once and kept
# (mode 0600) in the data directory, so anonymised ids stay stable between exports.
OASST_EXPORT_SALT = env_secret("OASST_EXPORT_SALT")
CELERY_BEAT_SCHEDULE["exports-expire"] = {
    "task": "oasst.exports.jobs.expire_exports",
    "schedule": 3600.0,
}

# --- Accounts -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
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
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("OASST_EMAIL_VERIFICATION", "none")
if ACCOUNT_EMAIL_VERIFICATION not in {"none", "optional", "mandatory"}:
    raise ImproperlyConfigured("OASST_EMAIL_VERIFICATION must be none, optional or mandatory")
ACCOUNT_ADAPTER = "oasst.accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "signup": "20/h/ip"}
ACCOUNT_SIGNUP_OPEN = env_bool("OASST_SIGNUP_OPEN", True)
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
# OAuth/OIDC sign-in is off unless a provider's client id and secret are set.
for _provider in ("github", "google", "discord", "gitlab"):
    _client_id = env_str(f"OASST_OAUTH_{_provider.upper()}_CLIENT_ID")
    if _client_id:
        INSTALLED_APPS.append(f"allauth.socialaccount.providers.{_provider}")
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APPS": [
                {
                    "client_id": _client_id,
                    "secret": env_secret(f"OASST_OAUTH_{_provider.upper()}_SECRET"),
                }
            ]
        }
if env_str("OASST_OIDC_SERVER_URL"):
    INSTALLED_APPS.append("allauth.socialaccount.providers.openid_connect")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "oidc",
                "name": env_str("OASST_OIDC_NAME", "Single sign-on"),
                "client_id": env_str("OASST_OIDC_CLIENT_ID"),
                "secret": env_secret("OASST_OIDC_SECRET"),
                "settings": {
                    "server_url": env_url("OASST_OIDC_SERVER_URL", schemes=("https", "http"))
                },
            }
        ]
    }

# --- E-mail -------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "oasst <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("OASST_STATIC_ROOT") or DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from static/ when collectstatic has not been run (embedded).
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

# --- Site ---------------------------------------------------------------------
OASST_SITE_NAME = env_str("OASST_SITE_NAME", "oasst")
NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("OASST_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Models, the runner and the chat (README, "Chat and models") -------------
OASST_MODELS_DIR = Path(env_str("OASST_MODELS_DIR") or DATA_DIR / "models").resolve()
# "local" runs models in the web process; "remote" sends generations to
# `manage.py runworker inference` processes over the (Redis) channel layer.
OASST_RUNNER = env_str("OASST_RUNNER", "local")
if OASST_RUNNER not in {"local", "remote"}:
    raise ImproperlyConfigured(f"OASST_RUNNER must be local or remote, got {OASST_RUNNER!r}")
OASST_RUNNER_QUEUE_SIZE = env_int("OASST_RUNNER_QUEUE_SIZE", 32, minimum=1)
OASST_RUNNER_USER_LIMIT = env_int("OASST_RUNNER_USER_LIMIT", 4, minimum=1)
OASST_RUNNER_MAX_BATCH = env_int("OASST_RUNNER_MAX_BATCH", 8, minimum=1, maximum=256)
OASST_RUNNER_TIME_LIMIT = env_float("OASST_RUNNER_TIME_LIMIT", 300.0, minimum=1)
OASST_RUNNER_QUEUE_TIMEOUT = env_float("OASST_RUNNER_QUEUE_TIMEOUT", 120.0, minimum=1)
OASST_RUNNER_THREADS = env_int("OASST_RUNNER_THREADS", 0, minimum=0)
OASST_RUNNER_WARMUP = env_bool("OASST_RUNNER_WARMUP", True)
OASST_CHAT_MAX_PROMPT_CHARS = env_int("OASST_CHAT_MAX_PROMPT_CHARS", 8000, minimum=1)
OASST_CHAT_MAX_DRAFTS = env_int("OASST_CHAT_MAX_DRAFTS", 3, minimum=1, maximum=8)
OASST_CHAT_RATE_LIMIT = env_int("OASST_CHAT_RATE_LIMIT", 20, minimum=1)
OASST_CHAT_RATE_WINDOW = env_int("OASST_CHAT_RATE_WINDOW", 600, minimum=1)
OASST_CHAT_ALLOW_DATA_USE_DEFAULT = env_bool("OASST_CHAT_ALLOW_DATA_USE_DEFAULT", False)
OASST_CHAT_RECONNECT_GRACE = env_float("OASST_CHAT_RECONNECT_GRACE", 10.0, minimum=0)
