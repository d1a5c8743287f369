"""A user's message into its conversation: the one-statement store (PostgreSQL) and the ORM
transaction (other databases) behave alike, so both run here on PostgreSQL."""

import threading

import pytest
from django.db import connection as default_connection
from django.db import connections, transaction

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AIReplyState, AuthorKind, Contact, Conversation, ConversationMode, Message
from conversations.services import inbound_store
from conversations.services.inbound_store import ConnectionChanged
from conversations.services.messages import receive_inbound_message

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one statement", "transaction"])
def store(request, monkeypatch):
    if request.param == "transaction":
        monkeypatch.setattr(inbound_store, "ONE_STATEMENT_VENDORS", frozenset())
    return request.param


@pytest.fixture
def telegram(agent):
    return ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM)


def say(connection, text, message_id=None, *, sender="42", thread="42", name="Tess"):
    return receive_inbound_message(connection=connection, inbound=InboundMessage(
        contact_external_id=sender, thread_id=thread, text=text, platform_message_id=message_id,
        contact_name=name))


def test_a_thread_opens_one_conversation_and_keeps_it(store, telegram):
    first = say(telegram, "Hi", "1")
    second = say(telegram, "Where is my parcel?", "2")
    assert first.created and second.created
    conversation = Conversation.objects.get()
    assert first.message.conversation_id == second.message.conversation_id == conversation.pk
    assert conversation.contact.display_name == "Tess"
    assert conversation.last_message_at == Message.objects.get(pk=second.message.pk).created_at


def test_in_ai_mode_the_ai_answers_each_message(store, telegram, django_capture_on_commit_callbacks):
    stored = []
    for message_id, text in enumerate(["Hi", "Where is my parcel?"]):
        with django_capture_on_commit_callbacks(execute=True):
            stored.append(say(telegram, text, str(message_id)))
    assert [result.message.ai_reply_state for result in stored] == [AIReplyState.PENDING] * 2
    # Tasks run in process: the offline responder answered both.
    assert Message.objects.filter(author_kind=AuthorKind.AI).count() == 2
    assert set(Message.objects.filter(author_kind=AuthorKind.USER).values_list("ai_reply_state", flat=True)) == {
        AIReplyState.DONE}


