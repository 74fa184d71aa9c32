"""Greedy answers on held-out prompts and what they look like: closeness to users, repetition, length, code.

Answers are greedy (deterministic) and start from exactly the prompt tokens training used
(:func:`flywheel.trainer.conversation.generation_prompt_ids`).

Code that parses: only fenced blocks tagged as Python (```` ```python ````, ``py``, ``python3``,
``py3``) that are closed are judged, each with :func:`ast.parse` after removing a common indent.
Blocks in other languages and untagged blocks are skipped (an untagged block is as often a shell
command or program output as Python, and would count against the answer for no fault); a block
left open, cut off by the token budget or ended inside, is skipped too: the truncation guard
counts it (:func:`unclosed_fence`). Untagged code is held to the users' own: on prompts where
the users' corrections and the base's answer have Python code, a candidate answering without any
is counted (``Comparison.code_dropped``), so dropping the tag cannot hide broken code.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import Levenshtein

from flywheel.trainer.conversation import Prompt, generation_prompt_ids

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

NGRAM = 4
LINE_REPEATS = 3
PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
CODE_RULE = (
    "an answer's code parses when every closed fenced block tagged python/py/python3/py3 passes ast.parse "
    "(common indent removed); other languages, untagged and unclosed blocks are not judged"
)
# A fenced block (CommonMark): an opening run of 3+ backticks or tildes with an info string, the
# body, then a closing run of the same fence on its own line.
_FENCED = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)\n(?P<body>.*?)^[ \t]*(?P=fence)[`~]*[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Answer:
    """One greedy answer: its text and whether it stopped on its own."""

    text: str
    finished: bool  # False: cut at the token budget

    @property
    def empty_or_truncated(self) -> bool:
        """Nothing said, or cut off mid-answer: at the token budget, or inside a code block it opened."""
        return not self.text.strip() or not self.finished or unclosed_fence(self.text)


def greedy_answers(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    *,
    max_prompt_length: int,
    max_new_tokens: int,
    batch_size: int,
) -> list[Answer]:
    """Greedy answers of ``model`` to ``prompts``, batched with left padding."""
    import torch

    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    was_training = model.training
    model.eval()
    answers: list[Answer] = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            encoded = [generation_prompt_ids(tokenizer, prompt, max_prompt_length) for prompt in batch]
            width = max(len(ids) for ids in encoded)
            input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
            attention = torch.zeros((len(encoded), width), dtype=torch.long)
            for row, ids in enumerate(encoded):
                input_ids[row, width - len(ids) :] = torch.tensor(ids)
                attention[row, width - len(ids) :] = 1
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=eos,
            )
            for row in output[:, width:].tolist():
                finished = eos is not None and eos in row
                kept = row[: row.index(eos)] if finished else row
                text = str(tokenizer.decode(kept, skip_special_tokens=True))
                answers.append(Answer(text.strip(), finished))
    if was_training:
        model.train()
    return answers


def similarity(answer: str, target: str) -> float:
    """Normalised Levenshtein similarity in [0, 1] (1 = identical)."""
    return float(Levenshtein.normalized_similarity(answer, target))


_WORD = re.compile(r"\w+")


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def content_words(text: str) -> Counter[str]:
    """The text's words, case-folded, with English stop words left out, and how often each occurs."""
    stop = _stop_words()
    return Counter(word for word in _WORD.findall(text.casefold()) if word not in stop)


def content_overlap(answer: str, target: str) -> float:
    """F1 of the content words ``answer`` shares with ``target`` (counted with repeats), in [0, 1].

    What character similarity cannot see: any English appended to a short answer aligns with
    some of a longer target's letters and spaces, so filler, padding or a sentence in another
    language reads as "closer". Here every word the target lacks costs precision and every word
    of the target's the answer lacks costs recall. Two texts without content words are equal (1).
    """
    said, wanted = content_words(answer), content_words(target)
    if not said or not wanted:
        return float(not said and not wanted)
    shared = sum((said & wanted).values())
    if not shared:
        return 0.0
    precision, recall = shared / sum(said.values()), shared / sum(wanted.values())
    return 2 * precision * recall / (precision + recall)


def has_repeated_line(text: str) -> bool:
    """Whether a line with a letter or digit occurs three or more times (a loop, not a list).

    Lines of punctuation alone are structure, not a loop: closing braces of JavaScript on their
    own lines, code fences, ``---`` rules. Counted, they rejected a candidate that wrote exactly
    the users' own code or markdown.
    """
    lines = Counter(line.strip() for line in text.splitlines() if any(char.isalnum() for char in line))
    return any(count >= LINE_REPEATS for count in lines.values())


# A refusal or non-answer, as answers open with one (English): an optional apology, then "I can't
# help / assist / ...", or "As an AI". Matched on the start only: "... but I can't say more" ending
# an answer is an answer.
_REFUSAL = re.compile(
    r"^(?:(?:i'm|i am) sorry|sorry|i apologi[sz]e|unfortunately)?[\s,.!]*(?:but\s+)?"
    r"i\s*(?:can't|cannot|can not|won't be able to|will not be able to|am unable to|'m unable to|am not able to|"
    r"'m not able to)\s+(?:help|assist|provide|answer|do|comply|fulfil|fulfill|support|create|write|share|give|"
    r"discuss)\b|^as an ai\b"
)


def is_refusal(text: str) -> bool:
    """Whether an answer opens with a common English refusal ("I'm sorry, but I can't help with that.")."""
    opening = " ".join(unicodedata.normalize("NFKC", text[:200]).casefold().replace("\u2019", "'").split())
    return bool(_REFUSAL.match(opening.lstrip("\"'*_> ")))


def repeated_ngram_share(text: str) -> float:
    """Share of the word 4-grams of ``text`` that repeat an earlier one (0 for short answers)."""
    words = text.split()
    grams = [tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


# A line opening or closing a fenced block (CommonMark: up to 3 spaces, then 3+ backticks or tildes).
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.MULTILINE)


def unclosed_fence(text: str) -> bool:
    """Whether ``text`` opens a fenced code block it never closes.

    A model that stops (end of sequence) inside its own code block wrote broken code however it
    ended: counted with the cut-off answers, where the code checks, which read closed blocks only,
    cannot see it.
    """
    if "```" not in text and "~~~" not in text:
        return False
    return sum(1 for _ in _FENCE_LINE.finditer(text)) % 2 == 1


def python_blocks(text: str) -> list[str]:
    """The bodies of the closed fenced code blocks of ``text`` tagged as Python, in order."""
    blocks = []
    for match in _FENCED.finditer(text):
        words = match["info"].split()
        if words and words[0].casefold() in PYTHON_TAGS:
            blocks.append(match["body"])
    return blocks


def parses(code: str) -> bool:
    """Whether ``code`` (indent removed) is valid Python 3 syntax, by :func:`ast.parse`; nothing is run."""
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning on an invalid escape: still valid syntax
            warnings.simplefilter("ignore")
            ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError, RecursionError):  # ValueError: a null byte; RecursionError: deep nesting
        return False
    return True


def python_code_parses(text: str) -> bool | None:
    """Whether every Python block of an answer parses; None when the answer has none (not judged)."""
    blocks = python_blocks(text)
    return all(parses(block) for block in blocks) if blocks else None
