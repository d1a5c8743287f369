from django.conf import settings
from django.db import models
from django.db.models import Q

from conversations.handoff_states import OPEN_STATUSES, HandoffStatus


class AIAgent(models.Model):
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    system_prompt = models.TextField(
        default="You are a friendly, concise customer-support assistant.", blank=True
    )
    model = models.CharField(max_length=100, blank=True, help_text="Anthropic model; blank uses the default.")
    handoff_enabled = models.BooleanField(default=True)
    reminder_after_minutes = models.PositiveIntegerField(default=3)
    expire_after_minutes = models.PositiveIntegerField(default=15)
    queued_message = models.TextField(
        default="I'm bringing in a member of our team. They'll be with you shortly."
    )
    accepted_message = models.TextField(default="{teammate} from our team has joined the conversation.")
    expired_message = models.TextField(
        default="Sorry, nobody from our team is available right now. I'm back to help in the meantime, "
        "and you can ask for a person again at any time."
    )
    resolved_message = models.TextField(
        default="{teammate} has handed the conversation back to me. Is there anything else I can help with?"
    )
    unavailable_message = models.TextField(
        default="I'm sorry, nobody from our team is available for a live chat right now, "
        "but I'll keep helping you as best I can."
    )
    guard_sensitivity = models.FloatField(default=0.5, help_text="0 to 1: higher escalates more readily.")
    guard_always_phrases = models.TextField(blank=True, help_text="One per line: always a request for a human.")
    guard_never_phrases = models.TextField(blank=True, help_text="One per line: never a request for a human.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "AI agent"

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="contacts")
    connection = models.ForeignKey(
        "channels_gateway.ChannelConnection", on_delete=models.CASCADE, related_name="contacts"
    )
    external_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # On PostgreSQL, history search also has a trigram index on UPPER(display_name)
        # (migration conversations 0004, outside the model state: SQLite has no GIN).
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="one_contact_per_platform_user"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"Visitor {self.pk}"


class ConversationMode(models.TextChoices):
    AI = "ai", "AI"
    HUMAN = "human", "Human"


class Conversation(models.Model):
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="conversations")
    agent = models.ForeignKey(AIAgent, on_delete=models.PROTECT, related_name="conversations")
    connection = models.ForeignKey(
        "channels_gateway.ChannelConnection", on_delete=models.CASCADE, related_name="conversations"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    # The platform's chat / thread the replies go back to.
    external_thread_id = models.CharField(max_length=255)
    mode = models.CharField(max_length=10, choices=ConversationMode.choices, default=ConversationMode.AI)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_thread_id"], name="one_conversation_per_thread"),
        ]
        indexes = [models.Index(fields=["organization", "-last_message_at"])]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.contact}"


class AuthorKind(models.TextChoices):
    USER = "user", "User"
    AI = "ai", "AI"
    TEAMMATE = "teammate", "Teammate"
    SYSTEM = "system", "System"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # inbound: stored, nothing to deliver
    PENDING = "pending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AIReplyState(models.TextChoices):
    NONE = "", "Not for the AI"
    PENDING = "pending", "Waiting for the AI"
    STARTED = "started", "AI is answering"
    DONE = "done", "Answered"


class Message(models.Model):
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField()
    # Inbound: the platform's id for the delivery (the idempotency key). Outbound: the id the platform gave.
    platform_message_id = models.CharField(max_length=255, null=True, blank=True)
    delivery_status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    delivery_error = models.TextField(blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    # Of a reply split at the platform's length limit: parts already delivered, never resent.
    delivered_parts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # For a user message in AI mode: has the AI answered it? A re-run never answers twice.
    ai_reply_state = models.CharField(max_length=10, choices=AIReplyState.choices, default=AIReplyState.NONE,
                                      blank=True)
    ai_turn_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "platform_message_id"],
                condition=Q(author_kind="user") & Q(platform_message_id__isnull=False),
                name="inbound_message_stored_once",
            ),
        ]
        # On PostgreSQL, history search also has a trigram index on UPPER(text) (migration
        # conversations 0004, outside the model state: SQLite has no GIN).
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(
                fields=["next_attempt_at"], condition=Q(delivery_status="pending"), name="outbound_pending"
            ),
            models.Index(
                fields=["created_at"], condition=Q(ai_reply_state__in=["pending", "started"]),
                name="ai_reply_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author_kind}: {self.text[:40]}"


class HandoffTrigger(models.TextChoices):
    TOOL = "tool", "AI agent asked for a human"
    GUARD = "guard", "User asked for a human"
    API = "api", "Escalated through the API"


class HandoffSession(models.Model):
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="handoff_sessions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="handoff_sessions")
    status = models.CharField(max_length=10, choices=HandoffStatus.choices, default=HandoffStatus.QUEUED)
    trigger = models.CharField(max_length=10, choices=HandoffTrigger.choices)
    reason = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoff_sessions"
    )
    queued_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    remind_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=sorted(OPEN_STATUSES)),
                name="one_open_handoff_per_conversation",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "queued_at"]),
            models.Index(fields=["expires_at"], condition=Q(status="queued"), name="queued_deadlines"),
            # The open queue oldest first (API /handoffs/), and history newest first: each read
            # walks its index in order and stops at the page's end instead of sorting the org.
            models.Index(fields=["organization", "queued_at", "id"], condition=Q(status__in=sorted(OPEN_STATUSES)),
                         name="open_sessions_by_queued_at"),
            models.Index(fields=["organization", "-closed_at", "-id"], condition=Q(closed_at__isnull=False),
                         name="closed_sessions_newest_first"),
        ]

    def __str__(self) -> str:
        return f"Handoff {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class HandoffTransition(models.Model):
    """The timeline: every status change, with who made it and when."""

    session = models.ForeignKey(HandoffSession, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=10, choices=HandoffStatus.choices, null=True, blank=True)
    to_status = models.CharField(max_length=10, choices=HandoffStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_kind = models.CharField(max_length=20)  # teammate, ai, system, api
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


class GuardBackend(models.TextChoices):
    LOCAL = "local", "Offline local classifier"
    MODEL = "model", "Model call"
    LOCAL_FALLBACK = "local_fallback", "Local classifier after a failed model call"


class GuardVerdict(models.Model):
    """Every decision the guard takes, with who decided, the score and how long it took."""

    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="guard_verdicts")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    trigger = models.CharField(max_length=10, choices=HandoffTrigger.choices)
    backend = models.CharField(max_length=20, choices=GuardBackend.choices)
    confirmed = models.BooleanField()
    score = models.FloatField()
    latency_ms = models.FloatField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
