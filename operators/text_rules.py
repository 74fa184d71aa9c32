"""One ``[[injection]]`` or ``[[blocked]]`` rule of a rules file, compiled: whole-word terms and regexes.

:class:`flywheel.operators.policy.PolicyEngine` compiles every such rule once at load; a rule
matches a normalised text where any of its terms or patterns does.
"""

from __future__ import annotations

import re

from flywheel.errors import PolicyError
from flywheel.operators.normalize import normalize_text
from flywheel.operators.policy_file import TextRuleSpec
from flywheel.operators.regex_needles import required_needles

# A back-reference or conditional by number (or name) refers to groups across a joined pattern.
_NUMBERED_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


class CompiledTextRule:
    """A text rule ready to match: its alternatives, each searched only where its needles are."""

    def __init__(self, kind: str, index: int, rule: TextRuleSpec, source: str) -> None:
        self.name = rule.name
        self.applies_to = tuple(rule.applies_to)
        where = f"{source}: {kind}[{index}] ({rule.name!r})"
        if not rule.terms and not rule.patterns:
            raise PolicyError(f"{where}: a rule needs at least one of `terms` or `patterns`")
        regexes: list[str] = []
        terms = [normalize_text(term) for term in rule.terms]
        if any(not term for term in terms):
            raise PolicyError(f"{where}: `terms` holds an empty term")
        # (needles, regex): the regex can match only where one of the needles is (none: anywhere).
        checks: list[tuple[frozenset[str], re.Pattern[str]]] = []
        if terms:
            regexes.append(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)")
            checks.append((frozenset(terms), re.compile(regexes[-1])))
        for pattern in rule.patterns:
            try:
                checks.append((frozenset(required_needles(pattern)), re.compile(pattern)))
            except re.error as exc:
                raise PolicyError(f"{where}: pattern {pattern!r} is not a valid regex: {exc}") from exc
            regexes.append(f"(?:{pattern})")
        # The rule matches where any alternative does. Searched one by one, each alternative keeps
        # the regex engine's literal-prefix speed-ups; a numbered back-reference or conditional
        # would change meaning outside the joined pattern, so such a rule stays joined.
        self.regex = re.compile("|".join(regexes))
        if any(_NUMBERED_REFERENCE.search(pattern) for pattern in rule.patterns):
            checks = [(frozenset(), self.regex)]
        self._checks = tuple(checks)
        self.needles: frozenset[str] = frozenset().union(*(needles for needles, _ in checks))
        # Most texts hold no needle of any alternative: one look for all of them rules the rule out
        # (not when an alternative has no needle and must always be searched).
        self._needed = all(needles for needles, _ in checks)
        # True when some alternative has no needle: the rule must be searched in every text.
        self.always_searched = not self._needed

    def matches(self, text: str, present: frozenset[str] | None = None) -> bool:
        """True when the rule matches the (normalised) text: exactly when ``regex`` finds a match.

        ``present``: the needles of this rule that ``text`` holds (:class:`NeedleIndex` over every
        rule, once per text); None looks them up here.
        """
        if present is None:
            present = frozenset(needle for needle in self.needles if needle in text)
        if self._needed and self.needles.isdisjoint(present):
            return False
        for needles, regex in self._checks:
            if needles and needles.isdisjoint(present):
                continue
            if regex.search(text) is not None:
                return True
        return False
