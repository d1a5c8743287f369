"""The one way a service reaches open websockets: a group message after the commit."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def send_to_group(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:
        # The write is committed; an open socket resynchronises from the database on reconnect.
        logger.exception("Could not send %s to %s", message.get("type"), group)


def send_to_group_on_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: send_to_group(group, message))
