"""The rules file's schema: what :class:`flywheel.operators.policy.PolicyEngine` validates on load.

The format is documented in ``operators/policy.py``; these models only check it (unknown keys
are errors, so a typo in a rules file fails at start, not silently in production).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flywheel.operators.disguises import Fold

FieldName = Literal["prompt", "chosen", "rejected"]


def _default_fields() -> list[FieldName]:
    return ["chosen"]


class Limits(BaseModel):
    """``[limits]``: characters per field; longer texts are rejected."""

    model_config = ConfigDict(extra="forbid")
    max_prompt_chars: int = Field(default=32000, ge=1)
    max_chosen_chars: int = Field(default=32000, ge=1)
    max_rejected_chars: int = Field(default=32000, ge=1)


class PiiRule(BaseModel):
    """``[pii] <detector> = { action = ... }``."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["reject", "scrub"]


class TextRuleSpec(BaseModel):
    """One ``[[injection]]`` or ``[[blocked]]`` rule: whole-word terms and regexes."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    applies_to: list[FieldName] = Field(default_factory=_default_fields, min_length=1)
    terms: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)


class LexiconSpec(BaseModel):
    """``[lexicon]``: the sentiment lexicon behind the proximity rules' ``@negative`` group."""

    model_config = ConfigDict(extra="forbid")
    package: str = "vaderSentiment"
    resource: str = "vader_lexicon.txt"
    max_valence: float = Field(default=-1.5, le=0.0)
    min_chars: int = Field(default=1, ge=1)
    exclude: list[str] = Field(default_factory=list)
    extra: list[str] = Field(default_factory=list)


class WordListsSpec(BaseModel):
    """``[word_lists]`` (opt-in): per-language word lists read in the user's added prose (operators/word_lists.py)."""

    model_config = ConfigDict(extra="forbid")
    # The drop reason is ``blocked:<name>``.
    name: str = Field(default="word_list", min_length=1, pattern=r"^[a-z0-9_]+$")
    package: str = "glin_profanity"
    directory: str = "data/dictionaries"
    languages: list[str] = Field(min_length=1)
    # Lists of romanised words no language identifier names (Hindi in Latin script): read in any segment.
    any_language: list[str] = Field(default_factory=list)
    # Words of a spaced script shorter than this are not read (Han, kana and Thai: two characters).
    min_chars: int = Field(default=3, ge=1)
    exclude: list[str] = Field(default_factory=list)


class ProximityRuleSpec(BaseModel):
    """One ``[[proximity]]`` rule (``operators/proximity.py``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    kind: Literal["injection", "blocked"]
    applies_to: list[FieldName] = Field(default_factory=_default_fields, min_length=1)
    window: int = Field(default=6, ge=0, le=64)
    groups: list[list[str]] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)
    ordered: bool = False
    near: list[tuple[int, int, int]] = Field(default_factory=list)
    skip_rejected_sentences: bool = True
    # default-v7: the last group's hits right after "not" / "never" / "n't" are no hits ("you are not an idiot").
    negatable: bool = False
    # default-v9: the last group's hits right before one of these words describe a thing, not a
    # person ("so you avoid stupid mistakes"): no hits.
    not_before: list[str] = Field(default_factory=list)


class PolicyFile(BaseModel):
    """A whole rules file."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1)
    description: str = ""
    pii_in_chosen: Literal["drop", "keep"] = "drop"
    # default-v9: the injection and blocked rules skip a quotation introduced as an example
    # (operators/mentions.py: "banned phrases such as 'you're an idiot'").
    quoted_mentions: bool = False
    # default-v10: more words that introduce an example or reported words (another language's
    # "such as", "writes"), and more that order the quotation's use; "word*" is a prefix.
    mention_cues: list[str] = Field(default_factory=list)
    mention_orders: list[str] = Field(default_factory=list)
    # default-v10: more quote marks, each an opening and a closing one (German „...“, Japanese 『...』).
    mention_quotes: list[str] = Field(default_factory=list)
    # default-v10: cues right after the quotation, where the verb of saying follows it ("„...“ enthalten").
    mention_cues_after: list[str] = Field(default_factory=list)
    # default-v11: disguises the rules' folded view undoes besides folded_view's (operators/disguises.py:
    # Latin look-alikes inside Cyrillic words, digits for letters); none before v11.
    folds: list[Fold] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    pii: dict[str, PiiRule] = Field(default_factory=dict)
    injection: list[TextRuleSpec] = Field(default_factory=list)
    blocked: list[TextRuleSpec] = Field(default_factory=list)
    lexicon: LexiconSpec | None = None
    proximity: list[ProximityRuleSpec] = Field(default_factory=list)
    word_lists: WordListsSpec | None = None
