"""Decoding and validation of interaction events: every bad input gets a stable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel.operators.decode import clean_event, decode_event, is_clean_json
from flywheel.schemas.events import InteractionEvent, Reason, Rejection, Signal
from flywheel.settings import ValidationSettings

LIMITS = ValidationSettings(max_event_bytes=4096, max_text_bytes=256, max_metadata_bytes=128)
VALID = {
    "event_id": "e1",
    "signal": "edit",
    "occurred_at": "2026-11-01T10:00:00Z",
    "thread_id": "t1",
    "user_id": "u1",
    "prompt": "p",
    "response": "model answer",
    "final_user_edit": "user answer",
}


def encode(**changes: object) -> bytes:
    return json.dumps({**VALID, **changes}).encode()


def test_valid_event_decodes_with_defaults() -> None:
    event = decode_event(encode(), LIMITS)
    assert isinstance(event, InteractionEvent)
    assert event.signal is Signal.EDIT and event.segment == "default" and event.schema_version == 1
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", Reason.EMPTY_MESSAGE),
        (None, Reason.EMPTY_MESSAGE),
        (b'{"event_id": ', Reason.MALFORMED_JSON),
        (b"\xff\xfe{}", Reason.INVALID_UTF8),
        (b'{"event_id": "\xc3\x28"}', Reason.INVALID_UTF8),
        (b"[1]", Reason.NOT_AN_OBJECT),
        (json.dumps({k: v for k, v in VALID.items() if k != "prompt"}).encode(), Reason.MISSING_FIELD),
        (encode(prompt=3), Reason.WRONG_TYPE),
        (encode(signal="teleport"), Reason.UNKNOWN_SIGNAL),
        (encode(occurred_at="2026-11-01T10:00:00"), Reason.INVALID_VALUE),
        (encode(signal="rating", rating=9), Reason.INVALID_VALUE),
        (encode(signal="rating"), Reason.MISSING_FIELD),
        (encode(final_user_edit=None), Reason.MISSING_FIELD),
        (encode(final_user_edit="é" * 200), Reason.FIELD_TOO_LARGE),
        (encode(metadata={"k": "v" * 200}), Reason.FIELD_TOO_LARGE),
        (encode(schema_version=2), Reason.UNSUPPORTED_SCHEMA_VERSION),
        (b"{" + b" " * 5000 + b"}", Reason.EVENT_TOO_LARGE),
    ],
)
def test_bad_input_is_rejected_with_its_reason(raw: bytes | None, reason: str) -> None:
    result = decode_event(raw, LIMITS)
    assert isinstance(result, Rejection)
    assert result.reason == reason, result.detail
    assert result.detail


def test_text_limit_counts_utf8_bytes_not_characters() -> None:
    # 100 two-byte characters = 200 bytes: under the 256-byte limit although 4 * len > limit.
    assert isinstance(decode_event(encode(final_user_edit="é" * 100), LIMITS), InteractionEvent)


def test_control_and_bidi_characters_are_removed_and_counted() -> None:
    decoded = decode_event(encode(prompt="a\x00b\x07c", final_user_edit="safe\u202etxt.exe\tok\ne\u0301"), LIMITS)
    assert isinstance(decoded, InteractionEvent)
    event, removed = clean_event(decoded)
    assert event.prompt == "abc"
    assert event.final_user_edit == "safetxt.exe\tok\n\u00e9"  # tab and newline kept, NFC composed
    assert removed == {"control": 2, "bidi": 1}
    assert clean_event(event) == (event, {})


# Texts mixing plain ASCII, JSON's escapes, controls, DEL, bidi and invisible characters, and
# characters that NFC composes: what can reach the decoder in a message.
_TRICKY = st.lists(
    st.sampled_from(["a", "Z", " ", "\\", '"', "/", "u", "b", "f", "\n", "\r", "\t", "\b", "\f", "\x00", "\x7f"])
    | st.sampled_from(["\x85", "\u202e", "\u200b", "\ufeff", "e\u0301", "\u00e9", "\u2019"])
    | st.characters(exclude_categories=["Cs"]),  # msgspec rejects a lone surrogate
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(prompt=_TRICKY, edit=_TRICKY, ascii_only=st.booleans(), library=st.sampled_from(["json", "msgspec"]))
def test_a_message_called_clean_decodes_to_an_event_cleaning_leaves_as_it_is(
    prompt: str, edit: str, ascii_only: bool, library: str
) -> None:
    fields = {**VALID, "prompt": prompt or "p", "final_user_edit": edit or "e"}
    raw = json.dumps(fields, ensure_ascii=ascii_only).encode() if library == "json" else msgspec.json.encode(fields)
    event = decode_event(raw, ValidationSettings())
    assert isinstance(event, InteractionEvent)
    if is_clean_json(raw):
        assert clean_event(event) == (event, {})


def test_messages_whose_texts_need_cleaning_are_not_called_clean() -> None:
    assert is_clean_json(encode(prompt='plain ascii, a \\ backslash and "quotes"\nnew line\ttab'))
    for dirty in ("nul\x00", "bell\x07", "back\bspace", "form\ffeed", "del\x7f", "bidi\u202e", "zw\u200bsp", "e\u0301"):
        assert not is_clean_json(encode(prompt=dirty)), dirty
        assert not is_clean_json(msgspec.json.encode({**VALID, "prompt": dirty})), dirty


RECEIVED_MS = int(datetime(2026, 11, 1, 10, 0, tzinfo=UTC).timestamp() * 1000)  # VALID's occurred_at


@pytest.mark.parametrize(
    ("occurred_at", "rejected"),
    [
        ("2026-11-01T09:00:00Z", False),  # an hour before it was received: late, not forged
        ("2026-11-01T10:05:00Z", False),  # exactly the allowance ahead (client clock skew)
        ("2026-11-01T10:05:01Z", True),
        ("2036-11-01T10:00:00Z", True),
    ],
)
def test_an_event_claiming_a_time_after_its_message_was_received_is_rejected(occurred_at: str, rejected: bool) -> None:
    limits = ValidationSettings(max_future_s=300)
    result = decode_event(encode(occurred_at=occurred_at), limits, received_ms=RECEIVED_MS)
    if not rejected:
        assert isinstance(result, InteractionEvent)
        return
    assert isinstance(result, Rejection) and result.reason == Reason.OCCURRED_IN_FUTURE
    assert "`occurred_at`" in result.detail and "validation.max_future_s" in result.detail


def test_a_message_without_a_timestamp_is_not_judged_on_event_time() -> None:
    assert isinstance(decode_event(encode(occurred_at="2036-11-01T10:00:00Z"), LIMITS), InteractionEvent)
    assert isinstance(
        decode_event(encode(occurred_at="2036-11-01T10:00:00Z"), LIMITS, received_ms=-1), InteractionEvent
    )


def test_a_review_event_may_carry_scrubbed_texts_past_the_limits() -> None:
    # The review app sends back texts the flow stored scrubbed: placeholders made them longer than
    # the limits they met when they came in. A review event gets the room scrubbing may add (x3);
    # any other signal does not, and nothing past x3 is parsed at all.
    grown = "[EMAIL] " * 80  # 640 bytes: over 256, under 3 * 256
    review = decode_event(encode(signal="review", prompt=grown, metadata={"review": {"n": "x" * 200}}), LIMITS)
    assert isinstance(review, InteractionEvent) and review.prompt == grown
    edit = decode_event(encode(prompt=grown), LIMITS)
    assert isinstance(edit, Rejection) and edit.reason is Reason.FIELD_TOO_LARGE
    padded = decode_event(encode(signal="review").replace(b"{", b"{" + b" " * 5000, 1), LIMITS)
    assert isinstance(padded, InteractionEvent)  # 5 KB: over 4096, within a review event's 3 * 4096
    assert decode_event(encode().replace(b"{", b"{" + b" " * 5000, 1), LIMITS) == Rejection(
        Reason.EVENT_TOO_LARGE, f"event is {len(encode()) + 5000} bytes, over the limit of 4096"
    )
    huge = decode_event(encode(signal="review", comment="y" * 13000), LIMITS)  # over 3 * 4096: refused unread
    assert isinstance(huge, Rejection) and huge.reason is Reason.EVENT_TOO_LARGE
