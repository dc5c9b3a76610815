from django.apps import AppConfig


class SystemEventsConfig(AppConfig):
    name = "apps.system_events"
    verbose_name = "System events"

    def ready(self) -> None:
        from apps.common.redis import redis_unreachable

        from .receivers import record_redis_outage

        redis_unreachable.connect(record_redis_outage, dispatch_uid="system_events.redis_outage")
