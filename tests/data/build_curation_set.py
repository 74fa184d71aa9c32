"""Build ``tests/data/curation_set.jsonl``: the labelled curation benchmark (deterministic).

Run ``python tests/data/build_curation_set.py`` after changing ``curation_bases.py``. Each line
is one interaction event plus its label:

* ``category``: good_edit, good_edit_tech_words, small_semantic, typo, rewrite, insult,
  pii_chosen, pii_prompt, pii_rejected, pii_feedback, injection, duplicate;
* ``expect``: ``accept`` (must become a DPO pair), ``reject`` (must not) or ``feedback``;
* ``secrets``: raw PII strings that must not appear in any stored or served text.
"""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from curation_bases import BASES, BENIGN_TECH, INJECTIONS, INSULTS, Base

from flywheel.operators.normalize import content_key

OUT = Path(__file__).parent / "curation_set.jsonl"
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")

PII = {
    "email": ["jane.doe@example.com", "m.rossi@posteo.de", "ops-team@acme.io"],
    "email_obfuscated": ["jane(at)example(dot)com", "bob [at] mail [dot] org", "kim at corp dot net"],
    "phone": ["+1 415 555 0134", "(212) 555-0187", "+44 20 7946 0958", "+49 30 901820"],
    "ip_address": ["203.0.113.45", "8.26.56.26", "2001:4860:4860::8888"],
    "street_address": ["221B Baker Street", "1600 Pennsylvania Avenue", "42 Elm Road"],
    "date_of_birth": ["born on 14/03/1987", "date of birth: 1990-07-21", "DOB 03/22/1979"],
    "payment_card": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "api_key": ["sk-proj-Ab3dEfGh1jKlMn0pQrStUvWx", "AKIAIOSFODNN7EXAMPLE", "ghp_" + "aB3" * 12],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"],
    "national_id": ["123-45-6789"],
}
PII_FRAMES = {
    "email": "Write to {} for access.",
    "email_obfuscated": "Questions go to {} please.",
    "phone": "You can call me on {} after six.",
    "ip_address": "My home server is at {} right now.",
    "street_address": "Ship it to {}, apartment 4.",
    "date_of_birth": "For the form: I was {}.",
    "payment_card": "My card is {} if you need it.",
    "api_key": "Here is my key {} for testing.",
    "iban": "Transfer to IBAN {} today.",
    "national_id": "My SSN is {} by the way.",
}


def sentences(text: str) -> list[str]:
    return SENTENCE.split(text)


class Builder:
    def __init__(self, seed: int = 12) -> None:
        self.rng = random.Random(seed)
        self.items: list[dict[str, Any]] = []
        self.keys: set[str] = set()
        self.clock = 0

    def add(
        self,
        category: str,
        expect: str,
        base: Base,
        chosen: str | None,
        *,
        response: str | None = None,
        prompt: str | None = None,
        signal: str = "edit",
        secrets: list[str] | None = None,
        event_id: str | None = None,
        thread: str | None = None,
        occurred_at: datetime | None = None,
        comment: str | None = None,
        group: str | None = None,
    ) -> None:
        if chosen is not None and category != "duplicate":
            # Two generators can produce the same edit (a base's fix is also its number change);
            # the flow rightly drops the second as a duplicate, so it is not labelled twice.
            key = content_key(prompt if prompt is not None else base.prompt, chosen, response or base.answer)
            if key in self.keys:
                return
            self.keys.add(key)
        index = len(self.items)
        self.clock += 1
        event_id = event_id or f"cur-{index:04d}"
        event: dict[str, Any] = {
            "event_id": event_id,
            "signal": signal,
            "occurred_at": (occurred_at or T0 + timedelta(seconds=37 * self.clock)).isoformat(),
            "thread_id": thread or f"thread-{index:04d}",
            "request_id": f"req-{index:04d}",
            "user_id": f"user-{index:04d}",
            "segment": self.rng.choice(["free", "pro", "team"]),
            "model_id": "assistant",
            "model_version": "v1",
            "prompt": prompt if prompt is not None else base.prompt,
            "response": response if response is not None else base.answer,
        }
        if chosen is not None:
            event["final_user_edit"] = chosen
        if comment is not None:
            event["comment"] = comment
        item = {"id": f"{category}-{index:04d}", "category": category, "expect": expect, "event": event}
        item["secrets"] = secrets or []
        if group is not None:
            item["group"] = group
        self.items.append(item)

    # -- edit operations -------------------------------------------------------------------

    def good_edits(self, base: Base) -> list[str]:
        parts = sentences(base.answer)
        old, new = base.fix
        fixed = base.answer.replace(old, new)
        other = sentences(base.rewrite)[0]
        middle = len(parts) // 2
        return [
            base.answer + " " + base.extra,
            " ".join([*parts[:middle], base.extra, *parts[middle:]]),
            fixed + " " + base.extra,
            " ".join([*parts[:-1], base.extra]) if len(parts) > 2 else base.extra + " " + base.answer,
            " ".join([*parts[:middle], other, *parts[middle + 1 :]]) if len(parts) > 2 else base.answer + " " + other,
            base.answer + " " + base.extra + " " + other,
            base.extra + " " + fixed,
        ]

    def typo(self, text: str, count: int) -> str:
        words = text.split(" ")
        candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
        for i in self.rng.sample(candidates, min(count, len(candidates))):
            word = words[i]
            kind = self.rng.choice(["swap", "drop", "double"])
            j = self.rng.randrange(1, len(word) - 2)
            if kind == "swap":
                word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            elif kind == "drop":
                word = word[:j] + word[j + 1 :]
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
        return " ".join(words)

    def trivial_variants(self, base: Base) -> list[tuple[str, str]]:
        """(rejected, chosen) pairs that differ only by typos, whitespace, punctuation or case."""
        text = base.answer
        return [
            (self.typo(text, 2), text),
            (self.typo(text, 1), text),
            (text, "  " + text.replace(". ", ".  ") + "\n"),
            (text, text.replace(",", "").replace(".", "!", 1)),
            (text, text[0].lower() + text[1:].replace(". T", ". t")),
            (self.typo(text, 3), text.replace(", ", " , ")),
        ]

    def semantic_variants(self, base: Base) -> list[str]:
        text = base.answer
        old, new = base.fix
        out = [text.replace(old, new)]
        number = re.search(r"\b\d+\b", text)
        if number:
            value = int(number.group(0))
            out.append(text[: number.start()] + str(value * 2 if value else 1) + text[number.end() :])
        for positive, negative in ((" is ", " is not "), (" can ", " cannot "), (" should ", " should not ")):
            if positive in text:
                out.append(text.replace(positive, negative, 1))
                break
        if "print(" in text or "requests.get(" in text:
            out.append(text.replace("print(", "logging.warning(").replace("requests.get(", "httpx.get("))
        return out


