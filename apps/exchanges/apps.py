from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    name = "apps.exchanges"
    verbose_name = "Exchanges"