def test_a_redelivery_is_the_stored_message_and_starts_nothing(store, telegram, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        stored = say(telegram, "Where is my parcel?", "7")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = say(telegram, "Where is my parcel?", "7")
    assert not again.created and again.message.pk == stored.message.pk
    assert again.message.text == "Where is my parcel?"
    assert callbacks == []
    assert Message.objects.filter(author_kind=AuthorKind.USER).count() == 1


def test_in_human_mode_the_ai_stays_silent(store, telegram, django_capture_on_commit_callbacks):
    say(telegram, "Hi", "1")
    Conversation.objects.update(mode=ConversationMode.HUMAN)
    with django_capture_on_commit_callbacks(execute=True):
        stored = say(telegram, "Still there?", "2")
    assert stored.message.ai_reply_state == AIReplyState.NONE
    assert stored.message.conversation.mode == ConversationMode.HUMAN
    assert not Message.objects.filter(author_kind=AuthorKind.AI).exists()


def test_on_the_api_channel_handoffs_own_ai_never_answers(store, agent, django_capture_on_commit_callbacks):
    api = ChannelConnectionFactory(agent=agent, platform=Platform.API)
    with django_capture_on_commit_callbacks(execute=True):
        stored = say(api, "Hello", "m-1")
    assert stored.created and stored.message.ai_reply_state == AIReplyState.NONE
    assert not Message.objects.filter(author_kind=AuthorKind.AI).exists()


def test_the_senders_new_name_is_kept(store, telegram):
    say(telegram, "Hi", "1", name="Tess")
    stored = say(telegram, "It's me again", "2", name="Tess Ogundipe")
    assert str(stored.message.conversation.contact) == "Tess Ogundipe"
    assert Contact.objects.get().display_name == "Tess Ogundipe"


def test_another_member_of_a_shared_thread_writes_into_the_same_conversation(store, agent):
    slack = ChannelConnectionFactory(agent=agent, platform=Platform.SLACK)
    say(slack, "Our order is late", "1", sender="U1", thread="C1:1700.1", name="Uma")
    stored = say(slack, "Any news?", "2", sender="U2", thread="C1:1700.1", name="Vic")
    conversation = Conversation.objects.get()
    assert stored.message.conversation_id == conversation.pk
    assert conversation.contact.display_name == "Uma"  # the conversation's contact keeps hers
    assert sorted(Contact.objects.values_list("display_name", flat=True)) == ["Uma", "Vic"]
    say(slack, "Hello?", "3", sender="U2", thread="C1:1700.1", name="Vic Adeyemi")
    assert sorted(Contact.objects.values_list("display_name", flat=True)) == ["Uma", "Vic Adeyemi"]


def test_a_switched_off_connection_takes_nothing(store, telegram):
    say(telegram, "Hi", "1")
    ChannelConnection.objects.filter(pk=telegram.pk).update(is_active=False)
    telegram.refresh_from_db()
    with pytest.raises(ConnectionChanged) as refused:
        say(telegram, "Hello?", "2")
    assert refused.value.http_status == 404 and refused.value.code == "channel_inactive"
    assert Message.objects.count() == 1


def test_a_connection_switched_off_after_it_was_read_takes_nothing(telegram):
    # The statement checks the row itself, not the caller's copy of it.
    say(telegram, "Hi", "1")
    ChannelConnection.objects.filter(pk=telegram.pk).update(is_active=False)
    with pytest.raises(ConnectionChanged):
        say(telegram, "Hello?", "2")
    assert Message.objects.count() == 1


def test_a_remembered_connection_that_was_written_since_takes_nothing(telegram):
    say(telegram, "Hi", "1")
    telegram.row_version = "1"  # as read before some write: xmin is never 1 for a user's row
    with pytest.raises(ConnectionChanged):
        say(telegram, "Hello?", "2")
    assert Message.objects.count() == 1


def prepared_stores() -> int:
    with default_connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%INSERT INTO conversations_message%"])
        return cursor.fetchone()[0]


def test_the_connection_prepares_the_statement_after_a_few_messages(telegram, settings):
    # PostgreSQL then neither parses nor plans it again: most of its time, unprepared.
    assert settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] == 5
    say(telegram, "Hi", "1")
    assert prepared_stores() == 0
    for message_id in range(2, 8):
        say(telegram, "Still there?", str(message_id))
    assert prepared_stores() == 1
    assert Message.objects.count() == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["one statement", "transaction"], indirect=True)
@pytest.mark.parametrize("switch", [ConversationMode.AI, ConversationMode.HUMAN])
def test_a_message_arriving_mid_transition_goes_by_the_mode_it_committed(store, telegram, switch):
    """A resolve (→ AI) or an escalation (→ human) holds the conversation's lock while it
    commits; a message arriving meanwhile waits, then goes by the new mode: the AI answers
    it after a resolve and stays silent after an escalation, never the other way round."""
    assert default_connection.vendor == "postgresql"
    say(telegram, "Hi", "1")
    before = ConversationMode.HUMAN if switch == ConversationMode.AI else ConversationMode.AI
    Conversation.objects.update(mode=before)
    locked, outcome = threading.Event(), {}

    def arrive():
        locked.wait(5)
        try:
            outcome["stored"] = say(telegram, "Are you there?", "2")
        finally:
            connections.close_all()

    arriving = threading.Thread(target=arrive)
    arriving.start()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(no_key=True).get()
        locked.set()
        arriving.join(0.5)
        assert arriving.is_alive(), "the message must wait for the transition's lock"
        conversation.mode = switch
        conversation.save(update_fields=["mode"])
    arriving.join(10)
    expected = AIReplyState.PENDING if switch == ConversationMode.AI else AIReplyState.NONE
    assert outcome["stored"].message.ai_reply_state == expected
    # Tasks run in process here: after a resolve the AI has answered it too.
    ai_replies = Message.objects.filter(author_kind=AuthorKind.AI).count()
    assert ai_replies == (2 if switch == ConversationMode.AI else 1)
