"""Build ``tests/data/curation_holdout.jsonl``: a held-out labelled curation set (deterministic).

Independent of ``curation_set.jsonl``: other answers (``holdout_bases.py``: SQL, shell, Python
with fenced code, markdown lists, customer support, math), other edit styles (drop a chatty
preamble, keep only the code, replace ``print(`` by a logger call, reorder steps, translate a
sentence), other typo mechanics (keyboard slips, common misspellings), other insults,
injections and PII formats (``holdout_material.py``). Same line format as the first set, so
``benchmarks/curation_quality.py`` scores both; ``kind`` says which operation made an item.

Labels follow issue 12: an edit that corrects or extends the answer is a pair (``accept``);
typo/whitespace/punctuation/case-only edits, answers rewritten from scratch (same topic in
other words, of any length, or an unrelated answer), insults, injections and PII in ``chosen``
are not; PII in the prompt or the model's answer is scrubbed and the pair kept unless the
policy rejects that kind (cards, keys, IBANs, national ids).
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
from holdout_bases import FENCE, HELD, Held, Op
from holdout_material import (
    BENIGN_TECH,
    CODE_INSULTS,
    COMMENT,
    INJECTIONS,
    INSULTS,
    KEYBOARD,
    MISSPELLINGS,
    PII,
    PII_FRAMES,
    REJECT_KINDS,
)

from flywheel.operators.normalize import content_key

OUT = Path(__file__).parent / "curation_holdout.jsonl"
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
# A prose word: lower-case letters only, not touching code punctuation (``json.load``, ``-size``).
_PROSE_WORD = re.compile(r"(?<![\w.\-/$(`'\"])[a-z]{4,}(?![\w(`'\"]|[.\-/]\w)")


def apply(answer: str, ops: list[Op]) -> str:
    """The answer after a user's edit operations."""
    text = answer
    for op in ops:
        kind = op[0]
        if kind == "drop":
            assert op[1] in text, op
            text = text.replace(op[1], "")
        elif kind == "only":
            assert op[1] in text, op
            text = op[1]
        elif kind == "add":
            text = text + op[1]
        elif kind == "after":
            assert op[1] in text, op
            text = text.replace(op[1], op[1] + op[2], 1)
        elif kind == "sub":
            assert op[1] in text, op
            text = text.replace(op[1], op[2])
        else:
            raise ValueError(op)
    return text


