from django.conf import settings
from django.db import models


class CannedReply(models.Model):
    """A saved answer an org's teammates insert with a click or `/`."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=80)
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "pk"]
        constraints = [models.UniqueConstraint(fields=["organization", "title"], name="one_canned_reply_per_title")]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


class InternalNote(models.Model):
    """Teammates' words about a conversation. A table of its own: no path that sends or
    shows messages to the user or the AI can ever pick a note up."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="notes")
    session = models.ForeignKey("conversations.HandoffSession", on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


class PresenceState(models.TextChoices):
    ACTIVE = "active", "Active"
    IDLE = "idle", "Idle"


class InboxTab(models.Model):
    """One open inbox websocket. Presence is computed from the live tabs, so it holds across
    web processes and restarts: a tab whose process died stops pinging and goes stale."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=PresenceState.choices, default=PresenceState.ACTIVE)
    last_seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organization", "user", "last_seen_at"])]
