import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from billing.entitlements import Entitlement, can_add_member
from billing.plans import PlanCode
from handoff_site.errors import ConflictError
from orgs.events import publish_membership_changed
from orgs.models import ApiKey, ApiKeyRole, AuditAction, AuditEvent, Membership, Organization
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role


def organization_create(*, name: str, plan: str = PlanCode.FREE, slug: str | None = None) -> Organization:
    return Organization.objects.create(name=name, slug=slug or slugify(name)[:80], plan=plan)


def audit_record(*, organization: Organization, actor, action: AuditAction, target: str,
                 details: dict | None = None) -> AuditEvent:
    """One line in the org's audit log. `details` says what changed, never a secret's value."""
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        action=action,
        target=str(target)[:255],
        details=details or {},
    )


def _member_label(user) -> str:
    return user.email or user.get_username()


def seat_available(*, organization: Organization) -> Entitlement:
    return can_add_member(organization=organization,
                          members=Membership.objects.filter(organization=organization).count())


@transaction.atomic
def membership_set_role(*, organization: Organization, user, role: Role, actor=None) -> Membership:
    """Add `user` to the org or change their role; the guardian permissions follow the role.
    A new member takes a seat: the plan decides whether one is free."""
    previous_role = (
        Membership.objects.filter(organization=organization, user=user).values_list("role", flat=True).first()
    )
    if previous_role is None:
        # The org row lock makes the seat count exact under concurrent invitations.
        Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).first()
        seat = seat_available(organization=organization)
        if not seat.allowed:
            raise ConflictError(seat.reason, code=seat.code)
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    granted = ROLE_PERMISSIONS[Role(role)]
    for permission in OrgPermission:
        if permission in granted:
            assign_perm(f"orgs.{permission}", user, organization)
        else:
            remove_perm(f"orgs.{permission}", user, organization)
    sync_staff_flag(user)
    if previous_role is None:
        audit_record(organization=organization, actor=actor, action=AuditAction.MEMBER_ADDED,
                     target=_member_label(user), details={"role": str(role)})
    elif previous_role != role:
        audit_record(organization=organization, actor=actor, action=AuditAction.MEMBER_ROLE_CHANGED,
                     target=_member_label(user), details={"from": previous_role, "to": str(role)})
    publish_membership_changed(user_id=user.pk, organization_id=organization.pk)
    return membership


@transaction.atomic
def membership_remove(*, organization: Organization, user, actor=None) -> None:
    previous_role = (
        Membership.objects.filter(organization=organization, user=user).values_list("role", flat=True).first()
    )
    Membership.objects.filter(organization=organization, user=user).delete()
    for permission in OrgPermission:
        remove_perm(f"orgs.{permission}", user, organization)
    sync_staff_flag(user)
    if previous_role is not None:
        audit_record(organization=organization, actor=actor, action=AuditAction.MEMBER_REMOVED,
                     target=_member_label(user), details={"role": previous_role})
    publish_membership_changed(user_id=user.pk, organization_id=organization.pk)


def sync_staff_flag(user) -> None:
    """Admins and owners log into Django admin (where `orgs.admin_scoping` shows them only their
    orgs), so they are staff. The flag is taken away only from someone it was given to for that
    reason: not a superuser, no model permissions or groups of their own, no org left to configure."""
    from orgs.selectors import organizations_configurable_by

    configures = organizations_configurable_by(user).exists()
    if configures and not user.is_staff:
        user.is_staff = True
    elif (not configures and user.is_staff and not user.is_superuser
          and not user.user_permissions.exists() and not user.groups.exists()):
        user.is_staff = False
    else:
        return
    type(user).objects.filter(pk=user.pk).update(is_staff=user.is_staff)


def user_create(*, username: str, email: str, password: str, first_name: str = "", **extra):
    return get_user_model().objects.create_user(
        username=username, email=email, password=password, first_name=first_name, **extra
    )


API_KEY_PREFIX = "hk_"


def api_key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, organization: Organization, name: str, role: str = ApiKeyRole.READ_ONLY,
                   actor=None) -> tuple[ApiKey, str]:
    """A new key; the plaintext is returned once and never stored (only its SHA-256)."""
    prefix = secrets.token_hex(4)  # 8 characters, no "_" so the key splits unambiguously
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        organization=organization, name=name[:120], prefix=prefix, hashed_key=api_key_hash(plaintext), role=role,
        created_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(organization=organization, actor=actor, action=AuditAction.API_KEY_CREATED,
                 target=str(api_key), details={"name": api_key.name, "prefix": prefix, "role": str(role)})
    return api_key, plaintext


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor=None) -> ApiKey:
    """Revoked keys stop working at once; revoking twice changes nothing."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(organization=api_key.organization, actor=actor, action=AuditAction.API_KEY_REVOKED,
                     target=str(api_key), details={"name": api_key.name, "prefix": api_key.prefix})
    return api_key
