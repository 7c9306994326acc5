from django.apps import AppConfig


class SessionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "charging_sessions"  # "sessions" is taken by django.contrib.sessions
    verbose_name = "Charging sessions"
