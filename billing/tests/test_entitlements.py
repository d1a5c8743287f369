import pytest

from billing.entitlements import can_add_channel, can_add_member, can_open_handoff, can_send_email_reminders
from billing.plans import PLANS, PlanCode
from orgs.tests.factories import OrganizationFactory


@pytest.mark.parametrize("plan", list(PlanCode))
def test_open_sessions_stop_exactly_at_the_plans_number(plan):
    org = OrganizationFactory.build(plan=plan)
    limits = PLANS[plan]
    if not limits.handoff:
        assert can_open_handoff(organization=org, open_sessions=0).code == "plan_without_handoff"
        return
    if limits.concurrent_open_sessions is None:
        assert can_open_handoff(organization=org, open_sessions=10**6).allowed
        return
    assert can_open_handoff(organization=org, open_sessions=limits.concurrent_open_sessions - 1).allowed
    refused = can_open_handoff(organization=org, open_sessions=limits.concurrent_open_sessions)
    assert not refused.allowed and refused.code == "open_sessions_limit"
    assert str(limits.concurrent_open_sessions) in refused.reason


@pytest.mark.parametrize("plan, allowed", [(PlanCode.FREE, False), (PlanCode.STARTER, False),
                                           (PlanCode.PRO, True), (PlanCode.ENTERPRISE, True)])
def test_email_reminders_by_plan(plan, allowed):
    assert can_send_email_reminders(organization=OrganizationFactory.build(plan=plan)).allowed is allowed


def _stops_exactly_at(check, limit, counted: str):
    if limit is None:
        assert check(**{counted: 10**6}).allowed
        return None
    assert check(**{counted: limit - 1}).allowed
    refused = check(**{counted: limit})
    assert not refused.allowed and str(limit) in refused.reason
    return refused


@pytest.mark.parametrize("plan", list(PlanCode))
def test_seats_stop_exactly_at_the_plans_number(plan):
    org = OrganizationFactory.build(plan=plan)
    refused = _stops_exactly_at(lambda **n: can_add_member(organization=org, **n), PLANS[plan].seats, "members")
    assert refused is None or refused.code == "seat_limit"


@pytest.mark.parametrize("plan", list(PlanCode))
def test_channels_stop_exactly_at_the_plans_number(plan):
    org = OrganizationFactory.build(plan=plan)
    refused = _stops_exactly_at(lambda **n: can_add_channel(organization=org, **n), PLANS[plan].channels, "channels")
    assert refused is None or refused.code == "channel_limit"
