"""E-mail addresses as people write them: the shapes past the plain ``user@host`` and their validators.

Each pattern here is one e-mail detector's of :mod:`flywheel.operators.pii_detectors`; its
validator weeds out the prose of the same shape. An "at" spelled out is the hard case: "look at
example.com", "good at python.org tutorials" and "arrived at google.com's login page" are prose,
so a bare " at " counts only with a second sign that a mailbox is meant: a webmail host ("bill at
gmail.com"), a local part shaped like one ("jane.doe", "jane_doe"), or a word before it that asks
for an address ("email me at bill at acme.com", "contact: jsmith at acme.io"). A bracketed or
spaced sign ("jane [at] acme [dot] com", "john(at)example(dot)org", "jane @ acme.com") needs none.
"""

from __future__ import annotations

import functools
import re

# An e-mail address in any script (user@bücher.de, иван@почта.рф); ASCII ones are matched before.
UNICODE_EMAIL = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?![\w\-])")

_AT_SIGNS = r"\(at\)|\[at\]|\{at\}|<at>"
_DOT_SIGNS = r"\(dot\)|\[dot\]|\{dot\}|<dot>|\[\.\]|\(\.\)"
# A local part, its dots spelled out too ("jane dot doe", "jane(dot)doe"): the whole name is masked.
# Three such dots at most: unbounded, a long "a dot b dot ..." made every start read to its end.
_SPELLED_LOCAL = rf"\b[a-z0-9._%+\-]+(?:\s*(?:{_DOT_SIGNS}|\sdot\s)\s*[a-z0-9._%+\-]+){{0,3}}"
# jane(at)example(dot)com, bob [at] mail [dot] org, kim at corp dot net: a spelled-out dot before the
# top-level domain (after a bare " at ", " dot " and a common one).
SPELLED_EMAIL = re.compile(
    rf"(?i){_SPELLED_LOCAL}\s*(?:{_AT_SIGNS}|\sat\s)\s*[a-z0-9\-]+"
    rf"(?:\s*(?:{_DOT_SIGNS}|\sdot\s|\.)\s*[a-z0-9\-]+)*"
    rf"(?:\s*(?:{_DOT_SIGNS})\s*[a-z]{{2,24}}"
    r"|\s*\sdot\s\s*(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|eu|info|biz|me|dev|ai))\b"
)
SPELLED_EMAIL_WORDS = ("dot", "[.]", "(.)")
# jane(at)example.com, bob [at] mail.org, jane[@]acme.com: a bracketed "at" is never prose. Or an "@"
# with a space beside it ("jane @ acme.com"), where bracketed_email_ok tells it from matrix products.
# A space, not any \s: the multi-pattern prefilter runs a class beside "@" far slower (+10% a text).
BRACKETED_EMAIL = re.compile(
    rf"(?i){_SPELLED_LOCAL}\s*(?:{_AT_SIGNS}|\[@\]|\(@\)|\{{@\}}|<@>|(?P<spaced> @|@ ))\s*"
    r"[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?P<tld>[a-z]{2,})\b"
)
BRACKETED_EMAIL_WORDS = ("at)", "at]", "at}", "at>", "@")

