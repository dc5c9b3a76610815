from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "apps.reconciliation"
    verbose_name = "Reconciliation"
