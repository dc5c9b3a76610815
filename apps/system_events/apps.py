from django.apps import AppConfig


class SystemEventsConfig(AppConfig):
    name = "apps.system_events"
    verbose_name = "System events"
