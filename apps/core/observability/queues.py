"""portal_celery_queue_depth: messages waiting in each Celery queue, read from Redis at scrape time.

Scale ingestion workers on this gauge (roadmap 6.2). Every web replica reports the same value;
aggregate with max(), not sum(). A broker that cannot be reached yields no samples, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps one list per priority step: "<queue>" and "<queue>\x06\x16<priority>".
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def celery_queue_names() -> list[str]:
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    for route in settings.CELERY_TASK_ROUTES.values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(route["queue"])
    return sorted(names)


def celery_queue_depths() -> dict[str, int]:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )
    try:
        pipe = client.pipeline(transaction=False)
        names = celery_queue_names()
        for name in names:
            pipe.llen(name)
            for step in PRIORITY_STEPS:
                pipe.llen(f"{name}{PRIORITY_SEPARATOR}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


class CeleryQueueDepthCollector:
    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "portal_celery_queue_depth",
            "Messages waiting in a Celery queue (not yet taken by a worker)",
            labels=["queue"],
        )
        try:
            depths = celery_queue_depths()
        except (redis.RedisError, OSError) as error:
            logger.warning("queue depth unavailable: %s", type(error).__name__)
            depths = {}
        for name, depth in depths.items():
            family.add_metric([name], depth)
        yield family
