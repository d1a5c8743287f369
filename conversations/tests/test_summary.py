"""The offline handoff note a teammate reads before accepting."""

from conversations.ai.summary import extractive_summary
from conversations.ai.transcript import Turn


def test_the_note_says_what_the_customer_came_for_and_what_they_gave():
    note = extractive_summary(turns=[
        Turn("user", "hi"),
        Turn("assistant", "Hello! How can I help?"),
        Turn("user", "My parcel for order #48213 never arrived, I'm at jo@example.org"),
        Turn("assistant", "Sorry to hear that. Tracking shows it was delivered."),
        Turn("user", "can I talk to a human?"),
    ])
    assert note.startswith("Needs help with: “My parcel for order #48213 never arrived")
    assert "Asked for a person: “can I talk to a human?”." in note
    assert "Details given: #48213, jo@example.org." in note
    assert note.endswith("3 customer messages and 2 AI replies before the handoff.")


def test_a_request_right_after_a_greeting_is_not_mistaken_for_the_topic():
    note = extractive_summary(turns=[Turn("user", "Hello!"), Turn("assistant", "Hi!"),
                                     Turn("user", "human please")])
    assert note == "Asked for a person: “human please”. 2 customer messages and 1 AI reply before the handoff."


def test_the_models_reason_is_kept_when_it_adds_something():
    note = extractive_summary(turns=[Turn("user", "this is useless")], reason="Frustrated after two failed refunds")
    assert "Why: Frustrated after two failed refunds." in note
