from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "apps.backoffice"
    verbose_name = "Back-office"
