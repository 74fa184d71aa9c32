"""Deterministic policy engine: a versioned rules file applied to (prompt, chosen, rejected).

The rules file (TOML or YAML; see ``operators/policies/default-v1.toml``; schema in
``operators/policy_file.py``) holds::

    version = "default-v2"              # stamped on every stored row
    pii_in_chosen = "drop" | "keep"     # a pair whose chosen needed scrubbing (default drop)
    quoted_mentions = true | false      # rules skip a quotation introduced as an example (v9)
    mention_cues, mention_orders = [...] # more words that introduce one, or order its use (v10)
    mention_quotes = ["„“", ...]       # more quote marks, an opening and a closing one (v10)
    folds = ["cyrillic_words", ...]    # disguises the folded view undoes besides (v11; operators/disguises.py)
    [limits]  max_prompt_chars / max_chosen_chars / max_rejected_chars
    [pii]     <detector> = { action = "reject" | "scrub" }   # detectors: see operators.pii_detectors
    [[injection]] name, applies_to, terms, patterns          # prompt-injection markers
    [[blocked]]   name, applies_to, terms, patterns          # blocked content
    [lexicon]     package, resource, max_valence, min_chars, exclude, extra   # the `@negative` group
    [[proximity]] name, kind = "injection" | "blocked", applies_to, window, groups, unless, ordered,
                  near, skip_rejected_sentences                      # word families near each other
    [word_lists]  name, package, directory, languages, any_language, min_chars, exclude # opt-in, no packaged version

Terms match whole words and patterns are regexes, both on normalised text (NFC, case-folded,
whitespace collapsed). Every rule also reads each text's folded view
(``normalize.folded_view``: NFKC, invisible characters removed, Cyrillic/Greek look-alikes as
Latin, "i d i o t" joined; with ``folds``, more: ``operators/disguises.py``) where that reads
otherwise, and matches when either does. A
proximity rule (``operators/proximity.py``) fires when a word of each of its groups occurs in
one sentence within ``window`` tokens; it generalises to wordings no pattern names (intent
families for injections; a sentiment lexicon next to "you"/"this answer" for abuse). Check
order, first drop wins: length, injection (patterns, then proximity), blocked (patterns, then
proximity, then ``word_lists``: a listed word in the prose ``chosen`` adds,
``operators/word_lists.py``), PII with action ``reject``, PII in ``chosen``
(``pii_in_chosen:<detector>`` unless
``pii_in_chosen = "keep"``: the model must never learn to print a placeholder). Findings of
every check are returned as scores. Earlier turns of a conversation are checked as the prompt
is (its injection and blocked rules, PII ``reject``); rows store them scrubbed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import yaml
from pydantic import ValidationError

from flywheel.errors import PolicyError
from flywheel.operators.disguises import view_with_folds
from flywheel.operators.mentions import MentionCues, blank_mentions
from flywheel.operators.normalize import normalize_text
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.pii import placeholders, scan, scan_all
from flywheel.operators.pii_detectors import DETECTOR_NAMES
from flywheel.operators.policy_file import PolicyFile
from flywheel.operators.proximity import (
    Group,
    ProximityRule,
    RuleIndex,
    load_lexicon,
    negative_words,
    sentences,
    tokenised,
)
from flywheel.operators.regex_needles import NeedleIndex
from flywheel.operators.text_rules import CompiledTextRule
from flywheel.operators.word_lists import WordLists
from flywheel.schemas.conversation import MalformedConversation, Message, conversation_of

# Reason of a pair whose metadata.conversation is not a list of {"role", "content"} messages.
INVALID_CONVERSATION = "invalid_conversation"


def _compile_proximity(parsed: PolicyFile, source: str) -> list[ProximityRule]:
    negative = None
    if parsed.lexicon is not None:
        lex = parsed.lexicon
        words = load_lexicon(lex.package, lex.resource, source)
        negative = negative_words(words, lex.max_valence, (normalize_text(w) for w in lex.exclude), lex.min_chars)
        negative |= frozenset(normalize_text(w) for w in lex.extra)
    rules = []
    for index, rule in enumerate(parsed.proximity):
        where = f"{source}: proximity[{index}] ({rule.name!r})"
        if any(not group for group in rule.groups):
            raise PolicyError(f"{where}: a group holds no word")
        groups = tuple(Group.parse(group, negative, where) for group in rule.groups)
        unless = Group.parse(rule.unless, negative, where) if rule.unless else None
        bad = [n for n in rule.near if not (0 <= n[0] < len(groups) and 0 <= n[1] < len(groups) and n[2] >= 0)]
        if bad:
            raise PolicyError(f"{where}: `near` entries (group, group, max tokens between) out of range: {bad}")
        applies_to = tuple(rule.applies_to)
        rules.append(
            ProximityRule(
                rule.name,
                rule.kind,
                applies_to,
                rule.window,
                groups,
                rule.skip_rejected_sentences,
                unless,
                rule.ordered,
                tuple(rule.near),
                rule.negatable,
                frozenset(normalize_text(word) for word in rule.not_before),
            )
        )
    return rules


class PolicyVerdict(msgspec.Struct, frozen=True):
    """Outcome of a policy check: drop (or None) and the texts to store (scrubbed)."""

    drop: Drop | None
    prompt: str
    chosen: str
    rejected: str
    findings: dict[str, float]


class PolicyEngine:
    """Applies one loaded policy; immutable, safe to share between events."""

    def __init__(self, policy: dict[str, Any], source: str = "<policy>") -> None:
        try:
            parsed = PolicyFile.model_validate(policy)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise PolicyError(f"{source}: invalid policy: {problems}") from exc
        unknown = sorted(set(parsed.pii) - set(DETECTOR_NAMES))
        if unknown:
            raise PolicyError(f"{source}: pii: unknown detector(s) {unknown}; known: {list(DETECTOR_NAMES)}")
        self.version = parsed.version
        self.description = parsed.description
        self.limits = parsed.limits
        self.pii_actions = {name: rule.action for name, rule in parsed.pii.items()}
        self.pii_in_chosen = parsed.pii_in_chosen
        self.quoted_mentions = parsed.quoted_mentions
        self._mention_cues = MentionCues(
            parsed.mention_cues, parsed.mention_orders, parsed.mention_quotes, parsed.mention_cues_after
        )
        self._pii_names = frozenset(self.pii_actions)
        # The folded view every rule reads besides the text (the version's `folds` added).
        self.folded_view: Callable[[str], str] = view_with_folds(parsed.folds)
        self._injection = [CompiledTextRule("injection", i, r, source) for i, r in enumerate(parsed.injection)]
        self._blocked = [CompiledTextRule("blocked", i, r, source) for i, r in enumerate(parsed.blocked)]
        self._proximity = _compile_proximity(parsed, source)
        self._proximity_index = RuleIndex(self._proximity)
        self._word_lists = WordLists(parsed.word_lists, source) if parsed.word_lists is not None else None
        # Every needle of every injection and blocked rule, found in one pass per text.
        self._needles = NeedleIndex(needle for rule in (*self._injection, *self._blocked) for needle in rule.needles)
        # The text rules each needle can set off, and those searched whatever the needles: a text's
        # needles name the few rules worth a look, so the others are passed over without a call.
        rules_of: dict[str, set[CompiledTextRule]] = {}
        for rule in (*self._injection, *self._blocked):
            for needle in rule.needles:
                rules_of.setdefault(needle, set()).add(rule)
        self._rules_of_needle = {needle: frozenset(rules) for needle, rules in rules_of.items()}
        self._always_searched = frozenset(r for r in (*self._injection, *self._blocked) if r.always_searched)
        self._rule_fields = frozenset(
            field for rule in (*self._injection, *self._blocked) for field in _checked_fields(rule.applies_to)
        )
        # The texts any rule reads (their folded views too).
        self._read_fields = self._rule_fields | {
            f for rule in self._proximity for f in _checked_fields(rule.applies_to)
        }
        # Per kind, in file order: the text rules and the proximity rules (with their numbers in
        # the rule index), each with the fields it reads; worked out once, not per evaluation.
        self._rules_by_kind = tuple(
            (
                kind,
                tuple((rule, tuple(_checked_fields(rule.applies_to))) for rule in rules),
                tuple(
                    (number, prule, tuple(_checked_fields(prule.applies_to)))
                    for number, prule in enumerate(self._proximity)
                    if prule.kind == kind
                ),
            )
            for kind, rules in (("injection", self._injection), ("blocked", self._blocked))
        )

    @property
    def proximity_rules(self) -> tuple[ProximityRule, ...]:
        """The proximity rules (injection and blocked), in file order."""
        return tuple(self._proximity)

    @property
    def injection_rules(self) -> tuple[CompiledTextRule, ...]:
        """The prompt-injection rules, in file order."""
        return tuple(self._injection)

    @property
    def blocked_rules(self) -> tuple[CompiledTextRule, ...]:
        """The blocked-content rules, in file order."""
        return tuple(self._blocked)

    @classmethod
    def from_file(cls, path: Path | str) -> PolicyEngine:
        """Load a TOML (``.toml``) or YAML (``.yaml``/``.yml``) rules file."""
        path = Path(path)
        if not path.is_file():
            raise PolicyError(f"policy file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif path.suffix in {".yaml", ".yml"}:
                data = yaml.safe_load(text)
            else:
                raise PolicyError(f"policy file {path} must end in .toml, .yaml or .yml")
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise PolicyError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: the policy must be a mapping at the top level")
        return cls(data, source=str(path))

    def scrub(self, text: str) -> str:
        """The text with every built-in PII/secret detector masked (for audit rows)."""
        return scan_all(text).scrubbed

    def own_words(self, text: str) -> str:
        """``text`` with quoted mentions blanked where the policy has ``quoted_mentions`` (as its rules read it)."""
        return blank_mentions(text, self._mention_cues) if self.quoted_mentions else text

    def evaluate(self, prompt: str, chosen: str, rejected: str = "", conversation: Sequence[str] = ()) -> PolicyVerdict:
        """Check a candidate; texts come back scrubbed by the ``scrub``-action detectors.

        ``conversation`` (the earlier turns' contents) is context for the prompt: the injection and
        blocked rules that apply to ``prompt`` and the ``reject`` PII detectors apply to it too.
        """
        texts: dict[str, str] = {
            "prompt": prompt,
            "chosen": chosen,
            "rejected": rejected,
            "conversation": "\n\n".join(conversation),
        }
        findings: dict[str, float] = {}
        drops: list[Drop] = []

        limits = {
            "prompt": self.limits.max_prompt_chars,
            "chosen": self.limits.max_chosen_chars,
            "rejected": self.limits.max_rejected_chars,
        }
        for name, limit in limits.items():
            if len(texts[name]) > limit:
                findings[f"too_long:{name}"] = float(len(texts[name]))
                drops.append(Drop(Stage.POLICY, f"too_long:{name}", f"{name} has {len(texts[name])} chars > {limit}"))

        # What the injection and blocked rules read: with ``quoted_mentions``, a quotation introduced
        # as an example ("banned phrases such as '...'") blanked (operators/mentions.py); PII reads all.
        read = {name: self.own_words(text) for name, text in texts.items()}
        normalized = {name: normalize_text(text) for name, text in read.items()}
        present = {name: self._needles.found(normalized[name]) for name in self._rule_fields}
        # Where a text reads otherwise in its folded view (look-alikes, invisible characters,
        # spaced letters undone), the rules read that too and match when either matches; never
        # the view alone, as joining letters can break what the text says plainly.
        views: dict[str, str] = {}
        folded: dict[str, tuple[str, frozenset[str]]] = {}  # the view normalised, and its needles
        for name in self._read_fields:
            view = self.folded_view(read[name])
            if view is not read[name] and (form := normalize_text(view)) != normalized[name]:
                views[name] = view
                folded[name] = (form, self._needles.found(form))
        # Tokenised sentences per (field, without the model's own sentences), made once per evaluation:
        # a proximity rule does not hold the model's sentences against the user's edit.
        words: dict[tuple[str, bool], list[tuple[list[str], frozenset[str]]]] = {}
        candidates: dict[tuple[str, bool], frozenset[int]] = {}  # rules each tokenised text may set off
        live = self._always_searched.union(
            *(self._rules_of_needle[n] for found in present.values() for n in found),
            *(self._rules_of_needle[n] for _form, found in folded.values() for n in found),
        )
        known: frozenset[str] | None = None
        known_folded: frozenset[str] = frozenset()
        for kind, text_rules, proximity_rules in self._rules_by_kind:
            for rule, fields in text_rules:
                if rule not in live:  # no needle of it in any text it could read: matches() would say no
                    continue
                hits = [
                    f
                    for f in fields
                    if rule.matches(normalized[f], present[f]) or (f in folded and rule.matches(*folded[f]))
                ]
                if hits:
                    findings[f"{kind}:{rule.name}"] = float(len(hits))
                    detail = f"{kind} rule {rule.name!r} matched in {', '.join(hits)}"
                    drops.append(Drop(Stage.POLICY, f"{kind}:{rule.name}", detail))
            for number, prule, fields in proximity_rules:
                if known is None:  # the model's sentences, and as folded for the edit's folded ones
                    known = frozenset(sentences(read["rejected"]))
                    known_folded = frozenset(sentences(self.folded_view(read["rejected"]))) if views else known
                hits = []
                for f in fields:
                    key = (f, f == "chosen" and prule.skip_rejected_sentences)
                    if key not in words:
                        words[key] = tokenised(read[f], known if key[1] else frozenset())
                        if f in views:
                            words[key] += tokenised(views[f], known_folded if key[1] else frozenset())
                        candidates[key] = self._proximity_index.candidates(words[key])
                    if number in candidates[key] and prule.matches_sentences(words[key]):
                        hits.append(f)
                if hits:
                    findings[f"{kind}:{prule.name}"] = float(len(hits))
                    detail = f"{kind} proximity rule {prule.name!r} matched in {', '.join(hits)}"
                    drops.append(Drop(Stage.POLICY, f"{kind}:{prule.name}", detail))

        if self._word_lists is not None:
            # After the blocked rules: their reasons, more specific, win where both fire.
            hit = self._word_lists.find(chosen, rejected, self.own_words, self.folded_view)
            if hit is not None:
                reason = f"blocked:{self._word_lists.name}"
                findings[reason] = 1.0
                detail = f"the user's added prose holds {hit.word!r}, a word of the {hit.language} list"
                drops.append(Drop(Stage.POLICY, reason, detail))

        scrubbed: dict[str, str] = {}
        pii_fields: dict[str, list[str]] = {}
        for name, text in texts.items():
            scrubbed[name], counts = scan(text, self._pii_names)
            for detector, count in counts.items():
                findings[f"pii:{detector}"] = findings.get(f"pii:{detector}", 0.0) + count
                pii_fields.setdefault(detector, []).append(name)
        for detector, found_in in pii_fields.items():
            if self.pii_actions[detector] == "reject":
                detail = f"{detector} found in {', '.join(found_in)}"
                drops.append(Drop(Stage.POLICY, f"pii:{detector}", detail))
        for detector, found_in in pii_fields.items():
            if self.pii_actions[detector] == "scrub" and "chosen" in found_in and self.pii_in_chosen == "drop":
                detail = f"{detector} in chosen: a pair trained on a placeholder teaches the model to print it"
                drops.append(Drop(Stage.POLICY, f"pii_in_chosen:{detector}", detail))
        if self.pii_in_chosen == "drop":
            # A placeholder already in the chosen text (a reviewer who corrected the scrubbed answer
            # they were shown) teaches the model to print it just the same; one the prompt asks
            # for ("a template with [EMAIL] in it") does not.
            shown = placeholders(chosen, prompt)
            if shown:
                findings["pii_in_chosen:placeholder"] = float(len(shown))
                held = ", ".join(shown)
                detail = f"chosen holds {held}: a pair trained on a placeholder teaches the model to print it"
                drops.append(Drop(Stage.POLICY, "pii_in_chosen:placeholder", detail))

        drop = None
        if drops:
            first = drops[0]
            drop = Drop(first.stage, first.reason, first.detail, dict(findings))
        return PolicyVerdict(
            drop=drop,
            prompt=scrubbed["prompt"],
            chosen=scrubbed["chosen"],
            rejected=scrubbed["rejected"],
            findings=findings,
        )


def _checked_fields(applies_to: Sequence[str]) -> list[str]:
    """The texts a rule reads: its fields, and the earlier turns wherever it reads the prompt."""
    return [*applies_to, *(["conversation"] if "prompt" in applies_to else [])]


def response_pii(response: str) -> Drop | None:
    """A Drop (``pii_in_response:<detector>``) when a positive example's response holds PII.

    A positive example's response is a training target, like a pair's ``chosen``: storing it
    scrubbed would teach the model to print placeholders, storing it raw would leak the PII.
    """
    _, counts = scan(response)
    if not counts:
        return None
    detector = min(counts)
    detail = f"{', '.join(sorted(counts))} in the response of a positive example"
    return Drop(Stage.POLICY, f"pii_in_response:{detector}", detail, {f"pii:{k}": float(v) for k, v in counts.items()})


def earlier_turns(metadata: Mapping[str, Any]) -> list[Message] | Drop:
    """The event's earlier turns (``metadata.conversation``), or a Drop (``invalid_conversation``) if malformed.

    A prompt that continues a conversation means nothing without it, so a malformed conversation
    rejects the pair rather than keeping it without its turns.
    """
    try:
        return conversation_of(metadata)
    except MalformedConversation as exc:
        return Drop(Stage.POLICY, INVALID_CONVERSATION, str(exc))
