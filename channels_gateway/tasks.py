"""Worker entry points: each a line that calls a service."""

from channels_gateway.services import deliver_message as deliver


def deliver_message(message_id: int) -> str:
    return deliver(message_id=message_id)
