"""Transcripts leave when the plan says, and never while a customer is with a human."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.plans import PLANS, PlanCode
from billing.services import retention_apply
from conversations.models import Conversation, Message
from conversations.services.handoff import handoff_escalate
from conversations.tests.factories import ConversationFactory
from orgs.tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def conversation_last_active(org, days_ago: float) -> Conversation:
    conversation = ConversationFactory(contact__connection__agent__organization=org)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now() - timedelta(days=days_ago))
    return conversation


@pytest.mark.parametrize("plan", [PlanCode.FREE, PlanCode.STARTER, PlanCode.PRO])
def test_conversations_older_than_the_plan_keeps_are_deleted_exactly_past_it(plan):
    org = OrganizationFactory(plan=plan)
    days = PLANS[plan].transcript_retention_days
    kept = conversation_last_active(org, days - 0.01)
    gone = conversation_last_active(org, days + 0.01)
    Message.objects.create(organization=org, conversation=gone, author_kind="user", text="old",
                           delivery_status="received")
    assert retention_apply() == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Message.objects.filter(text="old").exists()


def test_enterprise_keeps_everything_and_an_open_handoff_is_never_deleted():
    enterprise = conversation_last_active(OrganizationFactory(plan=PlanCode.ENTERPRISE), 10_000)
    waiting = conversation_last_active(OrganizationFactory(plan=PlanCode.PRO), 400)
    handoff_escalate(conversation_id=waiting.pk, trigger="guard", reason="human please")
    Conversation.objects.filter(pk=waiting.pk).update(last_message_at=timezone.now() - timedelta(days=400))
    assert retention_apply() == 0
    assert Conversation.objects.filter(pk__in=[enterprise.pk, waiting.pk]).count() == 2
