"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

urlpatterns: list = []
