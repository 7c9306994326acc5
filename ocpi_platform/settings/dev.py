"""Local development and `make run`: SQLite and inline Celery tasks unless the environment says otherwise."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me")
os.environ.setdefault("DATABASE_URL", "sqlite:///db.sqlite3")

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Two local platforms may connect to each other over http on loopback.
OCPI_ALLOW_HTTP_URLS = env.bool("OCPI_ALLOW_HTTP_URLS", default=True)
OCPI_ALLOWED_PRIVATE_NETWORKS = env.list("OCPI_ALLOWED_PRIVATE_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# runserver serves static files itself; whitenoise is for gunicorn in production.
MIDDLEWARE = [m for m in MIDDLEWARE if "whitenoise" not in m]  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# `make run` (eager tasks, no worker, no beat): the runserver process runs the beat schedule in a thread
# (retries of failed pushes, expiries, periodic pulls); with a worker and a beat (REDIS_URL) it stays off.
OCPI_INPROCESS_BEAT = env.bool("OCPI_INPROCESS_BEAT", default=CELERY_TASK_ALWAYS_EAGER)  # noqa: F405
