"""pytest: DATABASE_URL/REDIS_URL when set (CI: PostgreSQL and Redis), else SQLite and eager tasks."""

from .dev import *  # noqa: F403
from .dev import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "chargepoints.hashers.ChargePointPasswordHasher"]
OCPI_BASE_URL = env("OCPI_BASE_URL", default="http://testserver").rstrip("/")
OCPI_PARTIES = ["CPO:NL:EXA:Example CPO", "EMSP:NL:EXA:Example eMSP"]
OCPI_HTTP_TIMEOUT_SECONDS = 5.0
# Tasks run inline in the test process; the worker tests start a real worker and switch this off for
# themselves (tests/worker.py). The worker subprocess reads CELERY_TASK_ALWAYS_EAGER=0 from its environment.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Each message log row is written within its request (tests read it right after); tests/partners/test_message_log.py
# runs the batch writer itself.
OCPI_MESSAGE_LOG_FLUSH_SECONDS = 0.0
OCPP_MESSAGE_LOG_FLUSH_SECONDS = 0.0  # likewise the OCPP frames (tests/chargepoints/ocpp/test_performance.py batches)
# Never a background beat thread in tests (tests/backoffice/test_inprocess_beat.py runs its tick directly).
OCPI_INPROCESS_BEAT = False
# The per-process credentials cache is off unless a test (or a bench run on these settings) switches it on:
# tests/partners/test_caches.py.
OCPI_CREDENTIALS_CACHE_SECONDS = env.float("OCPI_CREDENTIALS_CACHE_SECONDS", default=0.0)
