"""A platform's webhook into an ongoing conversation, taken on the web process's event loop.

Nearly every webhook is a message into a conversation that already exists, for a connection
this process remembers (remembered_connections.py). Through Django's view that costs two
hand-overs between the event loop and a pool thread, Django's request cycle, and a third
hand-over back to the loop to publish the event, all while the pool threads contend with the
loop for the GIL: the web process spent 2.3 ms of CPU per webhook where the bare relay spends
0.9 (bench/perf, figure 1), and that capped the rate it could sustain. Here the adapter
verifies and reads the request on the loop, the one statement runs on the loop's own
connections (handoff_site/loop_database.py) and the inbox event is published from there.

What needs the ORM runs in a pool thread, through the same services: a thread's first
message (its contact and conversation), a new sender in a shared thread, the AI's turn.

Everything else is left to Django's view (`views.platform_webhook`), which answers every case
and every failure as it always has: a connection this process does not remember, one an
adapter cannot verify without I/O (Google Chat's certificates), credentials refused (they
may have changed), a connection changed since it was read, and any error, the database's
included. Handing over repeats nothing: storing is idempotent, so what was stored here is a
redelivery there.
"""

import logging

import psycopg
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from psycopg_pool import PoolTimeout

from channels_gateway import remembered_connections
from channels_gateway.adapters.base import WebhookRejected
from channels_gateway.adapters.registry import adapter_for, platforms_for_segment
from channels_gateway.services import receive_webhook_messages_on_event_loop
from channels_gateway.views import REFUSED_BY_CREDENTIALS, acknowledgement, platform_webhook, rejection_response
from conversations.services.inbound_store import ConnectionChanged

logger = logging.getLogger(__name__)


async def take(request: HttpRequest) -> HttpResponse | None:
    """The response to a webhook (`/webhooks/…`), or None: Django's view takes `request`."""
    if not settings.WEBHOOKS_ON_EVENT_LOOP:
        return None
    try:
        route = resolve(request.path_info)
    except Resolver404:
        return None
    if route.func is not platform_webhook:
        return None
    segment, key = route.kwargs["segment"], route.kwargs["key"]
    # Only connections read on PostgreSQL are remembered (they carry the row version the statement
    # checks), so on any other database every webhook goes to the view from here.
    connection = remembered_connections.recall(key)
    if connection is None or connection.platform not in platforms_for_segment(segment):
        return None
    adapter = adapter_for(connection.platform)
    if not adapter.verifies_webhooks_in_memory:
        return None
    try:
        outcome = adapter.handle_webhook(connection, request)
    except WebhookRejected as rejected:
        return None if rejected.status in REFUSED_BY_CREDENTIALS else rejection_response(segment, connection, rejected)
    except Exception:
        logger.exception("Could not read a %s webhook on the event loop; Django's view takes it", segment)
        return None
    try:
        await receive_webhook_messages_on_event_loop(connection=connection, messages=outcome.messages)
    except ConnectionChanged:
        return None
    except (psycopg.OperationalError, PoolTimeout) as unavailable:
        # The database is gone or busy: the view meets it too, and answers (503 when it is gone).
        logger.info("The event loop could not store a %s webhook (%s); Django's view takes it", segment,
                    type(unavailable).__name__)
        return None
    except Exception:
        logger.exception("Could not store a %s webhook on the event loop; Django's view takes it", segment)
        return None
    return acknowledgement(outcome)
