"""Staff finance pages, mounted under /admin/finance/ (before the admin site's catch-all)."""

from django.urls import path

from . import views_finance

app_name = "cdrs_finance"

urlpatterns = [
    path("cdrs/export/", views_finance.cdr_export_view, name="cdr-export"),
    path("cdrs/reconciliation/", views_finance.cdr_reconciliation_view, name="cdr-reconciliation"),
    path("cdrs/reconciliation.csv", views_finance.cdr_reconciliation_csv_view, name="cdr-reconciliation-csv"),
]
