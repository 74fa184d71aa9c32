"""The prose of a text: its code blanked, the words inside code meant for people kept.

A profanity or toxicity model reads code as prose: a bash line ``kill -9 1234`` scores ~0.95 on
the profanity model, and a good coding edit was dropped for it (probe round 6). The toxicity
scorer therefore reads :func:`prose_view` of an edit, where code is blanked:

* fenced blocks (``` or ~~~; a block tagged ``text``, ``txt``, ``plain``, ``plaintext``,
  ``markdown`` or ``md`` is prose; words after a closing fence, ```` ``` Then run it.````, are
  prose, as people write them), indented blocks (four spaces or a tab after a blank line,
  outside a list, as in Markdown) and inline spans (`` `kill <PID>` ``) are code;
* inside code, what is written for people stays prose, a line's on one line: comments (``#``,
  ``//``, ``--``, ``/* */``, ``<!-- -->``; the first three at a line's start or after a space, so
  ``http://`` and ``$#`` are code; a ``/*`` left open after an argument, ``rm -rf /*``, is a
  glob), string literals of words (``"You idiot!"``, a docstring;
  not ``'kill $(jobs -p)'``), and a line that reads as a sentence (three or more words, ending
  with ``.``, ``!`` or ``?``: an insult in an untagged fence is still read);
* an inline span of two or more plain words (`` `sudo killall node` ``) stays prose.

Nothing here decides what is harmful: hiding an insult or an order in a comment or a string
hides nothing, and the policy rules read the whole text, code included, as before.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)")  # indented too: a fence in a list item
_PROSE_FENCES = frozenset({"text", "txt", "plain", "plaintext", "markdown", "md"})
_INDENTED = re.compile(r"^(?: {4}|[ \t]*\t)")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]")
# A run of backticks, then anything up to the same run (CommonMark's inline code span, on one line).
_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# A word of letters (any script), with apostrophes or hyphens inside and prose marks around it.
_PROSE_WORD = re.compile(
    "[\"'(\u00ab\u00bf\u00a1\u201c\u2018\u300c]*[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+)*"
    "[.,;:!?\"')\u00bb\u201d\u2019\u2026\u3001\u3002\uff01\uff1f\u300d]*"
)
# Scripts written without spaces: four of their letters are a phrase however few the tokens.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
_SENTENCE_END = ".!?\u3002\uff01\uff1f"
# Comment openers read only at a line's start or after white space (``http://``, ``$#``, ``a--``).
_LINE_COMMENTS = ("//", "#", "--")
_BLOCK_COMMENTS = {"/*": "*/", "<!--": "-->"}
_TRIPLE_QUOTES = ('"""', "'''")
# Where a comment or string may open: the scan of a code line jumps from one to the next.
_MARK = re.compile(r"\"\"\"|'''|<!--|/\*|//|--|#|[\"'`]")


def reads_as_prose(text: str, min_words: int, sentence: bool = False) -> bool:
    """True when ``text`` is only words of letters and prose marks, at least ``min_words`` of them.

    With ``sentence``, it must also end like a sentence (``.``, ``!``, ``?``).
    """
    tokens = text.split()
    if not tokens or not all(_PROSE_WORD.fullmatch(token) for token in tokens):
        return False
    if sentence and text.rstrip()[-1] not in _SENTENCE_END:
        return False
    return len(tokens) >= min_words or len(_UNSPACED.findall(text)) >= 4


