from django.conf import settings
from django.db import models

from billing.plans import PlanCode
from orgs.roles import OrgPermission, Role


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    plan = models.CharField(max_length=20, choices=PlanCode.choices, default=PlanCode.FREE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [(perm.value, perm.label) for perm in OrgPermission]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user_and_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class AuditAction(models.TextChoices):
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member's role changed"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_INVITED = "member_invited", "Member invited"
    CREDENTIALS_CHANGED = "credentials_changed", "Channel credentials changed"
    HANDOFF_ACCEPTED = "handoff_accepted", "Handoff accepted"
    HANDOFF_TRANSFERRED = "handoff_transferred", "Handoff transferred"
    HANDOFF_RESOLVED = "handoff_resolved", "Handoff resolved"
    PLAN_CHANGED = "plan_changed", "Plan changed"
    # A customer asked for a person and the plan or the agent's settings said no: the admin sees why.
    HANDOFF_REFUSED = "handoff_refused", "Handoff refused"
    API_KEY_CREATED = "api_key_created", "API key created"
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"


class AuditEvent(models.Model):
    """Who did what in an org. Written by `orgs.services.audit_record` only; never edited.

    `details` says what changed, never a secret: for credentials, only the field names."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="orgs_audit_org_created")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target}"


class ApiKeyRole(models.TextChoices):
    READ_ONLY = "read_only", "Read only"
    AGENT = "agent", "Agent (read and act)"


class ApiKey(models.Model):
    """A REST API key of one org. The key is `hk_<prefix>_<secret>`; only its SHA-256 is stored,
    the prefix is shown so people can tell keys apart. Created by `orgs.services.api_key_create`."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=8, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    role = models.CharField(max_length=20, choices=ApiKeyRole.choices, default=ApiKeyRole.READ_ONLY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (hk_{self.prefix}_…)"

    def __repr__(self) -> str:
        return f"<ApiKey {self.pk} hk_{self.prefix}_…>"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiIdempotencyKey(models.Model):
    """The stored answer to a POST made with an `Idempotency-Key` header, per API key."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    # Null while the first request is still running: the row is the claim on the key.
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="one_idempotency_key_per_api_key"),
        ]
