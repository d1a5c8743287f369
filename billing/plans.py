"""Plan tiers: what each tier includes. Code, not rows: a tier changes with a release."""

from dataclasses import dataclass

from django.db import models


class PlanCode(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


@dataclass(frozen=True)
class Plan:
    code: str
    handoff: bool
    seats: int | None  # None: unlimited
    channels: int | None
    concurrent_open_sessions: int | None
    email_reminders: bool
    transcript_retention_days: int | None


PLANS: dict[str, Plan] = {
    PlanCode.FREE: Plan(PlanCode.FREE, handoff=False, seats=2, channels=1, concurrent_open_sessions=0,
                        email_reminders=False, transcript_retention_days=30),
    PlanCode.STARTER: Plan(PlanCode.STARTER, handoff=True, seats=5, channels=3, concurrent_open_sessions=10,
                           email_reminders=False, transcript_retention_days=90),
    PlanCode.PRO: Plan(PlanCode.PRO, handoff=True, seats=25, channels=10, concurrent_open_sessions=100,
                       email_reminders=True, transcript_retention_days=365),
    PlanCode.ENTERPRISE: Plan(PlanCode.ENTERPRISE, handoff=True, seats=None, channels=None,
                              concurrent_open_sessions=None, email_reminders=True, transcript_retention_days=None),
}


def plan_for(code: str) -> Plan:
    return PLANS[code]
