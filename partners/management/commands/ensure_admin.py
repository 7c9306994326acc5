"""Create a superuser for local use if none exists, and print the login (make run)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local admin user (ADMIN_USERNAME/ADMIN_PASSWORD, default admin/admin) if missing."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD", "admin")
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created admin user. Login: {username} / {password}")
        else:
            self.stdout.write(f"Admin user exists. Login: {username} (password unchanged)")
