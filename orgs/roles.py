"""Roles are data: each role is a set of organization permissions.

The permissions are django-guardian object permissions on the Organization; the
service that sets a member's role writes them, `orgs.permissions` checks them.
"""

from django.db import models


class OrgPermission(models.TextChoices):
    VIEW_INBOX = "view_inbox", "See the queue and transcripts"
    HANDLE_CONVERSATIONS = "handle_conversations", "Accept, reply, resolve and transfer"
    CONFIGURE_ORG = "configure_org", "Configure AI agents, channels and members"
    MANAGE_BILLING = "manage_billing", "Change plan and billing"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    AGENT = "agent", "Agent"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({OrgPermission.VIEW_INBOX}),
    Role.AGENT: frozenset({OrgPermission.VIEW_INBOX, OrgPermission.HANDLE_CONVERSATIONS}),
    Role.ADMIN: frozenset(
        {OrgPermission.VIEW_INBOX, OrgPermission.HANDLE_CONVERSATIONS, OrgPermission.CONFIGURE_ORG}
    ),
    Role.OWNER: frozenset(OrgPermission.values),
}