# Webmail and mail-provider hosts: "<anything but prose> at <host>" is a mailbox there. The brands
# take any top-level domain (gmail.com, live.co.uk, yandex.ru, qq.com); hosts that are also words
# or initials only with their own (me.com, pm.me, free.fr, wp.pl, att.net).
_WEBMAIL_BRANDS = (
    "(?:g|google|y|hot|proton|fast|rocket|rediff|han)?mail|yahoo|outlook|icloud|aol|gmx|proton|yandex|zoho|web"
    "|live|msn|qq|163|126|yeah|sina|naver|daum|rambler|tutanota|posteo|libero|seznam|interia|comcast|verizon"
    "|sbcglobal|btinternet|t-online|laposte|mailbox"
)
_WEBMAIL_HOSTS = (
    r"(?:me|mac|hey)\.com|pm\.me|tuta\.io|(?:ya|bk|list|inbox)\.ru|(?:free|orange)\.fr|(?:wp|o2)\.pl|att\.net"
    r"|(?:uol|bol)\.com\.br"
)
# One of these is in every host above (lower case): the cheap gate before the pattern.
WEBMAIL_WORDS = (
    *("mail", "yahoo", "outlook", "icloud", "aol", "gmx", "proton", "yandex", "zoho", "web", "live", "msn"),
    *("qq", "163", "126", "yeah", "sina", "naver", "daum", "rambler", "tuta", "posteo", "libero", "seznam"),
    *("interia", "comcast", "verizon", "sbcglobal", "btinternet", "t-online", "laposte", "me.com", "mac.com"),
    *("hey.com", "pm.me", ".ru", "free.fr", "orange.fr", "wp.pl", "o2.pl", "att.net", ".com.br"),
)
EMAIL_AT_WORD = re.compile(
    # The lookahead rules a word out before the local part backtracks through it.
    r"(?i)(?<![\w.%+\-@])(?=[a-z0-9._+\-]+[ \t]+at[ \t])(?P<local>[a-z0-9](?:[a-z0-9._+\-]*[a-z0-9])?)[ \t]+at[ \t]+"
    rf"(?:(?:{_WEBMAIL_BRANDS})(?:\.[a-z]{{2,3}}){{1,2}}|{_WEBMAIL_HOSTS})"
    # The host ends there: not a page of the site ("outlook.com/mail") nor its possessive ("gmail.com's").
    r"\b(?![\w\-@/]|\.[a-z0-9]|['’]s\b)"  # noqa: RUF001 - the typed apostrophe too
)
# "john.smith at acme.com", "jane_doe at acme.com": any domain, so only a local part that reads as a
# person's name (two or three runs of letters joined by dots or underscores, digits after the last;
# named_email_at_word_ok) before a domain of one or two labels.
NAMED_EMAIL_AT_WORD = re.compile(
    r"(?i)(?<![\w.%+\-@])(?=[a-z]+[._][a-z0-9._]+ at )(?P<local>[a-z]+(?:[._][a-z]+){1,2}\d{0,4}) at "
    r"(?P<domain>[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z]{2,3})?\.(?P<tld>[a-z]{2,6}))"
    r"(?![\w\-@/]|\.[a-z0-9]|['’]s\b)"  # noqa: RUF001 - the typed apostrophe too
)
# "email me at bill at acme.com", "my e-mail: jsmith at acme.io", "contact him at jdoe42 at acme.com",
# "reach me: jane at acme.co.uk": a word that asks for an address and words that link it to one (me,
# at, is, a colon, ...; not a noun: "e-mail marketing at hubspot.com", "contact form at acme.com"),
# then any local part but prose (cued_email_ok) at any domain; the address (group ``address``) is masked.
EMAIL_CUE_WORDS = ("mail", "contact", "reach", "write", "drop")
_OBJECT = r"(?=[ \t]+(?:me|us|him|her|them)\b)"
_EMAIL_LINK = (
    r"(?:[ \t]*(?:[:=(),\-–]|(?:me|us|him|her|them|at|is|was|to|on|via|address(?:es)?|id|directly|or)\b))+[ \t]*"  # noqa: RUF001
)
CUED_EMAIL_AT_WORD = re.compile(
    r"(?i)\b(?=[cdemrw])(?:e-?mail(?:s|ed|ing)?|mail(?:ed|ing)?" + _OBJECT + r"|contact(?:ed|ing|s)?"
    r"|reach(?:ed|ing)?"
    + _OBJECT
    + r"|write(?=[ \t]+(?:to|me|us)\b)|drop[ \t]+(?:me|us)[ \t]+a[ \t]+(?:line|note))\b"
    + _EMAIL_LINK
    + r"(?<![\w.%+\-@])(?P<address>(?P<local>[a-z0-9](?:[a-z0-9._+\-]*[a-z0-9])?)[ \t]+at[ \t]+"
    r"(?P<domain>[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?){0,2}\.(?P<tld>[a-z]{2,6})))"
    r"(?![\w\-@/]|\.[a-z0-9]|['’]s\b)"  # noqa: RUF001 - the typed apostrophe too
)
PERCENT_EMAIL = re.compile(
    r"(?i)(?<![\w.%+\-])(?:[a-z0-9._+\-]|%2b)+%40[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?P<tld>[a-z]{2,24})\b"
)
# A quoted local part ('"john smith"@example.com'; not a shell variable "$USER"@host).
QUOTED_EMAIL = re.compile(r'"[^"\\\n@${}]{1,64}"@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b')
_MAIL_TLDS = frozenset(
    re.findall(
        r"[a-z]+",
        "com net org edu gov mil int io co me dev ai app info biz us uk de fr nl be ch at es it pt se no dk fi "
        "pl cz ru ua jp cn kr in au nz ca br mx ar eu ie il tr gr hu ro za sg hk tw",
    )
)


