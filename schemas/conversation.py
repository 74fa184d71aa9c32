"""Earlier turns of a conversation: ``metadata["conversation"]`` of an interaction event.

A list of ``{"role": "system" | "user" | "assistant", "content": str}`` messages that came before
the event's ``prompt``, oldest first. The flow validates it (a pair whose conversation is malformed
is rejected), stores it scrubbed in ``dpo_pairs.metadata`` as ``{"conversation": [...]}`` JSON, and
the trainer puts it before the prompt. Its size is bounded by ``validation.max_metadata_bytes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CONVERSATION_KEY = "conversation"
ROLES = frozenset({"system", "user", "assistant"})

Message = dict[str, str]


class MalformedConversation(ValueError):
    """``metadata["conversation"]`` is not a list of ``{"role", "content"}`` messages."""


def conversation_of(metadata: Mapping[str, Any] | None) -> list[Message]:
    """The messages before the prompt ([] when there are none); :class:`MalformedConversation` if invalid."""
    if not metadata or CONVERSATION_KEY not in metadata:
        return []
    turns = metadata[CONVERSATION_KEY]
    if not isinstance(turns, list):
        raise MalformedConversation(f"metadata.{CONVERSATION_KEY} is a {type(turns).__name__}, not a list")
    messages: list[Message] = []
    for index, turn in enumerate(turns):
        where = f"metadata.{CONVERSATION_KEY}[{index}]"
        if not isinstance(turn, Mapping):
            raise MalformedConversation(f"{where} is a {type(turn).__name__}, not an object")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise MalformedConversation(f"{where}.role is {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise MalformedConversation(f"{where}.content is a {type(content).__name__}, not a string")
        messages.append({"role": str(role), "content": content})
    return messages


def stored_turns(value: Any) -> list[Message] | None:
    """The turns of a stored ``dpo_pairs.metadata`` value (JSON text, a map or None); [] if none, None if malformed.

    The flow stores only well-formed conversations; a malformed value means a row written by
    something else, and readers use it without its turns (they say so) rather than fail.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list):  # an Iceberg map read back as (key, value) tuples
        value = {key: _json_or_text(item) for key, item in value}
    if value is not None and not isinstance(value, Mapping):
        return None
    try:
        return conversation_of(value)
    except MalformedConversation:
        return None


def _json_or_text(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value
