"""Build ``tests/data/curation_probes.jsonl``: a probe set for the safety rules (deterministic).

Written after the ``default-v3`` rules were frozen and committed before any rule was changed
(``probe_material.py``): insults and prompt injections in free wording, and hard negatives,
i.e. good edits whose added sentence uses the language a naive rule mistakes for abuse or
injection (imperatives, negations, "you", kill/drop/ignore/override, system prompts as a topic).
Each text rides on a real edit of a held-out answer (``holdout_bases.py``) so the other
stages pass it: an insult or hard negative is put at the start, middle or end of the edited
prose; an injection is appended to the edit, and every other one also goes into the prompt.
Same line format as the other sets, so ``benchmarks/curation_quality.py`` scores it.
Categories: ``insult`` and ``injection`` (reject), ``good_edit`` (accept; kind ``hard_negative_*``).
A second round (``probe_material_round2.py``, kinds ending ``:round2``) was written after the
first draft of ``default-v4`` and only measured; a third (``probe_material_round3.py``, kinds
ending ``:round3``) was written before any rule of ``default-v5`` and measured blind with v4 first.
A fourth (``probe_material_round4.py``, kinds ending ``:round4``) was written before any rule of
``default-v8`` and measured blind with v7: whole edit events on its own answers (other domains,
four languages), in the categories of the labelled set: ``good_edit``, ``small_semantic`` (accept),
``typo``, ``rewrite``, ``insult``, ``injection``, ``pii_chosen`` (reject; the PII string is a secret
the leak check looks for).
A fifth (``probe_material_round5.py``, kinds ending ``:round5``) was written before any rule of
``default-v9`` and measured blind with v8: whole edit events on its own answers (other domains, six
more languages) in ``good_edit`` (with hard negatives), ``small_semantic``, ``typo``, ``rewrite``,
``insult`` and ``injection``; an insult sits in the middle of a good edit, an injection at its end
or in its middle, never inside a code block.
A sixth (``probe_material_round6.py``, kinds ending ``:round6``) was written by a new author before
reading the rules or the earlier rounds' texts and measured blind with ``default-v9`` and the learned
gate trained on rounds 1-5: whole edit events on its own answers (coding, cooking, legal, medical,
customer service; English, German, French, Spanish, Russian, Japanese) in ``good_edit`` (with hard
negatives), ``small_semantic``, ``typo``, ``insult``, ``injection`` and ``pii_chosen``; an added text
rides on a good edit at its start, middle or end, and a few harmful edits sit inside a code block.
A seventh (``probe_material_round7.py``, kinds ending ``:round7``) was written by another new author
before reading the rules or the earlier rounds' texts and measured blind with the rules and the learned
gate as they stood: whole edit events on fourteen answers in other domains and languages (English,
Italian, Portuguese, Dutch, Polish, Turkish, Chinese, Korean, Hindi in Latin script, Arabic) in every
category of round 6 and ``rewrite`` (the whole answer replaced by a different one).
An eighth (``probe_material_round8.py``, kinds ending ``:round8``) was written by another new author
before reading the rules or the earlier rounds' texts and measured blind with the rules and the learned
gate as they stood: whole edit events on twelve answers in other domains and languages (English, French,
German, Spanish, Japanese, Vietnamese, Indonesian, Swahili; added texts also in Greek, Hebrew and Czech),
built like round 7.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import probe_material_round6
import probe_material_round7
import probe_material_round8
from build_curation_holdout import apply, write_items
from holdout_bases import HELD, Held
from probe_material import HARD_NEGATIVES, INJECTION_PROBES, INSULT_PROBES
from probe_material_round2 import HARD_NEGATIVES_2, INJECTION_PROBES_2, INSULT_PROBES_2
from probe_material_round3 import HARD_NEGATIVES_3, INJECTION_PROBES_3, INSULT_PROBES_3
from probe_material_round4 import BASES, INJECTIONS, INSULTS, PII, REWRITES, Base
from probe_material_round5 import BASES as BASES_5
from probe_material_round5 import HARD_NEGATIVES5, INJECTIONS5, INSULTS5, REWRITES5, Base5
from probe_material_round6 import Base6

OUT = Path(__file__).parent / "curation_probes.jsonl"
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def _insert(answer: str, text: str, slot: int) -> str:
    """``text`` as a sentence at the start (0), middle (1) or end (2) of the answer's prose."""
    parts = re.split(r"(?<=[.!?:])\s+(?=[A-Z])", answer)
    where = {0: 0, 1: len(parts) // 2 or 1, 2: len(parts)}[slot % 3]
    return " ".join([*parts[:where], text, *parts[where:]])


def build() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []

    def add(
        category: str,
        expect: str,
        kind: str,
        held: Held | Base | Base5 | Base6,  # rounds 7 and 8 write theirs as round 6's
        chosen: str,
        prompt: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        index = len(items)
        event = {
            "event_id": f"pr-{index:04d}",
            "signal": "edit",
            "occurred_at": (T0 + timedelta(seconds=31 * index)).isoformat(),
            "thread_id": f"pr-thread-{index:04d}",
            "request_id": f"pr-req-{index:04d}",
            "user_id": f"pr-user-{index:04d}",
            "segment": ["free", "pro", "enterprise"][index % 3],
            "model_id": "assistant",
            "model_version": "v7",
            "prompt": held.prompt if prompt is None else prompt,
            "response": held.answer,
            "final_user_edit": chosen,
        }
        items.append(
            {"id": f"{category}-{index:04d}", "category": category, "expect": expect, "kind": kind, "event": event}
        )
        items[-1]["secrets"] = list(secrets)

    rounds = (
        ("", INSULT_PROBES, INJECTION_PROBES, HARD_NEGATIVES),
        (":round2", INSULT_PROBES_2, INJECTION_PROBES_2, HARD_NEGATIVES_2),
        (":round3", INSULT_PROBES_3, INJECTION_PROBES_3, HARD_NEGATIVES_3),
    )
    for tag, insults, injections, negatives in rounds:
        for n, text in enumerate(insults):
            held = HELD[n % len(HELD)]
            edited = _insert(apply(held.answer, held.edits[0]), text, n)
            add("insult", "reject", f"insult_slot{n % 3}{tag}", held, edited)
        for n, text in enumerate(injections):
            held = HELD[(n + 5) % len(HELD)]
            add("injection", "reject", f"in_chosen{tag}", held, apply(held.answer, held.edits[0]) + "\n\n" + text)
            if n % 2 == 0:
                other = HELD[(n + 11) % len(HELD)]
                edited = apply(other.answer, other.edits[-1])
                add("injection", "reject", f"in_prompt{tag}", other, edited, other.prompt + " " + text)
        for n, text in enumerate(negatives):
            held = HELD[(n + 2) % len(HELD)]
            edited = apply(held.answer, held.edits[n % len(held.edits)])
            add("good_edit", "accept", f"hard_negative_slot{n % 3}{tag}", held, _insert(edited, text, n + 1))
            if n % 2 == 1:
                other = HELD[(n + 13) % len(HELD)]
                edited = apply(other.answer, other.edits[0])
                add("good_edit", "accept", f"hard_negative_prompt{tag}", other, edited, other.prompt + " " + text)
    _round4(add)
    _round5(add)
    _blind_round(add, probe_material_round6, ":round6", rewrites=False)
    _blind_round(add, probe_material_round7, ":round7")
    _blind_round(add, probe_material_round8, ":round8")
    return items


def _apply_once(answer: str, ops: list[tuple[str, ...]]) -> str:
    """Round 4's edit operations: ``sub`` replaces the first occurrence only."""
    text = answer
    for op in ops:
        if op[0] == "add":
            text += op[1]
            continue
        assert op[1] in text, op
        new = op[1] + op[2] if op[0] == "after" else op[2]
        text = text.replace(op[1], new, 1)
    return text


def _split_insert(answer: str, text: str, slot: int) -> str:
    """``text`` at the start (0), middle (1) or end (2) of the answer; Japanese splits after 。."""
    parts = re.split(r"(?<=[.!?:])\s+(?=[A-Z¿¡])|(?<=。)(?=.)", answer)
    where = {0: 0, 1: len(parts) // 2 or 1, 2: len(parts)}[slot % 3]
    return " ".join([*parts[:where], text, *parts[where:]])


def _own_edits(add: Any, bases: Any, tag: str) -> None:
    """Each answer's good edits, one-token fixes and typo-only edits (rounds 4 and 5 alike)."""
    for b in bases:
        for n, ops in enumerate(b.edits):
            add("good_edit", "accept", f"{b.domain}_edit{n}{tag}", b, _apply_once(b.answer, ops))
        for old, new in b.fixes:
            add("small_semantic", "accept", f"{b.domain}_fix{tag}", b, _apply_once(b.answer, [("sub", old, new)]))
        for n, ops in enumerate(b.typos):
            add("typo", "reject", f"{b.domain}_typo{n}{tag}", b, _apply_once(b.answer, ops))


def _round4(add: Any) -> None:
    """Whole edit events on round 4's own answers, one category after another."""
    tag = ":round4"
    _own_edits(add, BASES, tag)
    # Unrelated texts joined to about the answer's length (the first six answers twice).
    for n, b in enumerate(BASES + BASES[:6]):
        text, k = "", n
        while len(text) < 0.8 * len(b.answer):
            text = (text + " " + REWRITES[k % len(REWRITES)]).strip()
            k += 5
        add("rewrite", "reject", f"{b.domain}_rewrite{tag}", b, text)
    for n, text in enumerate(INSULTS):
        b = BASES[(n * 7) % len(BASES)]
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        add("insult", "reject", f"{b.domain}_insult_slot{n % 3}{tag}", b, _split_insert(edited, text, n))
    for n, text in enumerate(INJECTIONS):
        b = BASES[(n * 3 + 1) % len(BASES)]
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        chosen = edited + "\n\n" + text if n % 2 == 0 else _split_insert(edited, text, 1)
        add("injection", "reject", f"{b.domain}_injection{tag}", b, chosen)
    for n, (text, secret) in enumerate(PII):
        b = BASES[(n * 11 + 2) % len(BASES)]
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        add(
            "pii_chosen", "reject", f"{b.domain}_pii{tag}", b, _split_insert(edited, text, 2 - n % 2), secrets=(secret,)
        )


def _home(text: str, n: int) -> Base5:
    """Round 5's answer for an added sentence: one in the sentence's language, else an English one."""
    by_domain = {b.domain: b for b in BASES_5}
    if re.search(r"[\uac00-\ud7a3]", text):
        return by_domain["ko_jeju"]
    if re.search(r"[\u4e00-\u9fff]", text):
        return by_domain["zh_python"]
    if re.search(r"[ąęłńśźż]|Jesteś|modelu|Ale z ciebie", text):
        return by_domain["pl_excel"]
    if re.search(r"\b(jij|Wat ben|Negeer|Aan het)\b", text):
        return by_domain["nl_fietsverzekering"]
    if re.search(r"\b(Sei|Chi ti|Ignora|Istruzione|d'ora)\b", text):
        return by_domain["it_affitto"]
    if re.search(r"[ãõç]|Você|Que resposta", text):
        return by_domain["pt_ferias"]
    foreign = {"pt_ferias", "it_affitto", "nl_fietsverzekering", "pl_excel", "zh_python", "ko_jeju"}
    english = [b for b in BASES_5 if b.domain not in foreign]
    return english[(n * 5) % len(english)]


def _middle(answer: str, text: str, slot: int) -> str:
    """``text`` at a sentence or paragraph boundary outside code blocks: start (0), middle (1), end (2)."""
    cuts = [m.end() for m in re.finditer(r"(?<=[.!?:。])[ \t]+(?=\S)|(?<=[.!?。요])(?=[^\s.])|\n\n", answer)]
    fences = [m.start() for m in re.finditer("```", answer)]
    cuts = [c for c in cuts if sum(f < c for f in fences) % 2 == 0]
    if slot % 3 == 0 or not cuts:
        return text + " " + answer if slot % 3 == 0 else answer + " " + text
    if slot % 3 == 2:
        return answer + "\n\n" + text
    at = cuts[len(cuts) // 2]
    sep = "" if answer[at - 1] in " \n" else " "
    return answer[:at] + sep + text + " " + answer[at:]


def _round5(add: Any) -> None:
    """Whole edit events on round 5's own answers, one category after another."""
    tag = ":round5"
    _own_edits(add, BASES_5, tag)
    # Unrelated texts joined to about the answer's length.
    for n, b in enumerate(BASES_5):
        text, k = "", n
        while len(text) < 0.85 * len(b.answer):
            text = (text + "\n\n" + REWRITES5[k % len(REWRITES5)]).strip()
            k += 3
        add("rewrite", "reject", f"{b.domain}_rewrite{tag}", b, text)
    for n, text in enumerate(INSULTS5):
        b = _home(text, n)
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        add("insult", "reject", f"{b.domain}_insult{tag}", b, _middle(edited, text, 1 if n % 4 else 2))
    for n, text in enumerate(INJECTIONS5):
        b = _home(text, n + 1)
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        chosen = edited + "\n\n" + text if n % 2 == 0 else _middle(edited, text, 1)
        add("injection", "reject", f"{b.domain}_injection{tag}", b, chosen)
    for n, text in enumerate(HARD_NEGATIVES5):
        b = _home(text, n + 2)
        edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
        add("good_edit", "accept", f"{b.domain}_hard_negative{tag}", b, _middle(edited, text, 1 + n % 2))


def _boundary(answer: str, text: str, slot: int) -> str:
    """Round 6's ``_middle``: the middle cut is a sentence end followed by a space (or a Japanese 。) or a
    paragraph break, outside code blocks and never right after a list number; a text put at a
    paragraph break is its own paragraph."""
    if slot % 3 != 1:
        return _middle(answer, text, slot)
    cuts = [m.end() for m in re.finditer(r"(?<=[.!?])[ \t]+(?=\S)|(?<=。)(?=[^\s])|\n\n", answer)]
    fences = [m.start() for m in re.finditer("```", answer)]
    cuts = [c for c in cuts if sum(f < c for f in fences) % 2 == 0]
    cuts = [c for c in cuts if not re.search(r"(^|\n)\d+\.\s*$", answer[:c])]
    at = cuts[len(cuts) // 2]
    after = "\n\n" if answer[at - 2 : at] == "\n\n" else " "
    sep = "" if answer[at - 1] in " \n" or after == "\n\n" else " "
    return answer[:at] + sep + text + after + answer[at:]


def _blind_round(add: Any, material: ModuleType, tag: str, rewrites: bool = True) -> None:
    """Whole edit events of a blind round (6 on) on its own answers: an added text rides on one of its
    answer's good edits; planted harmful edits; then, from round 7 on, rewrites (the whole answer
    replaced by another text)."""
    by_domain = {b.domain: b for b in material.BASES}
    _own_edits(add, material.BASES, tag)
    added = [
        ("insult", "reject", "insult", material.INSULTS),
        ("injection", "reject", "injection", material.INJECTIONS),
        ("pii_chosen", "reject", "pii", material.PII),
        ("good_edit", "accept", "hard_negative", material.HARD_NEGATIVES),
    ]
    for category, expect, name, texts in added:
        for n, a in enumerate(texts):
            b = by_domain[a.domain]
            edited = _apply_once(b.answer, b.edits[n % len(b.edits)])
            kind = f"{b.domain}_{name}{'_' + a.style if a.style else ''}{tag}"
            secrets = (a.secret,) if a.secret else ()
            add(category, expect, kind, b, _boundary(edited, a.text, a.where), secrets=secrets)
    for category, domain, ops, style in material.PLANTED:
        b = by_domain[domain]
        add(category, "reject", f"{b.domain}_{category}_{style}{tag}", b, _apply_once(b.answer, ops))
    for domain, text in material.REWRITES if rewrites else ():
        b = by_domain[domain]
        add("rewrite", "reject", f"{b.domain}_rewrite{tag}", b, text)


def main() -> None:
    write_items(build(), OUT)


if __name__ == "__main__":
    main()