def prose_view(text: str) -> str:
    """``text`` with its code blanked; comments, strings of words and sentences in code kept, one a line."""
    if "`" not in text and "~~~" not in text and "    " not in text and "\t" not in text:
        return text  # no fence, span or indentation: most edits, two C-level scans
    out: list[str] = []
    fence: str | None = None  # the opening run of the fenced block we are in
    prose_fence = False
    indented = False  # inside an indented code block
    blank_before = True
    in_list = False
    closing: list[str] = []  # the delimiter of a comment or string left open on an earlier code line
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening is not None and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                after = line[opening.start(2) :].strip()
                # "```python" inside a block is content (CommonMark); "``` Then run it." closes the
                # block and goes on in prose, as people write it.
                if not after or " " in after:
                    fence, closing = None, []
                    out.append(_without_spans(after))
                    continue
            out.append(_without_spans(line) if prose_fence else _code_line_prose(line, closing))
            continue
        if opening is not None:
            fence, closing = opening.group(1), []
            prose_fence = opening.group(2).lower() in _PROSE_FENCES
            indented, blank_before = False, False
            out.append("")
            continue
        if not line.strip():
            blank_before = True
            out.append("")
            continue
        if _INDENTED.match(line) and (indented or (blank_before and not in_list)):
            if not indented:
                indented, closing = True, []
            out.append(_code_line_prose(line, closing))
            continue
        indented, blank_before = False, False
        if not line[:1].isspace():
            in_list = _LIST_ITEM.match(line) is not None
        out.append(_without_spans(line))
    return "\n".join(out)


def _without_spans(line: str) -> str:
    """A prose line with its inline code spans blanked, but for spans of plain words."""
    if "`" not in line:
        return line
    return _SPAN.sub(_span_prose, line)


def _span_prose(match: re.Match[str]) -> str:
    content = match.group(2).strip()
    return content if reads_as_prose(content, 2) else ""


def _code_line_prose(line: str, closing: list[str]) -> str:
    """The prose of one line of code: its comments and strings of words, or itself if it reads as a sentence.

    ``closing`` holds the delimiter of a block comment or triple-quoted string still open from an
    earlier line; it is updated in place.
    """
    if not closing and reads_as_prose(line, 3, sentence=True):
        return line.strip()
    parts: list[str] = []
    index = 0
    if closing:
        end = line.find(closing[0])
        if end < 0:
            return line.strip()  # a whole line of a comment or docstring
        parts.append(line[:end])
        index = end + len(closing.pop())
    while (mark := _MARK.search(line, index)) is not None:
        token, index = mark.group(0), mark.start()
        at_word_start = index == 0 or line[index - 1].isspace()
        if token in _TRIPLE_QUOTES or token in _BLOCK_COMMENTS:
            if token == "/*" and not at_word_start:
                index += 1  # a path: /tmp/*
                continue
            close = _BLOCK_COMMENTS.get(token, token)
            end = line.find(close, index + len(token))
            if end < 0 and token == "/*" and not _opens_comment_here(line, index):
                index += 2  # a shell glob left open: rm -rf /*, ls /*.log
                continue
            if end < 0:
                closing.append(close)
                parts.append(line[index + len(token) :])
                break
            parts.append(line[index + len(token) : end])
            index = end + len(close)
        elif token in _LINE_COMMENTS:
            if at_word_start and (token != "--" or line[index + 2 : index + 3] in ("", " ", "\t")):
                parts.append(line[index + len(token) :])
                break
            index += 1
        else:
            end = _string_end(line, index)
            if end < 0:
                index += 1  # an apostrophe, not a string
                continue
            literal = line[index + 1 : end]
            if reads_as_prose(literal, 1):
                parts.append(literal)
            index = end + 1
    return " ".join(part.strip() for part in parts if part.strip())


def _opens_comment_here(line: str, start: int) -> bool:
    """True when a ``/*`` at ``start`` that no ``*/`` closes on its line opens a comment over later lines.

    Only at the line's start or after code punctuation (``int x; /*``, ``f(a, /*``): after an
    argument (``rm -rf /*``, ``ls /*.log``) it is a shell glob, and reading the lines after it
    as a comment would read code as prose (``kill -9 1234`` on the next line scores ~0.95).
    """
    before = line[:start].rstrip()
    return not before or before[-1] in ";{}()[],=:"


def _string_end(line: str, start: int) -> int:
    """Where the string literal opened at ``start`` closes on this line (a backslash escapes), else -1."""
    quote, index = line[start], start + 1
    while index < len(line):
        if line[index] == "\\":
            index += 2
            continue
        if line[index] == quote:
            return index
        index += 1
    return -1
