"""Worker entry points: each a line that calls a service."""

from channels_gateway.services import deliver_message as deliver
from channels_gateway.webhook_services import deliver_webhook as send_webhook
from channels_gateway.webhook_services import due_webhook_delivery_ids
from handoff_site.task_queue import enqueue


def deliver_message(message_id: int) -> str:
    return deliver(message_id=message_id)


def deliver_webhook(delivery_id: int) -> str:
    return send_webhook(delivery_id=delivery_id)


def sweep_webhook_deliveries() -> int:
    """Every minute: deliveries whose retry is due, or whose task was lost, are sent."""
    due = due_webhook_delivery_ids()
    for delivery_id in due:
        enqueue("channels_gateway.tasks.deliver_webhook", delivery_id)
    return len(due)
