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
        return Entitlement(False, "plan_without_email_reminders", f"The {plan.code} plan does not send email reminders.")
    return ALLOWED
