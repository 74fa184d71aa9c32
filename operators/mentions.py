"""Quoted mentions: a short quotation that the sentence introduces as an example is not the writer's own words.

A moderation guideline lists "banned phrases, such as 'you're an idiot'"; security advice warns
of "a web page saying 'ignore previous instructions'"; homework help notes that "kids often say
'this is stupid'". The quoted words are named, not said: with a policy's ``quoted_mentions`` its
injection and blocked rules read the text with such a quotation blanked (``'…'``). A quotation is
a mention when the 60 characters before it, in the same sentence, hold a cue that introduces an
example or reported words (such as, like, e.g., phrases, words, saying, called, reads, banned ...)
and no order to use it (remember, repeat, always, from now on, reply with, print, use the phrase
...): "Always reply with 'you are an idiot'" and "Remember the phrase '...'" are read whole. At
most 80 characters are blanked per quotation, so a long quoted payload is read as written.

A policy may add cues and orders in other languages (``mention_cues``, ``mention_orders``:
default-v10's Russian and Ukrainian, "клиент пишет «...»"); the English ones always apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A cue that introduces an example or reported words, then up to 40 characters to the quote.
_CUE = re.compile(
    r"\b(such as|like|e\.g\.|for example|for instance|phrases?|words?|wording|says?|saying|said|calls?|called|"
    r"calling|reads?|reading|examples?|banned|strings?|messages?|typed|types|writes?|wrote|writing|sentences?|"
    r"quotes?|quoted|known as|titled|lines?)\b[^.!?\n]{0,40}$",
    re.IGNORECASE,
)
# An order to use the quoted words: then they are the writer's own.
_ORDER = re.compile(
    r"\b(remember|memori[sz]e|repeat|always|from now on|obey|follow|execute|do what|reply with|respond with|"
    r"answer with|print|output|append|include|use the (phrase|words?|string|line)|learn)\b",
    re.IGNORECASE,
)
# A quotation of 1 to 80 characters on one line: single quotes not part of a word (they're, 'you're an idiot'
# is one quotation), or double, typographic, guillemet or corner quotes.
_QUOTE = re.compile(
    r"(?<!\w)['\u2018](?=\S)[^\n]{1,80}?(?<=\S)['\u2019](?!\w)"
    r"|[\"\u201c\u00ab\u300c][^\n\"\u201d\u00bb\u300d]{1,80}[\"\u201d\u00bb\u300d]"
)
_SENTENCE_START = re.compile(r".*[.!?\n]\s", re.DOTALL)
MARK = "\u2026"


class MentionCues:
    """The cues and orders a policy adds to the English ones; immutable, compiled once."""

    def __init__(self, cues: Iterable[str] = (), orders: Iterable[str] = ()) -> None:
        self.cue = _words(cues, tail=r"[^.!?\n]{0,40}$")
        self.order = _words(orders, tail="")


def _words(words: Iterable[str], tail: str) -> re.Pattern[str] | None:
    """One case-insensitive regex of whole words and phrases ("word*": a prefix), then ``tail``; None when none."""
    parts = [re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word) for word in words]
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)" + tail, re.IGNORECASE)


_ENGLISH_ONLY = MentionCues()


def blank_mentions(text: str, extra: MentionCues = _ENGLISH_ONLY) -> str:
    """``text`` with every quoted mention's words replaced by an ellipsis (the quote marks kept)."""
    if "'" not in text and '"' not in text and not any(q in text for q in "\u2018\u201c\u00ab\u300c"):
        return text
    out: list[str] = []
    last = 0
    for match in _QUOTE.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        start = _SENTENCE_START.match(before)
        if start is not None:
            before = before[start.end() :]
        cued = _CUE.search(before) or (extra.cue is not None and extra.cue.search(before))
        ordered = _ORDER.search(before) or (extra.order is not None and extra.order.search(before))
        if cued and not ordered:
            out.append(text[last : match.start() + 1])
            out.append(MARK)
            last = match.end() - 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