def build() -> list[dict[str, Any]]:
    b = Builder()
    for k, base in enumerate(BASES):
        for chosen in b.good_edits(base):
            b.add("good_edit", "accept", base, chosen)
        b.add("good_edit_tech_words", "accept", base, base.answer + " " + BENIGN_TECH[k % len(BENIGN_TECH)])
        for rejected, chosen in b.trivial_variants(base):
            b.add("typo", "reject", base, chosen, response=rejected)
        for chosen in b.semantic_variants(base):
            b.add("small_semantic", "accept", base, chosen)
        b.add("rewrite", "reject", base, base.rewrite)
        unrelated = min(
            (other for other in BASES if other is not base), key=lambda o: abs(len(o.answer) - len(base.answer))
        )
        b.add("rewrite", "reject", base, unrelated.answer)
        b.add("rewrite", "reject", base, base.rewrite + " " + unrelated.extra)
        parts = sentences(base.answer + " " + base.extra)
        for slot in (0, len(parts) // 2, len(parts)):
            insult = INSULTS[(3 * k + slot) % len(INSULTS)]
            b.add("insult", "reject", base, " ".join([*parts[:slot], insult, *parts[slot:]]))
        injection = INJECTIONS[k % len(INJECTIONS)]
        b.add("injection", "reject", base, base.answer + " " + base.extra + " " + injection)
        if k % 2 == 0:
            b.add("injection", "reject", base, base.answer + " " + base.extra, prompt=base.prompt + " " + injection)
        kinds = sorted(PII)
        kind = kinds[k % len(kinds)]
        value = PII[kind][k % len(PII[kind])]
        line = PII_FRAMES[kind].format(value)
        b.add("pii_chosen", "reject", base, base.answer + " " + base.extra + " " + line, secrets=[value])
        if kind not in {"payment_card", "api_key", "iban", "national_id"}:
            b.add(
                "pii_prompt",
                "accept",
                base,
                base.answer + " " + base.extra,
                prompt=base.prompt + " " + line,
                secrets=[value],
            )
            b.add(
                "pii_rejected",
                "accept",
                base,
                base.answer + " " + base.extra,
                response=base.answer + " " + line,
                secrets=[value],
            )
        b.add(
            "pii_feedback",
            "feedback",
            base,
            None,
            signal="thumbs_down",
            comment="Wrong. " + line,
            prompt=base.prompt + " " + line,
            secrets=[value],
        )
    # Duplicates across partitions: the same edit on other threads (other partitions), earlier in
    # event time, shouted and padded; the canonical text must win whatever the arrival order.
    for k, base in enumerate(BASES[:16]):
        chosen = f"{base.answer} Note: {base.extra}"  # unlike every other item's edit
        moment = T0 + timedelta(hours=6, minutes=k)
        group = f"dup-{k:02d}"
        b.add("duplicate", "accept", base, chosen, occurred_at=moment + timedelta(seconds=20), group=group)
        b.add("duplicate", "reject", base, "  " + chosen.upper() + "  ", occurred_at=moment, group=group)
        b.add("duplicate", "reject", base, chosen, occurred_at=moment + timedelta(seconds=40), group=group)
    # A stream is roughly in event-time order (dedup holds a short slot for lateness, not hours).
    return sorted(b.items, key=lambda item: (item["event"]["occurred_at"], item["id"]))


def main() -> None:
    items = build()
    OUT.write_text("".join(json.dumps(item, sort_keys=True) + "\n" for item in items))
    counts: dict[str, int] = {}
    for item in items:
        counts[item["category"]] = counts.get(item["category"], 0) + 1
    print(f"wrote {len(items)} items to {OUT}: {counts}")


if __name__ == "__main__":
    main()
