"""The AI agent's turn: answers, the guard, escalation, and failures of the model API."""

import itertools

import pytest
from django.utils import timezone

from channels_gateway.adapters.base import InboundMessage
from conversations.models import AuthorKind, GuardVerdict, HandoffSession, Message
from conversations.services.agent_turn import run_agent_turn
from conversations.services.handoff import handoff_accept, handoff_reply, handoff_resolve
from conversations.services.messages import receive_inbound_message
from tests.fakes.anthropic_api import text_message, tool_use_message

_ids = itertools.count()


@pytest.fixture
def user_says(conversation, django_capture_on_commit_callbacks):
    def say(text: str) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            return receive_inbound_message(
                connection=conversation.connection,
                inbound=InboundMessage(
                    contact_external_id=conversation.contact.external_id,
                    thread_id=conversation.external_thread_id,
                    text=text,
                    platform_message_id=f"m-{next(_ids)}",
                ),
            ).message

    return say


def replies(conversation, kind=AuthorKind.AI) -> list[str]:
    return list(conversation.messages.filter(author_kind=kind).order_by("pk").values_list("text", flat=True))


# --- offline: no API key --------------------------------------------------------------


def test_offline_the_agent_still_answers(conversation, user_says):
    message = user_says("hello")
    assert replies(conversation) == [f"Hi! I'm {conversation.agent.name}. How can I help you today?"]
    message.refresh_from_db()
    assert message.ai_reply_state == "done"
    assert conversation.messages.get(author_kind="ai").delivery_status == "sent"


def test_offline_a_request_for_a_person_is_escalated_with_a_summary(conversation, user_says):
    user_says("My order 1234 arrived broken and I want a refund")
    user_says("can I talk to a human?")

    session = HandoffSession.objects.get(conversation=conversation)
    assert session.status == "queued" and session.trigger == "guard"
    assert "order 1234 arrived broken" in session.summary
    assert "can I talk to a human?" in session.summary
    verdict = GuardVerdict.objects.filter(conversation=conversation, confirmed=True).get()
    assert verdict.backend == "local" and verdict.score > 0.5 and verdict.latency_ms >= 0
    assert replies(conversation, AuthorKind.SYSTEM) == [conversation.agent.queued_message]


@pytest.mark.parametrize("text", [
    "I work in human resources and need an invoice",
    "my travel agent booked the wrong date",
])
def test_offline_stray_phrases_stay_with_the_ai(conversation, user_says, text):
    user_says(text)
    assert not HandoffSession.objects.exists()
    assert len(replies(conversation)) == 1
    assert GuardVerdict.objects.get(conversation=conversation).confirmed is False


def test_the_ai_stays_silent_while_a_human_holds_the_conversation(conversation, user_says, ana):
    user_says("can I talk to a human?")
    handoff_accept(session_id=HandoffSession.objects.get().pk, user=ana)
    message = user_says("hello? are you there?")
    assert replies(conversation) == []
    message.refresh_from_db()
    assert message.ai_reply_state == ""


def test_a_turn_runs_once_however_often_the_task_is_delivered(conversation, user_says,
                                                              django_capture_on_commit_callbacks):
    message = user_says("hello")
    with django_capture_on_commit_callbacks(execute=True):
        run_agent_turn(message_id=message.pk)
        run_agent_turn(message_id=message.pk)
    assert len(replies(conversation)) == 1


def test_a_burst_is_answered_once_and_a_request_inside_it_is_not_lost(
    conversation, django_capture_on_commit_callbacks
):
    # Two messages stored before either turn runs (a busy worker): the newer turn judges both.
    inbound = [InboundMessage(conversation.contact.external_id, conversation.external_thread_id, text, f"b-{i}")
               for i, text in enumerate(["can I speak to a person please", "hello?"])]
    stored = [receive_inbound_message(connection=conversation.connection, inbound=i).message for i in inbound]
    with django_capture_on_commit_callbacks(execute=True):
        for message in stored:
            run_agent_turn(message_id=message.pk)
    assert HandoffSession.objects.filter(conversation=conversation).count() == 1
    assert replies(conversation) == []
    assert set(Message.objects.filter(pk__in=[m.pk for m in stored]).values_list("ai_reply_state", flat=True)) == {
        "done"}


