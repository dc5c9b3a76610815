"""GET /api/v1/health/: PostgreSQL, Redis and Qdrant each reported up or down."""

from __future__ import annotations

import time

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.memory.services import memory_health


class StoreHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["up", "down"])
    detail = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    postgresql = StoreHealthSerializer()
    redis = StoreHealthSerializer()
    qdrant = StoreHealthSerializer()


def _postgresql() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {
            "status": "down",
            "detail": f"PostgreSQL is unreachable: {type(exc).__name__}",
            "latency_ms": None,
        }
    latency = round((time.monotonic() - started) * 1000, 2)
    return {"status": "up", "detail": "PostgreSQL answers.", "latency_ms": latency}


def _memory() -> dict[str, dict]:
    return {
        store: {
            "status": "up" if health.ok else "down",
            "detail": health.detail,
            "latency_ms": health.latency_ms,
        }
        for store, health in memory_health().items()
    }


class HealthView(APIView):
    """Always 200 while the API itself runs: the body says which store is down.

    `ok`: all three up. `degraded`: PostgreSQL up, a memory store down (the record still works;
    recall or short-term memory does not). `down`: PostgreSQL down.
    """

    @extend_schema(summary="Health of PostgreSQL, Redis and Qdrant", responses={200: HealthSerializer})
    def get(self, request):
        stores = {"postgresql": _postgresql(), **_memory()}
        if stores["postgresql"]["status"] == "down":
            overall = "down"
        elif all(s["status"] == "up" for s in stores.values()):
            overall = "ok"
        else:
            overall = "degraded"
        return Response({"status": overall, **stores})
