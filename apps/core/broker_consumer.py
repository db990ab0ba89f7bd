"""The Celery worker's broker consumer, repaired so a worker outlives a Redis restart.

Celery 5.7 with the Redis transport, on losing the broker while tasks are in flight (we
acknowledge late, so every running or scheduled task is), collects the broken connection (which
detaches its transport) and then:
- closes it, and that close tries once more to hand the unacknowledged messages back through the
  detached transport and raises AttributeError;
- later acknowledges each in-flight task, once it finishes, on the same detached channel, which
  raises the same AttributeError.
Celery treats either as an unrecoverable error and the worker exits instead of reconnecting: one
Redis restart stopped all ingestion until someone restarted the worker. The chaos suite catches
it (tests/chaos/test_outages.py, a job running when Redis stops).

Here the close tolerates the detachment, and the lost connection's channel stops pretending to
talk to the broker: acknowledgements of its messages are dropped, with a log line. Nothing is
lost or run twice for real: the broker keeps those messages in its unacknowledged set and hands
them out again after the visibility timeout, and a task's job state makes that rerun a no-op
(an ingestion job runs only while queued or running; docs/ingestion.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


def close_after_collect(close: Callable[[], Any]) -> None:
    """Run the close of a broker connection that `collect()` already detached, tolerating that."""
    try:
        close()
    except AttributeError as error:
        logger.warning("lost broker connection closed without handing its messages back (%s)", error)


def acknowledgements_dropped(channel: Any) -> None:
    """Acks and rejects on this (lost) channel are logged, not sent: the broker redelivers later."""

    def dropped(delivery_tag: Any, *_args: Any, **_kwargs: Any) -> None:
        logger.warning(
            "message %s came over a lost broker connection: not acknowledged; the broker hands it "
            "out again after the visibility timeout",
            delivery_tag,
        )

    channel.basic_ack = dropped
    channel.basic_reject = dropped


class BrokerLossTolerantConsumer(Consumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        connection = self.connection
        task_consumer = getattr(self, "task_consumer", None)
        if connection is not None:
            # Instance attributes shadow the methods, for this one lost connection and channel only.
            close = connection.close
            connection.close = lambda: close_after_collect(close)  # type: ignore[method-assign]
        if task_consumer is not None and task_consumer.channel is not None:
            acknowledgements_dropped(task_consumer.channel)
        super().on_connection_error_after_connected(exc)
