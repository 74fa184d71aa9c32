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
default-v10's Russian, Ukrainian, German, French, Spanish and Japanese, "клиент пишет «...»",
"le client écrit « ... »"), and cues that follow the quotation (``mention_cues_after``: German
"ein Ticket kann „...“ enthalten", Japanese "「...」という文"); the English ones always apply. It may
add quote marks too (``mention_quotes``, pairs of an opening and a closing mark: German „...“ and
»...«, Japanese 『...』), so that v9, which has none, reads the same quotations as before.
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
    """The cues, orders and quote marks a policy adds to the English ones; immutable, compiled once."""

    def __init__(
        self,
        cues: Iterable[str] = (),
        orders: Iterable[str] = (),
        quotes: Iterable[str] = (),
        after: Iterable[str] = (),
    ) -> None:
        self.cue = _words(cues, tail=r"[^.!?\n]{0,40}$")
        self.order = _words(orders, tail="")
        # Where the verb of saying follows the quotation (German "„...“ enthalten", Japanese "「...」と書いて"):
        # right after its closing mark, at most three spaces or commas between.
        self.after = _words(after, tail="", head=r"[\s,]{0,3}")
        marks = tuple(quotes)
        if any(len(pair) != 2 for pair in marks):
            raise ValueError(f"mention_quotes: each entry is an opening and a closing mark, got {list(marks)}")
        pairs = [(pair[0], pair[1]) for pair in marks]
        self.own_openers = "".join(opener for opener, _ in pairs)
        self.openers = "'\"\u2018\u201c\u00ab\u300c" + self.own_openers
        # A policy's own pairs first: German „...“ closes with the mark that opens an English quotation.
        own = [f"{re.escape(o)}[^\\n{re.escape(o + c)}]{{1,80}}{re.escape(c)}" for o, c in pairs]
        self.quote = re.compile("|".join([*own, _QUOTE.pattern])) if own else _QUOTE


def _words(words: Iterable[str], tail: str, head: str = "") -> re.Pattern[str] | None:
    """One case-insensitive regex of ``head``, whole words and phrases ("word*": a prefix), ``tail``; None when none."""
    parts = [re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word) for word in words]
    if not parts:
        return None
    return re.compile(head + r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)" + tail, re.IGNORECASE)


_ENGLISH_ONLY = MentionCues()


def blank_mentions(text: str, extra: MentionCues = _ENGLISH_ONLY) -> str:
    """``text`` with every quoted mention's words replaced by an ellipsis (the quote marks kept)."""
    if not any(mark in text for mark in extra.openers):
        return text
    out: list[str] = []
    last = 0
    # The English marks alone where the text holds none of the policy's own (most texts: a faster regex).
    quote = extra.quote if any(mark in text for mark in extra.own_openers) else _QUOTE
    for match in quote.finditer(text):
        before = text[max(0, match.start() - 60) : match.start()]
        start = _SENTENCE_START.match(before)
        if start is not None:
            before = before[start.end() :]
        cued = (
            _CUE.search(before)
            or (extra.cue is not None and extra.cue.search(before))
            or (extra.after is not None and extra.after.match(text, match.end(), match.end() + 40))
        )
        ordered = _ORDER.search(before) or (extra.order is not None and extra.order.search(before))
        if cued and not ordered:
            out.append(text[last : match.start() + 1])
            out.append(MARK)
            last = match.end() - 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
