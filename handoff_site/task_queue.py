"""Tasks are enqueued with ids, and only after the transaction that made their work commits."""

import logging

from django.db import transaction
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


def enqueue(func: str, *args) -> None:
    try:
        async_task(func, *args)
    except Exception:
        # The row is committed in its pending state; the minute sweep enqueues it again.
        logger.exception("Could not enqueue %s%r", func, args)


def enqueue_on_commit(func: str, *args) -> None:
    transaction.on_commit(lambda: enqueue(func, *args))
