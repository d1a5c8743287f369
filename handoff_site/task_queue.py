"""Tasks are enqueued with ids, and only after the transaction that made their work commits."""

import functools
import logging
from datetime import datetime

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.models import Schedule
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


@functools.cache
def _broker() -> Broker:
    # One per process: django-q2 builds a new broker, so a new Redis connection (connect and
    # handshake), for every task it is not given one, in the middle of the request that enqueues.
    # redis-py's pool is thread-safe and starts afresh in a forked child.
    return get_broker()


def enqueue(func: str, *args) -> None:
    try:
        async_task(func, *args, broker=_broker())
    except Exception:
        # The row is committed in its pending state; the minute sweep enqueues it again.
        logger.exception("Could not enqueue %s%r", func, args)


def enqueue_on_commit(func: str, *args) -> None:
    transaction.on_commit(lambda: enqueue(func, *args))


def schedule_once(name: str, func: str, *args, at: datetime) -> None:
    """Run `func(*args)` once at `at`, through the cluster's scheduler (deleted after it runs).

    A schedule row written inside a transaction exists exactly when that transaction commits.
    """
    Schedule.objects.create(
        name=name, func=func, args=repr(args), schedule_type=Schedule.ONCE, repeats=-1, next_run=at,
    )