# --- with the Messages API (a fake server speaking its documented format) -------------


def test_the_model_answers_with_the_request_human_tool_available(conversation, user_says, fake_anthropic):
    user_says("Where is my parcel?")
    assert replies(conversation) == ["Model answer to: Where is my parcel?"]
    call = fake_anthropic.calls("agent")[0]
    assert [tool["name"] for tool in call["tools"]] == ["request_human"]
    assert call["messages"] == [{"role": "user", "content": "Where is my parcel?"}]
    assert conversation.agent.system_prompt in call["system"]


def test_a_request_human_call_confirmed_by_the_model_guard_escalates(conversation, user_says, fake_anthropic):
    fake_anthropic.then(tool_use_message("Frustrated, wants someone to fix it")).then(text_message("yes"))
    # Unclear to the local guard on its own: the model's tool call sends it to the model guard.
    user_says("this is useless, nobody here can fix it")

    session = HandoffSession.objects.get(conversation=conversation)
    assert session.trigger == "tool" and session.reason == "Frustrated, wants someone to fix it"
    assert session.summary == "The customer needs help with their order and asked for a person."
    tool_verdict = GuardVerdict.objects.get(conversation=conversation, trigger="tool")
    assert tool_verdict.backend == "model" and tool_verdict.confirmed
    assert replies(conversation) == []


def test_a_request_human_call_the_guard_rejects_keeps_the_ai_helping(conversation, user_says, fake_anthropic):
    fake_anthropic.then(tool_use_message("mentions human resources"))
    user_says("I work in human resources, how do I download all invoices?")

    assert not HandoffSession.objects.exists()
    assert replies(conversation) == ["Of course, I'll keep helping you myself. What do you need?"]
    verdict = GuardVerdict.objects.get(conversation=conversation, trigger="tool")
    assert verdict.confirmed is False and verdict.backend == "local"
    follow_up = fake_anthropic.calls("agent")[-1]["messages"]
    assert follow_up[-1]["content"][0]["type"] == "tool_result"
    assert follow_up[-2]["content"][-1]["type"] == "tool_use"


@pytest.mark.parametrize("status", [429, 529, 500])
def test_the_sdk_retries_a_passing_failure(conversation, user_says, fake_anthropic, status):
    fake_anthropic.fail(status, times=1)
    user_says("Where is my parcel?")
    assert replies(conversation) == ["Model answer to: Where is my parcel?"]
    assert len(fake_anthropic.calls()) == 2


@pytest.mark.parametrize("status", [429, 529, 500])
def test_when_the_model_api_is_down_the_user_still_gets_an_answer(conversation, user_says, fake_anthropic, status):
    fake_anthropic.fail(status, times=2)  # the first try and the SDK's one retry
    message = user_says("Where is my parcel?")
    assert replies(conversation) == [
        "Sorry, I'm having trouble answering right now. Please try again in a moment, "
        "or ask for a human and a member of our team will help you."
    ]
    message.refresh_from_db()
    assert message.ai_reply_state == "done"


def test_when_the_model_api_is_down_the_user_can_still_reach_a_human(conversation, user_says, fake_anthropic):
    fake_anthropic.fail(529, times=10)
    user_says("I want to talk to a real person")
    session = HandoffSession.objects.get(conversation=conversation)
    # The local guard was sure; the summary fell back to the customer's own words.
    assert session.status == "queued"
    assert "I want to talk to a real person" in session.summary


def test_a_failing_guard_model_falls_back_to_the_local_verdict(conversation, user_says, fake_anthropic):
    fake_anthropic.then(tool_use_message("wants someone")).fail(500)
    user_says("this is useless, nobody here can fix it")
    verdict = GuardVerdict.objects.get(conversation=conversation, trigger="tool")
    assert verdict.backend == "local_fallback"
    assert len(replies(conversation)) == 1  # the AI kept helping