def email_ok(match: re.Match[str]) -> bool:
    """An e-mail address, not a git host's SSH login (git@github.com in clone URLs: nobody's address)."""
    return not match.group(0).startswith("git@")


# Words of prose that come before "at <a site>": what one does or has there ("log in at gmail.com",
# "my account at yahoo.com", "hosted at gmx.net"), not whose mailbox it is; and whom one writes to
# there ("email the folks at acme.com", "contact a person at acme.com"), or how one does it ("good at
# gmail.com", "met at live.com").
_PROSE_BEFORE_AT = frozenset(
    re.findall(
        r"[a-z]+",
        "look looks looked looking log logs logged logging login logins sign signs signed signing signin signup "
        "work works worked working job jobs account accounts inbox inboxes mailbox mailboxes address addresses "
        "email emails mail mails spam folder folders settings setting page pages docs help support team teams "
        "folks people staff colleagues friends stuff intern interns engineer engineers employee employees "
        "developer developers manager hosted hosting registered available located based stored kept listed "
        "arrive arrived arriving stay stayed staying check checked checking click clicked go went going try "
        "tried point pointed aim aimed live lived found here there now today again too also only just "
        "form forms info information details person persons guys directly anytime online colleague friend "
        "boss bosses coworker coworkers customer customers client clients vendor vendors recruiter recruiters "
        "good better best bad worse worst great expert skilled terrible nice met meet meeting seen saw posted "
        "published shared reported created made bought ordered paid visit visited read download downloaded "
        "install installed open opened search searched",
    )
)
# Given names in scikit-learn's list, whose mailboxes they are far more often ("bill at gmail.com").
_NAMES_NOT_FUNCTION_WORDS = frozenset(("bill", "will"))


