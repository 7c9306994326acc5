"""All settings, read from the environment (django-environ). Production runs on this module directly.

dev.py and test.py override a handful of values for local use; secrets have no default here.
"""

from pathlib import Path

import environ

from ocpi_platform.timezones import staff_time_zone_default

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "nested_admin",  # Location > EVSEs > Connectors edited on one admin page (locations/admin.py)
    "rest_framework",
    "drf_spectacular",  # OpenAPI of the OCPI endpoints at /ocpi/schema/ (ocpi_platform/ocpi/openapi/)
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc assets served from our static files (offline docs)
    "partners",
    "locations",
    "tariffs",
    "tokens",
    "sessions",
    "cdrs",
    "chargepoints",  # charge point gateway events and simulator (above sessions and cdrs)
    "backoffice",  # staff pages over several apps: the dashboard (top layer, beside chargepoints)
]

MIDDLEWARE = [
    "ocpi_platform.ocpi.middleware.OcpiMiddleware",
    "partners.hub_routing.HubRoutingMiddleware",  # requests through a Hub: OCPI-to/from-* checks
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "backoffice.not_found.NotFoundPageMiddleware",  # no debug 404 page outside /ocpi/ (issue 13)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "backoffice.middleware.StaffTimeZoneMiddleware",  # /admin/ pages in STAFF_TIME_ZONE
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ocpi_platform.urls"
WSGI_APPLICATION = "ocpi_platform.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
# SQLite (make run, quick local runs) is written by the web server's threads, inline tasks and management
# commands at once: wait for the lock instead of failing with "database is locked", take the write lock when a
# transaction starts (a deferred one that upgrades later fails at once, whatever the timeout), and let readers go
# on while one connection writes (WAL).
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's hashers (the first hashes staff passwords), plus the one for charge points' HTTP Basic passwords, used
# only where asked for (chargepoints/hashers.py: PBKDF2 at 20,000 iterations, checked at every OCPP connection).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "chargepoints.hashers.ChargePointPasswordHasher",
]
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
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Production security (check --deploy); dev.py relaxes them.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6 default, opted into now
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("OCPI_MAX_BODY_BYTES", default=2 * 1024 * 1024)

# --- Django REST Framework: OCPI endpoints only -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["ocpi_platform.ocpi.renderers.OcpiJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["ocpi_platform.ocpi.parsers.OcpiJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["ocpi_platform.ocpi.auth.OcpiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["ocpi_platform.ocpi.auth.IsRegisteredPartner"],
    "EXCEPTION_HANDLER": "ocpi_platform.ocpi.exceptions.ocpi_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "ocpi_platform.ocpi.openapi.OcpiAutoSchema",
}

# --- OpenAPI (drf-spectacular): the description partners read at /ocpi/schema/ -------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "OCPI 2.2.1 back office (CPO and eMSP)",
    "VERSION": "2.2.1",
    "OAS_VERSION": "3.0.3",
    # The schema pages are public (no OCPI token) and outside the OCPI envelope.
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/ocpi/",
    "COMPONENT_SPLIT_PATCH": True,
    "ENFORCE_NON_BLANK_FIELDS": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # Enum components are named after the OCPI types by our own hook (not postprocess_schema_enums).
    "POSTPROCESSING_HOOKS": ["ocpi_platform.ocpi.openapi.postprocess_schema"],
    "DEFAULT_GENERATOR_CLASS": "ocpi_platform.ocpi.openapi.OcpiSchemaGenerator",
    "DISABLE_ERRORS_AND_WARNINGS": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar: the docs pages load nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# `make run` without a worker and a beat: a thread of the runserver process runs CELERY_BEAT_SCHEDULE itself
