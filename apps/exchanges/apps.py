from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    name = "apps.exchanges"
    verbose_name = "Exchanges"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the startup check