@functools.cache
def _function_words() -> frozenset[str]:
    """English function words (scikit-learn's list: me, him, it, in, up, ..., less two given names)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - _NAMES_NOT_FUNCTION_WORDS


def _mailbox_name(local: str) -> bool:
    """A local part that names a mailbox, not a word of prose (see :func:`email_at_word_ok`)."""
    if not any(char.isalpha() for char in local):
        return False
    if any(char in "._+" or char.isdigit() for char in local):
        return True
    # Each part of a hyphenated one too ("sign-in at outlook.com", "check-in at ...").
    words = local.lower().split("-")
    return not any(word in _PROSE_BEFORE_AT or word in _function_words() for word in words)


def email_at_word_ok(match: re.Match[str]) -> bool:
    """The local part before "at <webmail host>" is a mailbox's, not a word of prose.

    One holding one of . _ + or a digit besides a letter is (``j.smith2``); one of letters (and hyphens)
    alone (``jsmith``, ``john``, ``bill``) unless it is a function word or a prose word said before "at
    <a site>" ("log in at gmail.com", "look at gmail.com", "my account at yahoo.com"), whole or as a
    part of a hyphenated one ("sign-in at outlook.com"). A number is none
    ("met at 5 at gmail.com HQ").
    """
    return _mailbox_name(match.group("local"))


# Last parts of a dotted name that make it a file (README.md, setup.py, config.yaml) or a library.
_FILE_EXTENSIONS = frozenset(
    re.findall(
        r"[a-z]+",
        "py pyc pyi ipynb js jsx mjs cjs ts tsx md rst txt json yaml yml toml cfg ini conf env lock log csv tsv "
        "xml html htm css scss sh bash zsh ps rb rs go java kt scala c h cc cpp hpp cs php pl swift sql db "
        "pdf doc docx xls xlsx ppt pptx png jpg jpeg gif svg ico zip tar gz tgz bz xz whl exe dll so dylib bin "
        "app apk dmg iso img net io ai dev",
    )
)
# Names code is written with: modules, objects and aliases before a dot (os.path, np.array, self.model),
# and the parts of snake_case identifiers (max_tokens, user_id, api_key).
_CODE_NAMES = frozenset(
    re.findall(
        r"[a-z]+",
        "os sys re np pd plt tf nn torch math json self this cls super app api lib std util utils config "
        "settings console window document module exports process path obj ctx req res args kwargs df "
        "id ids uid max min num count size len key keys token tokens url uri var val env tmp file dir type "
        "str int dict list get set is has case",
    )
)
_CODE_HOSTS = frozenset(("github.com", "gitlab.com", "bitbucket.org", "pypi.org", "npmjs.com", "crates.io"))


def _code_name(local: str) -> bool:
    """A dotted or underscored name that is code's (``np.array``, ``README.md``, ``max_tokens``)."""
    parts = re.split(r"[._]", local.lower().rstrip("0123456789"))
    if "." in local and (len(parts[-1]) < 2 or parts[-1] in _FILE_EXTENSIONS):
        return True
    return any(part in _CODE_NAMES for part in parts)


def named_email_at_word_ok(match: re.Match[str]) -> bool:
    """A name (groups ``local``, ``domain``, ``tld``) at a mail domain: "john.smith at acme.com", "jane_doe at ...".

    The domain ends in a common top-level domain and is no code host (``setup.py at pypi.org``); a
    dotted name's last part is two letters or more (not "e.g." nor "i.e.") and no file extension
    (``README.md``, ``Node.js``), and no part is a name of code (``np.array``, ``self.model``,
    ``max_tokens``).
    """
    if match.group("tld").lower() not in _MAIL_TLDS or match.group("domain").lower() in _CODE_HOSTS:
        return False
    local = match.group("local")
    if "." in local and len(local.split(".")[-1]) < 2:
        return False
    return not _code_name(local)


def cued_email_ok(match: re.Match[str]) -> bool:
    """After a word asking for an address: a mailbox's local part at a common top-level domain.

    Not a prose or function word ("email the team at acme.com", "contact us at acme.com"), nor a
    name of code, nor at a code host.
    """
    if match.group("tld").lower() not in _MAIL_TLDS or match.group("domain").lower() in _CODE_HOSTS:
        return False
    local = match.group("local")
    return _mailbox_name(local) and not _code_name(local)


def bracketed_email_ok(match: re.Match[str]) -> bool:
    """A bracketed "at" always; an "@" beside a space only before a common top-level domain and after a
    mailbox's local part (``x @ self.weight`` and ``a @ b.mean`` are matrix products).
    """
    if match.group("spaced") is None:
        return True
    local = match.group(0).split("@")[0].strip()
    return len(local) > 1 and match.group("tld").lower() in _MAIL_TLDS and _mailbox_name(local)


def percent_email_ok(match: re.Match[str]) -> bool:
    """A URL-encoded address (``john%40gmail.com``) ends in a common top-level domain (not ``pkg%40latest.tgz``)."""
    return match.group("tld").lower() in _MAIL_TLDS
