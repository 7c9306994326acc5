"""`manage.py check --deploy` is clean with production settings (base.py plus the environment)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/0"], ids=["locmem-cache", "redis-cache"])
def test_check_deploy_is_clean_with_production_settings(redis_url: str, tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "OCPI_", "DATABASE_URL", "REDIS_URL", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ocpi_platform.settings.base",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        DJANGO_ALLOWED_HOSTS="ocpi.example.com",
        REDIS_URL=redis_url,  # only configures the cache: `check` opens no connection to it
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output
    assert "WARNING" not in output and "?:" not in output, output
