import secrets

from django.db import models

from channels_gateway.encrypted_fields import EncryptedJSONField, Unreadable


class Platform(models.TextChoices):
    WIDGET = "widget", "Web widget"
    TELEGRAM = "telegram", "Telegram"
    DISCORD = "discord", "Discord"
    SLACK = "slack", "Slack"
    MESSENGER = "messenger", "Messenger"
    INSTAGRAM = "instagram", "Instagram"
    WHATSAPP = "whatsapp", "WhatsApp"
    GOOGLE_CHAT = "google_chat", "Google Chat"
    API = "api", "API"


def new_connection_key() -> str:
    return secrets.token_urlsafe(18)


class ChannelConnection(models.Model):
    """One channel an AI agent talks on: a widget, a bot, an app. Its key is public (in URLs)."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="connections")
    agent = models.ForeignKey("conversations.AIAgent", on_delete=models.PROTECT, related_name="connections")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=40, unique=True, default=new_connection_key, editable=False)
    # Non-secret settings, e.g. the widget's allowed origins.
    config = models.JSONField(default=dict, blank=True)
    # Credentials (bot tokens, signing secrets): write-only. Admin forms never render them,
    # payloads and logs never include them; only the adapter reads them. Encrypted at rest
    # (FIELD_ENCRYPTION_KEYS): the column holds one Fernet token for the whole object.
    secrets = EncryptedJSONField(default=dict, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Not a column: PostgreSQL's xmin of the row as `selectors.webhook_connection` read it (every
    # write changes it), so storing a message can tell a remembered connection is out of date.
    row_version: str | None = None

    class Meta:
        indexes = [models.Index(fields=["organization", "platform"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"

    def __repr__(self) -> str:  # never the secrets, even in a traceback's locals
        return f"<ChannelConnection {self.pk} {self.platform} {self.key}>"

    @property
    def secrets_readable(self) -> bool:
        """False when none of the configured keys decrypts the stored credentials."""
        return not isinstance(self.__dict__.get("secrets"), Unreadable)


# Outbound webhooks live in their own module; imported here so Django finds the models.
from channels_gateway.webhooks import (  # noqa: E402,F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
