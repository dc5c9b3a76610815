from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "apps.portfolio"
    verbose_name = "Portfolio"