# (ocpi_platform/inprocess_beat.py). Off here (production runs celery beat); dev.py turns it on with eager tasks.
OCPI_INPROCESS_BEAT = env.bool("OCPI_INPROCESS_BEAT", default=False)
CELERY_BEAT_SCHEDULE = {
    "message-log-purge": {"task": "partners.tasks.message_log_purge", "schedule": 3600.0},
    "outbox-purge-finished": {"task": "partners.tasks.outbox_purge_finished", "schedule": 3600.0},
    # Commands we sent whose async result never came are marked TIMEOUT.
    "command-expire-overdue": {"task": "sessions.tasks.command_expire_overdue", "schedule": 30.0},
    # Reservations (RESERVE_NOW at our charge points) whose expiry_date has passed: EXPIRED, session COMPLETED.
    "reservation-expire-due": {
        "task": "sessions.tasks.reservation_expire_due",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Our tokens whose expires_at has come: valid=false, pushed to the CPOs (authorization says EXPIRED at once).
    "token-expire-due": {"task": "tokens.tasks.token_expire_due", "schedule": 60.0, "options": {"expires": 55}},
    # Outbox safety net: re-queue due deliveries whose task was lost; expires so runs never pile up.
    "outbox-requeue-due": {"task": "partners.tasks.outbox_requeue_due", "schedule": 30.0, "options": {"expires": 25}},
    # Pull sync: queue the partners' periodic DELTA pulls whose PullState.interval_minutes has elapsed.
    "partner-pull-due": {"task": "partners.tasks.partner_pull_due", "schedule": 300.0, "options": {"expires": 290}},
}

# --- OCPI: this platform's identity and protocol limits -----------------------------------------
# The base of every URL we advertise (versions, endpoints, Link headers, response_url).
OCPI_BASE_URL = env("OCPI_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The parties this platform hosts, "ROLE:CC:PID:Name" separated by commas. Created on migrate.
OCPI_PARTIES = env.list("OCPI_PARTIES", default=["CPO:NL:EXA:Example CPO", "EMSP:NL:EXA:Example eMSP"])
# Times on the staff pages (/admin/); stored values and the OCPI API stay UTC. Default: the zone of the first
# party's country (ocpi_platform/timezones.py), Europe/Amsterdam when that country has several zones or is unknown.
STAFF_TIME_ZONE = env("STAFF_TIME_ZONE", default=staff_time_zone_default(OCPI_PARTIES))
# Largest page a Sender list returns (announced in X-Limit); default page when no limit is asked.
OCPI_PAGE_LIMIT_MAX = env.int("OCPI_PAGE_LIMIT_MAX", default=1000)
OCPI_PAGE_LIMIT_DEFAULT = env.int("OCPI_PAGE_LIMIT_DEFAULT", default=100)
# X-Total-Count is counted exactly on a list's first page and cached per filter for this many seconds for the
# later pages (ocpi_platform/ocpi/pagination.py); 0 counts on every page.
OCPI_TOTAL_COUNT_TTL = env.int("OCPI_TOTAL_COUNT_TTL", default=30)
# Outbound calls: refuse partner URLs that are not https or resolve to non-public addresses, except
# for the networks listed here (dev/test: loopback). Never widen this in production without reason.
OCPI_ALLOW_HTTP_URLS = env.bool("OCPI_ALLOW_HTTP_URLS", default=False)
OCPI_ALLOWED_PRIVATE_NETWORKS = env.list("OCPI_ALLOWED_PRIVATE_NETWORKS", default=[])
OCPI_HTTP_TIMEOUT_SECONDS = env.float("OCPI_HTTP_TIMEOUT_SECONDS", default=10.0)
# Message log: bodies truncated to this many characters; rows older than the retention are purged.
OCPI_MESSAGE_LOG_BODY_CHARS = env.int("OCPI_MESSAGE_LOG_BODY_CHARS", default=4000)
OCPI_MESSAGE_LOG_RETENTION_DAYS = env.int("OCPI_MESSAGE_LOG_RETENTION_DAYS", default=30)
# Inbound rows are written in batches by a thread of each web process at this interval (partners/message_log.py);
# 0 writes each row within its request.
OCPI_MESSAGE_LOG_FLUSH_SECONDS = env.float("OCPI_MESSAGE_LOG_FLUSH_SECONDS", default=0.2)
# OCPP server (manage.py ocpp_server): threads running the handlers' database work (0: 8, 1 on SQLite); threads
# checking HTTP Basic passwords and how many checks may wait for them (beyond: 503 + Retry-After); the message log
# batch interval (0: each frame written before it is handled); seconds a charge point has to finish the WebSocket
# opening handshake.
OCPP_DB_THREADS = env.int("OCPP_DB_THREADS", default=0)
OCPP_AUTH_THREADS = env.int("OCPP_AUTH_THREADS", default=2)
OCPP_AUTH_QUEUE = env.int("OCPP_AUTH_QUEUE", default=8)
OCPP_MESSAGE_LOG_FLUSH_SECONDS = env.float("OCPP_MESSAGE_LOG_FLUSH_SECONDS", default=0.5)
OCPP_OPEN_TIMEOUT = env.float("OCPP_OPEN_TIMEOUT", default=30.0)
# Hot-path statements (ocpi_platform/ocpi/sql.py) are prepared server-side on PostgreSQL; switch off behind a
# pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
OCPI_DB_PREPARED_STATEMENTS = env.bool("OCPI_DB_PREPARED_STATEMENTS", default=True)
# Outbox (reliable pushes): attempts before dead-lettering, exponential backoff with jitter between them.
OCPI_OUTBOX_MAX_ATTEMPTS = env.int("OCPI_OUTBOX_MAX_ATTEMPTS", default=12)
OCPI_OUTBOX_BACKOFF_BASE_SECONDS = env.float("OCPI_OUTBOX_BACKOFF_BASE_SECONDS", default=5.0)
OCPI_OUTBOX_BACKOFF_MAX_SECONDS = env.float("OCPI_OUTBOX_BACKOFF_MAX_SECONDS", default=3600.0)
OCPI_OUTBOX_RETENTION_DAYS = env.int("OCPI_OUTBOX_RETENTION_DAYS", default=30)
OCPI_OUTBOX_PARTNER_CONCURRENCY = env.int("OCPI_OUTBOX_PARTNER_CONCURRENCY", default=2)
# A partner's drain (partners/outbox/drain.py): deliveries claimed per statement, and how long one drain task sends
# before it re-queues itself so that other partners' drains get the worker.
OCPI_OUTBOX_DRAIN_BATCH = env.int("OCPI_OUTBOX_DRAIN_BATCH", default=50)
OCPI_OUTBOX_DRAIN_SECONDS = env.float("OCPI_OUTBOX_DRAIN_SECONDS", default=5.0)
# Initial sync (a partner that connects a Locations/Tariffs/Tokens Receiver gets what it should hold):
OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS = env.float("OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS", default=5.0)
OCPI_OUTBOX_INITIAL_SYNC_CHUNK = env.int("OCPI_OUTBOX_INITIAL_SYNC_CHUNK", default=500)
OCPI_OUTBOX_BACKLOG_PER_SECOND = env.float("OCPI_OUTBOX_BACKLOG_PER_SECOND", default=1.0)
# Progress PATCHes of a running session go to the eMSP at most this often (the final state always goes).
OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = env.float("OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS", default=60.0)
# CPO side: how long we wait for an eMSP's real-time authorization before the whitelist fallback.
OCPI_REALTIME_AUTH_TIMEOUT_SECONDS = env.float("OCPI_REALTIME_AUTH_TIMEOUT_SECONDS", default=2.0)
# Commands: the timeout announced in CommandResponse; a charge point silent for longer gives TIMEOUT.
OCPI_COMMAND_TIMEOUT_SECONDS = env.int("OCPI_COMMAND_TIMEOUT_SECONDS", default=30)
# Received CDRs whose cost differs from what the partner's tariff gives by more than this are flagged.
OCPI_CDR_COST_TOLERANCE = env.float("OCPI_CDR_COST_TOLERANCE", default=0.01)
# Inbound rate limit per partner (credentials token): a token bucket refilled at this many requests per
# second, holding at most OCPI_RATE_LIMIT_BURST; beyond it HTTP 429 + Retry-After. 0 switches it off.
OCPI_RATE_LIMIT_PER_SECOND = env.float("OCPI_RATE_LIMIT_PER_SECOND", default=50.0)
OCPI_RATE_LIMIT_BURST = env.float("OCPI_RATE_LIMIT_BURST", default=100.0)
# The buckets live in the default cache: Redis (shared by every web process) when REDIS_URL is set.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "ocpi"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ocpi"}
    )
}
# --- Charge points --------------------------------------------------------------------------------
# The gateway OCPI commands and charging profiles go through: the simulator (demo), or real OCPP charge points
# through `manage.py ocpp_server` ("chargepoints.ocpp_gateway.gateway.OcppGateway").
OCPI_GATEWAY = env("OCPI_GATEWAY", default="chargepoints.simulator.SimulatorGateway")
# The Redis the OCPP server processes and Django/Celery exchange charge point calls through (default REDIS_URL).
OCPP_REDIS_URL = env("OCPP_REDIS_URL", default="")
# The Heartbeat interval given to charge points in BootNotification; one silent for OCPP_STALE_HEARTBEATS
# intervals is shown offline.
OCPP_HEARTBEAT_INTERVAL = env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
OCPP_STALE_HEARTBEATS = env.int("OCPP_STALE_HEARTBEATS", default=3)
# Admin map of locations: the tile server (empty: no tiles, markers on a blank background), its attribution, and
# the most markers one view loads.
OCPI_MAP_TILE_URL = env("OCPI_MAP_TILE_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
OCPI_MAP_TILE_ATTRIBUTION = env(
    "OCPI_MAP_TILE_ATTRIBUTION",
    default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)
OCPI_MAP_MAX_LOCATIONS = env.int("OCPI_MAP_MAX_LOCATIONS", default=5000)

# Hooks the generic OCPI layer calls into the partners app (the layer imports no app).
OCPI_TOKEN_RESOLVER = "partners.selectors.partner_token_resolve"
OCPI_MESSAGE_RECORDER = "partners.services.message_log_record"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # the `ocpp` library logs every frame at INFO: OcppMessage already keeps them (OCPP_LIBRARY_LOG_LEVEL)
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "ocpp": {"level": env("OCPP_LIBRARY_LOG_LEVEL", default="WARNING")},
    },
}
