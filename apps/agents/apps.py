from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "apps.agents"
    verbose_name = "Agents"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the token's OpenAPI security scheme
