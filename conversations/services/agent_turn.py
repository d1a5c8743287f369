"""The AI agent's turn on a user message: guard, answer or escalate. Runs in the worker."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.ai import guard
from conversations.ai.guard import GuardDecision
from conversations.ai.responder import AgentReply, continue_after_declined_handoff, fallback_reply, generate_reply
from conversations.ai.summary import summarize
from conversations.ai.transcript import Turn, last_assistant_text, recent_turns
from conversations.models import (
    AIReplyState,
    AuthorKind,
    Conversation,
    ConversationMode,
    GuardVerdict,
    HandoffSession,
    HandoffTrigger,
    Message,
)
from conversations.services.handoff import handoff_escalate
from conversations.services.messages import post_message_to_contact

logger = logging.getLogger(__name__)

# A turn that started this long ago and never finished had its worker die; run it again.
STALE_TURN = timedelta(minutes=5)


def _claim(message_id: int) -> bool:
    now = timezone.now()
    return bool(
        Message.objects.filter(pk=message_id, author_kind=AuthorKind.USER)
        .filter(
            Q(ai_reply_state=AIReplyState.PENDING)
            | Q(ai_reply_state=AIReplyState.STARTED, ai_turn_started_at__lt=now - STALE_TURN)
        )
        .update(ai_reply_state=AIReplyState.STARTED, ai_turn_started_at=now)
    )


def _mark_answered(conversation: Conversation, up_to_message_id: int) -> None:
    Message.objects.filter(
        conversation=conversation, author_kind=AuthorKind.USER, pk__lte=up_to_message_id,
        ai_reply_state__in=[AIReplyState.PENDING, AIReplyState.STARTED],
    ).update(ai_reply_state=AIReplyState.DONE)


def _record_verdict(conversation: Conversation, message_id: int, trigger: str, decision: GuardDecision) -> None:
    GuardVerdict.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        message_id=message_id,
        trigger=trigger,
        backend=decision.backend,
        confirmed=decision.confirmed,
        score=decision.score,
        latency_ms=decision.latency_ms,
        reason=decision.reason[:200],
    )


def _unanswered_user_turns(turns: list[Turn]) -> list[Turn]:
    """The user's messages since the AI (or anyone) last spoke: a burst is judged as a whole."""
    burst: list[Turn] = []
    for turn in reversed(turns):
        if turn.role != "user":
            break
        burst.append(turn)
    return list(reversed(burst))


def _not_yet_judged(conversation: Conversation, burst: list[Turn]) -> list[Turn]:
    """Leave out what the user wrote while a handoff, closed since, was open: that request
    was handled (a teammate answered, or they were told nobody is free); asking again re-queues."""
    handed_back_at = (
        HandoffSession.objects.filter(conversation=conversation, closed_at__isnull=False)
        .order_by("-closed_at").values_list("closed_at", flat=True).first()
    )
    if handed_back_at is None:
        return burst
    settled = set(
        Message.objects.filter(pk__in=[turn.message_id for turn in burst], created_at__lte=handed_back_at)
        .values_list("pk", flat=True)
    )
    return [turn for turn in burst if turn.message_id not in settled]


def _newer_user_message_exists(conversation: Conversation, message: Message) -> bool:
    return conversation.messages.filter(author_kind=AuthorKind.USER, pk__gt=message.pk).exists()


def _post_reply(conversation: Conversation, message: Message, text: str) -> None:
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(no_key=True).get(pk=conversation.pk)
        _mark_answered(conversation, message.pk)
        if locked.mode != ConversationMode.AI:
            return  # a teammate holds the conversation now: the AI stays silent
        if _newer_user_message_exists(conversation, message):
            return  # it arrived while we were thinking: its turn answers the whole burst
        post_message_to_contact(conversation=conversation, author_kind=AuthorKind.AI, text=text)


def _escalate(conversation: Conversation, message: Message, turns: list[Turn], trigger: str, reason: str):
    summary = summarize(turns=turns, reason=reason)  # slow: before taking any lock
    with transaction.atomic():
        result = handoff_escalate(
            conversation_id=conversation.pk, trigger=trigger, reason=reason, summary=summary
        )
        _mark_answered(conversation, message.pk)
    return result


def run_agent_turn(*, message_id: int) -> None:
    """Answer one user message at most once, whatever the worker or the model does."""
    if not _claim(message_id):
        return
    message = Message.objects.select_related("conversation__agent", "conversation__contact").get(pk=message_id)
    conversation = message.conversation
    agent = conversation.agent
    if conversation.mode != ConversationMode.AI or _newer_user_message_exists(conversation, message):
        # With a human now, or a newer message's turn will answer the whole burst.
        _mark_answered(conversation, message.pk)
        return

    turns = recent_turns(conversation, up_to_message_id=message.pk)
    previous_ai_text = last_assistant_text(turns)
    tuning = guard.tuning_for(agent)
    try:
        refusal = None  # a confirmed request the plan or the agent's settings turned down
        for turn in _not_yet_judged(conversation, _unanswered_user_turns(turns)):
            decision = guard.decide(turn.text, previous_ai_text=previous_ai_text, tuning=tuning)
            _record_verdict(conversation, turn.message_id, HandoffTrigger.GUARD, decision)
            if decision.confirmed:
                result = _escalate(conversation, message, turns, HandoffTrigger.GUARD, reason=turn.text)
                if not result.refused:
                    return
                refusal = result.refused  # the user was told; the AI still answers what they asked
                break

        reply: AgentReply = generate_reply(agent=agent, turns=turns)
        if reply.wants_human:
            if refusal is None:
                decision = guard.decide(message.text, asked_by_model=True, previous_ai_text=previous_ai_text,
                                        tuning=tuning)
                _record_verdict(conversation, message.pk, HandoffTrigger.TOOL, decision)
                if decision.confirmed:
                    result = _escalate(conversation, message, turns, HandoffTrigger.TOOL,
                                       reason=reply.human_reason or message.text)
                    if not result.refused:
                        return
                    refusal = result.refused
            if refusal is not None:
                why = f"No human is available ({refusal.reason}). Keep helping the user yourself."
            else:
                why = "This was not confirmed as a request for a person. Keep helping the user yourself."
            reply = continue_after_declined_handoff(agent=agent, turns=turns, declined=reply, why=why)
        _post_reply(conversation, message, reply.text or fallback_reply(agent=agent))
    except Exception:
        logger.exception("AI turn failed for message %s", message_id)
        _post_reply(conversation, message, fallback_reply(agent=agent))
