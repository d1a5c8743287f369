"""Long replies are split where a reader would split them, and nothing is ever lost."""

import pytest

from channels_gateway.adapters.base import OutboundMessage, RetryableDeliveryError
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf8_length, utf16_length


def test_a_short_message_is_one_part():
    assert split_message("Hello", 10) == ["Hello"]


def test_paragraphs_are_kept_whole_when_they_fit():
    text = "First paragraph here.\n\nSecond paragraph here."
    assert split_message(text, 30) == ["First paragraph here.", "Second paragraph here."]


def test_sentences_then_words_are_the_next_breaks():
    assert split_message("One two. Three four five.", 12) == ["One two.", "Three four", "five."]


def test_a_word_longer_than_the_limit_is_cut_and_nothing_is_lost():
    parts = split_message("x" * 25, 10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


def test_every_word_survives_a_long_split():
    text = " ".join(f"word{i}" for i in range(3000))
    parts = split_message(text, 2000)
    assert all(len(part) <= 2000 for part in parts)
    assert " ".join(parts).split() == text.split()


def test_limits_counted_in_utf16_units_hold_for_emoji():
    parts = split_message("😀" * 3000, 4096, length=utf16_length)
    assert [utf16_length(part) for part in parts] == [4096, 1904]


def outbound(parts_sent: int = 0) -> OutboundMessage:
    return OutboundMessage(message_id=1, conversation_id=1, thread_id="t", text="", author_kind="ai",
                           author_name="Bot", created_at="", parts_sent=parts_sent)


def test_a_retry_resumes_after_the_parts_already_delivered():
    sent, failures = [], []

    def flaky(text, index):
        if index == 1 and not failures:
            failures.append(index)
            raise RetryableDeliveryError("rate limited", retry_after=3)
        sent.append(text)
        return f"id{index}"

    with pytest.raises(RetryableDeliveryError) as failure:
        send_in_parts(outbound(), ["a", "b", "c"], flaky)
    assert failure.value.parts_sent == 1 and sent == ["a"]

    result = send_in_parts(outbound(parts_sent=failure.value.parts_sent), ["a", "b", "c"], flaky)
    assert sent == ["a", "b", "c"]
    assert result.platform_message_ids == ["id1", "id2"]


def test_utf8_limits_count_bytes():
    assert utf8_length("abc") == 3 and utf8_length("é") == 2 and utf8_length("📦") == 4
    parts = split_message("📦 " * 600, 1000, length=utf8_length)  # 3,000 bytes, 1,200 characters
    assert len(parts) == 3 and all(utf8_length(part) <= 1000 for part in parts)
    assert " ".join(parts).split() == ["📦"] * 600
