"""The plan-tier gate: the one place that says whether an org may do a gated thing."""

from dataclasses import dataclass

from billing.plans import plan_for


@dataclass(frozen=True)
class Entitlement:
    allowed: bool
    code: str = "ok"
    reason: str = ""


ALLOWED = Entitlement(allowed=True)


def can_open_handoff(*, organization, open_sessions: int) -> Entitlement:
    """May this org queue one more handoff session, given how many are open now?"""
    plan = plan_for(organization.plan)
    if not plan.handoff:
        return Entitlement(False, "plan_without_handoff", f"The {plan.code} plan does not include human handoff.")
    limit = plan.concurrent_open_sessions
    if limit is not None and open_sessions >= limit:
        return Entitlement(
            False, "open_sessions_limit", f"The {plan.code} plan allows {limit} open handoff sessions at once."
        )
    return ALLOWED


def can_send_email_reminders(*, organization) -> Entitlement:
    plan = plan_for(organization.plan)
    if not plan.email_reminders:
        return Entitlement(False, "plan_without_email_reminders",
                           f"The {plan.code} plan does not send email reminders.")
    return ALLOWED


def _within(limit: int | None, current: int) -> bool:
    return limit is None or current < limit


def can_add_member(*, organization, members: int) -> Entitlement:
    """May the org take one more member (a seat), given how many it has?"""
    plan = plan_for(organization.plan)
    if _within(plan.seats, members):
        return ALLOWED
    return Entitlement(False, "seat_limit", f"The {plan.code} plan includes {plan.seats} seats; all are taken.")


def can_add_channel(*, organization, channels: int) -> Entitlement:
    plan = plan_for(organization.plan)
    if _within(plan.channels, channels):
        return ALLOWED
    noun = "channel connection" if plan.channels == 1 else "channel connections"
    return Entitlement(False, "channel_limit", f"The {plan.code} plan includes {plan.channels} {noun}.")


def transcript_retention_days(*, organization) -> int | None:
    """How long conversations are kept after their last message; None: for ever."""
    return plan_for(organization.plan).transcript_retention_days