def test_after_resolve_the_ai_continues_with_the_human_part_in_context(
    conversation, user_says, fake_anthropic, ana, django_capture_on_commit_callbacks
):
    user_says("can I talk to a human?")
    session = HandoffSession.objects.get()
    handoff_accept(session_id=session.pk, user=ana)
    with django_capture_on_commit_callbacks(execute=True):
        handoff_reply(session_id=session.pk, user=ana, text="I've refunded order 1234.")
        handoff_resolve(session_id=session.pk, user=ana)
    user_says("Thanks! When will the money arrive?")

    context = fake_anthropic.calls("agent")[-1]["messages"]
    transcript = " ".join(turn["content"] for turn in context)
    assert "I've refunded order 1234." in transcript and "a human teammate" in transcript
    assert context[-1] == {"role": "user", "content": "Thanks! When will the money arrive?"}
    assert replies(conversation)[-1] == "Model answer to: Thanks! When will the money arrive?"


# --- bursts, refusals and expiry ------------------------------------------------------


def test_a_message_arriving_while_the_ai_thinks_gets_one_answer_for_both(conversation, fake_anthropic, monkeypatch):
    from conversations.services import agent_turn

    def store(text, message_id):
        return receive_inbound_message(
            connection=conversation.connection,
            inbound=InboundMessage(contact_external_id=conversation.contact.external_id,
                                   thread_id=conversation.external_thread_id, text=text,
                                   platform_message_id=message_id),
        ).message

    first = store("Where is my parcel?", "burst-1")
    real_generate_reply = agent_turn.generate_reply

    def slow_model(**kwargs):  # the second message is stored while the model call is under way
        reply = real_generate_reply(**kwargs)
        store("It was order 1234", "burst-2")
        return reply

    monkeypatch.setattr(agent_turn, "generate_reply", slow_model)
    run_agent_turn(message_id=first.pk)
    monkeypatch.setattr(agent_turn, "generate_reply", real_generate_reply)
    assert replies(conversation) == []  # the newer message's turn answers the burst
    second = Message.objects.get(platform_message_id="burst-2")
    run_agent_turn(message_id=second.pk)
    assert replies(conversation) == ["Model answer to: Where is my parcel?\n\nIt was order 1234"]


def test_a_confirmed_request_the_plan_refuses_still_gets_an_answer(conversation, user_says):
    conversation.organization.plan = "free"
    conversation.organization.save()
    user_says("can I talk to a human? my parcel never came")
    assert not HandoffSession.objects.exists()
    assert replies(conversation, AuthorKind.SYSTEM) == [conversation.agent.unavailable_message]
    assert len(replies(conversation)) == 1  # and the AI answers what was asked


def test_after_expiry_the_ai_answers_what_was_asked_while_waiting_without_requeueing(
    conversation, user_says, django_capture_on_commit_callbacks
):
    from conversations.services.handoff import handoff_expire_if_due

    user_says("I want to talk to a person")
    user_says("hello? is anyone there? I want a human")  # while queued: stored for the teammate
    assert replies(conversation) == []
    session = HandoffSession.objects.get()
    HandoffSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert handoff_expire_if_due(session_id=session.pk)
    assert len(replies(conversation)) == 1
    assert HandoffSession.objects.count() == 1  # told nobody is free; asking again later re-queues
    user_says("human please")
    assert HandoffSession.objects.count() == 2


def test_a_nul_character_from_a_platform_is_dropped_not_a_crash(conversation, user_says):
    message = user_says("hello\x00 there")
    assert message.text == "hello there"


def test_an_overlong_platform_id_is_refused_with_a_reason_not_a_database_error(conversation):
    from handoff_site.errors import ValidationError

    with pytest.raises(ValidationError, match="255"):
        receive_inbound_message(connection=conversation.connection, inbound=InboundMessage(
            contact_external_id="u", thread_id="t" * 300, text="hi", platform_message_id="m"))
    assert not Message.objects.exists()
