"""Outbound webhooks: where an organization wants its events, and every event sent there.

A delivery row is stored in the transaction that made the event, before anything is sent;
the worker then sends it, signed, until the receiver answers 2xx or a day has passed.
"""

import secrets
import uuid
from datetime import timedelta

from django.db import models

from channels_gateway.encrypted_fields import EncryptedTextField, Unreadable


class WebhookEvent(models.TextChoices):
    HANDOFF_QUEUED = "handoff.queued", "handoff.queued"
    HANDOFF_ACCEPTED = "handoff.accepted", "handoff.accepted"
    MESSAGE_CREATED = "message.created", "message.created"
    HANDOFF_RESOLVED = "handoff.resolved", "handoff.resolved"
    HANDOFF_EXPIRED = "handoff.expired", "handoff.expired"
    HANDOFF_CANCELLED = "handoff.cancelled", "handoff.cancelled"


# A failing receiver is tried again for this long after the event (or its replay).
DELIVERY_WINDOW = timedelta(hours=24)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def all_events() -> list[str]:
    return list(WebhookEvent.values)


class WebhookEndpoint(models.Model):
    """A receiver of an organization's events. Its secret signs every request (HMAC-SHA256)."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, help_text="Where events are POSTed (https in production).")
    # The receiver's verification key: generated, shown in full once when created or rotated.
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS): we need it back to sign, so it cannot be hashed.
    secret = EncryptedTextField(default=new_webhook_secret, editable=False)
    events = models.JSONField(default=all_events, help_text="The event types sent to this endpoint.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "is_active"])]

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:  # never the secret
        return f"<WebhookEndpoint {self.pk} {self.url}>"

    @property
    def masked_secret(self) -> str:
        if isinstance(self.__dict__.get("secret"), Unreadable):
            return "unreadable with the configured FIELD_ENCRYPTION_KEYS: rotate it"
        return f"{self.secret[:10]}…{self.secret[-4:]}" if self.secret else ""


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint. The event id is the same for every endpoint and every
    replay, so a receiver dedupes on it."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=WebhookDeliveryStatus.choices,
                              default=WebhookDeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    @property
    def give_up_at(self):
        return (self.replayed_at or self.created_at) + DELIVERY_WINDOW


class WebhookAttempt(models.Model):
    """Every try, as the receiver answered it (bodies truncated)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "pk"]
