"""Invite by email: the account if new, the membership through `membership_set_role`, and a mail
with a set-password link (Django's password-reset token and `password_reset_confirm` view)."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from orgs.models import AuditAction, Membership, Organization
from orgs.roles import Role
from orgs.services import audit_record, membership_set_role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InviteResult:
    membership: Membership
    user: object
    new_account: bool


def set_password_url(user) -> str:
    path = reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    })
    return f"{settings.SITE_URL}{path}"


def _free_username(email: str) -> str:
    User = get_user_model()
    base = email[:140]
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def user_for_email(email: str):
    return get_user_model().objects.filter(email__iexact=email).order_by("pk").first()


@transaction.atomic
def member_invite(*, organization: Organization, email: str, role: Role, actor) -> InviteResult:
    """Add the person with this email to the org (a new account if there is none) and mail them."""
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    user = user_for_email(email)
    new_account = user is None
    if new_account:
        # No password until they set one through the emailed link.
        user = get_user_model().objects.create_user(username=_free_username(email), email=email, password=None)
    membership = membership_set_role(organization=organization, user=user, role=role, actor=actor)
    audit_record(organization=organization, actor=actor, action=AuditAction.MEMBER_INVITED, target=email,
                 details={"role": str(role), "new_account": new_account})
    invite_email_send_on_commit(membership=membership, inviter=actor)
    return InviteResult(membership, user, new_account)


def invite_email_send_on_commit(*, membership: Membership, inviter) -> None:
    # Only once the membership is really there; a mail server's failure is logged, not a rollback.
    transaction.on_commit(lambda: invite_email_send(membership=membership, inviter=inviter), robust=True)


def invite_email_send(*, membership: Membership, inviter) -> None:
    user, organization = membership.user, membership.organization
    needs_password = not user.has_usable_password()
    context = {
        "user": user,
        "organization": organization,
        "role": membership.get_role_display(),
        "inviter": (inviter.get_full_name() or inviter.get_username()) if inviter else "An administrator",
        "set_password_url": set_password_url(user) if needs_password else None,
        "login_url": f"{settings.SITE_URL}{reverse('login')}",
        "link_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = f"You're invited to {organization.name} on Handoff"
    text = render_to_string("email/invite.txt", context)
    send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