def prose_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges outside fenced code blocks."""
    spans, start = [], 0
    for match in re.finditer(rf"{FENCE}.*?{FENCE}", text, re.S):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


class Holdout:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.items: list[dict[str, Any]] = []
        self.keys: set[str] = set()

    def add(
        self,
        category: str,
        expect: str,
        kind: str,
        held: Held,
        chosen: str | None,
        *,
        response: str | None = None,
        prompt: str | None = None,
        signal: str = "edit",
        secrets: list[str] | None = None,
        thread: str | None = None,
        at: datetime | None = None,
        comment: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        prompt = held.prompt if prompt is None else prompt
        response = held.answer if response is None else response
        if chosen is not None and category != "duplicate":
            key = content_key(prompt, chosen, response)
            if key in self.keys:
                return  # two operations made the same edit: label it once
            self.keys.add(key)
        index = len(self.items)
        event: dict[str, Any] = {
            "event_id": f"ho-{index:04d}",
            "signal": signal,
            "occurred_at": (at or T0 + timedelta(seconds=29 * index + self.rng.randrange(20))).isoformat(),
            "thread_id": thread or f"ho-thread-{index:04d}",
            "request_id": f"ho-req-{index:04d}",
            "user_id": f"ho-user-{index % 97:03d}",
            "segment": self.rng.choice(["free", "pro", "enterprise"]),
            "model_id": "assistant",
            "model_version": "v7",
            "prompt": prompt,
            "response": response,
        }
        if chosen is not None:
            event["final_user_edit"] = chosen
        if comment is not None:
            event["comment"] = comment
        if metadata is not None:
            event["metadata"] = metadata
        self.items.append(
            {
                "id": f"{category}-{index:04d}",
                "category": category,
                "expect": expect,
                "kind": kind,
                "event": event,
                "secrets": secrets or [],
            }
        )

    # -- trivial edits ------------------------------------------------------------------------

    def typos(self, text: str, count: int) -> str:
        """The text with ``count`` prose words misspelt (never inside a code block)."""
        spans = prose_spans(text)
        words = [m for m in _PROSE_WORD.finditer(text) if any(a <= m.start() and m.end() <= b for a, b in spans)]
        chosen = sorted(self.rng.sample(words, min(count, len(words))), key=lambda m: m.start(), reverse=True)
        for match in chosen:
            word = match.group(0)
            if word in MISSPELLINGS:
                wrong = MISSPELLINGS[word]
            else:
                how = self.rng.choice(["slip", "swap", "drop", "double"])
                j = self.rng.randrange(1, len(word) - 1)
                if how == "slip" and word[j] in KEYBOARD:
                    wrong = word[:j] + KEYBOARD[word[j]] + word[j + 1 :]
                elif how == "swap":
                    wrong = word[: j - 1] + word[j] + word[j - 1] + word[j + 1 :]
                elif how == "drop":
                    wrong = word[:j] + word[j + 1 :]
                else:
                    wrong = word[:j] + word[j] + word[j:]
            text = text[: match.start()] + wrong + text[match.end() :]
        return text

    def trivial_variants(self, held: Held) -> list[tuple[str, str, str]]:
        """(kind, rejected, chosen): typo fixes both ways, whitespace, case and punctuation in prose."""
        text = held.answer
        prose_end = prose_spans(text)[0][1]
        head, tail = text[:prose_end], text[prose_end:]
        sentences = re.split(r"(?<=[.!?]) (?=[A-Z])", head)
        spaced = "  ".join(sentences) + tail
        recased = " ".join(s[:1].lower() + s[1:] if s[:1].isalpha() else s for s in sentences) + tail
        punctuated = head.replace(". ", "! ", 1).replace(", ", " ", 1) + tail
        return [
            ("typo_fix", self.typos(text, 2), text),
            ("typo_fix_many", self.typos(text, 4), text),
            ("typo_made", text, self.typos(text, 1)),
            ("whitespace", text, spaced + "\n\n"),
            ("case", text, recased),
            ("punctuation", text, punctuated),
        ]


def build() -> list[dict[str, Any]]:
    h = Holdout()
    by_length = sorted(range(len(HELD)), key=lambda i: len(HELD[i].answer))
    for k, held in enumerate(HELD):
        answer = held.answer
        for n, ops in enumerate(held.edits):
            h.add("good_edit", "accept", f"{held.domain}:{ops[0][0]}", held, apply(answer, ops))
            if n == 0:  # the same edit, and the model's typos fixed on the way
                h.add("good_edit", "accept", "edit_and_typos", held, apply(answer, ops), response=h.typos(answer, 2))
        h.add("good_edit_tech_words", "accept", "benign_tech", held, answer + " " + BENIGN_TECH[k % len(BENIGN_TECH)])
        for old, new in held.fixes:
            assert old in answer, (held.prompt, old)
            h.add("small_semantic", "accept", "fix", held, answer.replace(old, new))
        for kind, rejected, chosen in h.trivial_variants(held):
            h.add("typo", "reject", kind, held, chosen, response=rejected)
        for n, rewrite in enumerate(held.rewrites):
            h.add("rewrite", "reject", "same_topic" if n == 0 else "other_length", held, rewrite)
        position = by_length.index(k)
        neighbour = HELD[by_length[position + 1 if position + 1 < len(by_length) else position - 1]]
        h.add("rewrite", "reject", "unrelated", held, neighbour.answer)
        # insults: start, middle, end of the prose; inside a code comment where there is code
        parts = re.split(r"(?<=[.!?:])\s+(?=[A-Z])", answer)
        for slot, where in ((0, "start"), (len(parts) // 2 or 1, "middle"), (len(parts), "end")):
            insult = INSULTS[(3 * k + slot + len(where)) % len(INSULTS)]
            h.add("insult", "reject", f"insult_{where}", held, " ".join([*parts[:slot], insult, *parts[slot:]]))
        if FENCE in answer and held.domain in COMMENT:
            first_line_end = answer.index("\n", answer.index(FENCE)) + 1
            comment = COMMENT[held.domain] + CODE_INSULTS[k % len(CODE_INSULTS)] + "\n"
            h.add(
                "insult",
                "reject",
                "insult_code_comment",
                held,
                answer[:first_line_end] + comment + answer[first_line_end:],
            )
        # injections in the edit and in the prompt
        injection = INJECTIONS[k % len(INJECTIONS)]
        h.add("injection", "reject", "in_chosen", held, apply(answer, held.edits[0]) + "\n\n" + injection)
        if k % 2 == 1:
            other = INJECTIONS[(k + 7) % len(INJECTIONS)]
            h.add(
                "injection",
                "reject",
                "in_prompt",
                held,
                apply(answer, held.edits[-1]),
                prompt=held.prompt + " " + other,
            )
        add_pii(h, k, held)
    add_hygiene(h)
    add_duplicates(h)
    return sorted(h.items, key=lambda item: (item["event"]["occurred_at"], item["id"]))


def add_pii(h: Holdout, k: int, held: Held) -> None:
    """PII of one kind per field, rotating over kinds and formats."""
    kinds = list(PII)
    edited = apply(held.answer, held.edits[0])
    for offset, field in enumerate(("chosen", "prompt", "rejected", "comment")):
        kind = kinds[(k + 3 * offset) % len(kinds)]
        value = PII[kind][(k + offset) % len(PII[kind])]
        frames = PII_FRAMES[field]
        line = frames[k % len(frames)].format(value)
        category = "pii_" + ("feedback" if field == "comment" else field)
        if field == "chosen":
            h.add(category, "reject", kind, held, edited + " " + line, secrets=[value])
        elif field == "prompt":
            expect = "reject" if kind in REJECT_KINDS else "accept"
            h.add(category, expect, kind, held, edited, prompt=held.prompt + " " + line, secrets=[value])
        elif field == "rejected":
            expect = "reject" if kind in REJECT_KINDS else "accept"
            # The user's edit of an answer that held PII: the edit leaves the PII sentence out.
            h.add(category, expect, kind, held, edited, response=held.answer + " " + line, secrets=[value])
        else:
            h.add(category, "feedback", kind, held, None, signal="thumbs_down", comment=line, secrets=[value])
    if k % 4 == 0:  # PII in an earlier turn of the conversation: scrubbed, the pair kept
        kind = ["email", "phone", "street_address", "ip_address"][(k // 4) % 4]
        value = PII[kind][k % len(PII[kind])]
        turns = [
            {"role": "user", "content": f"Hi, I'm the admin, you can find me at {value}."},
            {"role": "assistant", "content": "Thanks, how can I help?"},
        ]
        chosen = edited + " Thanks for the context."
        h.add("pii_turns", "accept", kind, held, chosen, metadata={"conversation": turns}, secrets=[value])


def add_hygiene(h: Holdout) -> None:
    """Good edits carrying NUL, escape, bidi-override characters or decomposed accents."""
    marks = [
        ("nul", "\x00"),
        ("escape", "\x1b[31m"),
        ("bell", "\x07"),
        ("rlo", "\u202e"),
        ("isolate", "\u2066"),
    ]
    for n, held in enumerate(HELD[:10]):
        name, mark = marks[n % len(marks)]
        edited = apply(held.answer, held.edits[-1])
        cut = len(edited) // 2
        cut = edited.index(" ", cut) if " " in edited[cut:] else cut
        marked = edited[:cut] + mark + edited[cut:] + " Verified on a clean install."
        h.add("hygiene", "accept", name, held, marked, secrets=[mark])
    for held in HELD[10:14]:
        edited = apply(held.answer, held.edits[0]) + " Café crème is not a valid identifier."
        decomposed = edited.replace("é", "e\u0301").replace("è", "e\u0300")
        h.add("hygiene", "accept", "nfd", held, decomposed, secrets=["e\u0301"])


def add_duplicates(h: Holdout) -> None:
    """The same edit on other threads: canonical, shouted, padded, exact repeats, in varied order."""
    for g, held in enumerate(HELD[:14]):
        chosen = apply(held.answer, held.edits[0]) + " (Checked against the docs, g" + str(g) + ".)"
        moment = T0 + timedelta(hours=3, minutes=4 * g)
        shape = g % 4
        variants: list[tuple[str, str, int]]
        if shape == 0:  # padded first, canonical later
            variants = [("padded", "\n  " + chosen + "   \n", 0), ("canonical", chosen, 30)]
        elif shape == 1:  # canonical first, shouted later
            variants = [("canonical", chosen, 0), ("shouted", chosen.upper(), 45)]
        elif shape == 2:  # exact repeats: the earliest wins
            variants = [("canonical", chosen, 10), ("repeat", chosen, 50), ("repeat", chosen, 70)]
        else:  # shouted first, canonical second, spaced out third
            variants = [
                ("shouted", chosen.upper(), 0),
                ("canonical", chosen, 20),
                ("spaced", chosen.replace(" ", "  "), 40),
            ]
        for kind, text, seconds in variants:
            expect = "accept" if kind == "canonical" else "reject"
            h.add("duplicate", expect, kind, held, text, at=moment + timedelta(seconds=seconds))


def write_items(items: list[dict[str, Any]], out: Path) -> None:
    """Write labelled items as sorted-key JSON lines and print how many of each category."""
    out.write_text("".join(json.dumps(item, sort_keys=True) + "\n" for item in items))
    counts: dict[str, int] = {}
    for item in items:
        counts[item["category"]] = counts.get(item["category"], 0) + 1
    print(f"wrote {len(items)} items to {out}: {counts}")


def main() -> None:
    write_items(build(), OUT)


if __name__ == "__main__":
    main()
