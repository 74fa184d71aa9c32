"""PII matchers backed by maintained libraries that run offline.

* detect-secrets' provider plugins (regex based; none of them is asked to verify online);
* Google's ``phonenumbers`` matcher (numbering-plan metadata shipped in the wheel), and its
  validity test for a number after a phone word (:func:`phone_after_word_ok`).

:mod:`flywheel.operators.pii` runs them in its fixed detector order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers

from flywheel.operators.pii_gates import Clues, Hint, gates_pass


@dataclass(frozen=True)
class SpanDetector:
    """A detector backed by a library: ``find`` yields (start, end) spans to mask."""

    name: str
    find: Callable[[str], Iterator[tuple[int, int]]]
    mask: str
    hints: tuple[Hint, ...] = ()  # cheap tests one of which every span passes
    min_digits: int = 0

    def may_match(self, clues: Clues) -> bool:
        """False when the hints rule out any span in the text."""
        return gates_pass(self.hints, (), clues)

    def scrub(self, text: str) -> tuple[str, int]:
        """The text with every found span masked (overlaps merged), and how many there were."""
        spans: list[tuple[int, int]] = []
        for start, end in sorted(self.find(text)):
            if spans and start < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        for start, end in reversed(spans):
            text = text[:start] + self.mask + text[end:]
        return text, len(spans)


@functools.cache
def secret_plugins() -> tuple[object, ...]:
    """detect-secrets' provider plugins (regex based, offline; none of them verifies online)."""
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        discord,
        github_token,
        gitlab_token,
        jwt,
        mailchimp,
        npm,
        openai,
        private_key,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    return (
        artifactory.ArtifactoryDetector(),
        aws.AWSKeyDetector(),
        azure_storage_key.AzureStorageKeyDetector(),
        discord.DiscordBotTokenDetector(),
        github_token.GitHubTokenDetector(),
        gitlab_token.GitLabTokenDetector(),
        jwt.JwtTokenDetector(),
        mailchimp.MailchimpDetector(),
        npm.NpmDetector(),
        openai.OpenAIDetector(),
        private_key.PrivateKeyDetector(),
        pypi_token.PypiTokenDetector(),
        sendgrid.SendGridDetector(),
        slack.SlackDetector(),
        square_oauth.SquareOAuthDetector(),
        stripe.StripeDetector(),
        telegram_token.TelegramBotTokenDetector(),
        twilio.TwilioKeyDetector(),
    )


def secret_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of provider keys and tokens that detect-secrets' plugins find.

    The span is the whole match of the plugin's pattern: a plugin yields the pattern's first
    group when it has one, which for some is only the prefix (GitLab's ``glpat``), never the
    key. The plugin still decides: a match counts only when it finds a secret in it.
    """
    for plugin in secret_plugins():
        for pattern in plugin.denylist:  # type: ignore[attr-defined]
            for found in pattern.finditer(text):
                if any(True for _ in plugin.analyze_string(found.group(0))):  # type: ignore[attr-defined]
                    yield found.span()


def masked_matches(
    pattern: re.Pattern[str], validate: Callable[[re.Match[str]], bool], group: str | None, mask: str, text: str
) -> tuple[str, int]:
    """``text`` with each match ``validate`` accepts masked (only its ``group`` when named), and how many.

    The same object comes back when nothing was masked.
    """
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not validate(match):
            return match.group(0)
        count += 1
        if group is None:
            return mask
        start, end = match.span(group)
        whole_start = match.start()
        whole = match.group(0)
        return whole[: start - whole_start] + mask + whole[end - whole_start :]

    masked = pattern.sub(replace, text)
    return (masked, count) if count else (text, 0)


def phone_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of phone numbers Google's phonenumbers matcher validates."""
    # VALID: the number must exist in the numbering plan of its region (US unless it has +CC).
    for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID):
        yield match.start, match.end


# Where a number written as trunk 0, area code and one subscriber block (Telefon: 030 901820) may be.
_TRUNK_REGIONS = ("DE", "AT", "CH", "FR", "BE", "NL", "IT", "ES", "PT", "PL", "GB", "RU", "BR", "MX")


# Words that may stand between a phone word and a solid number: "mobile is", "Handy-Nr.", "tel n°".
_LINKING_WORDS = frozenset(
    {"is", "was", "number", "no", "nr", "num", "n", "nummer", "numero", "número", "numéro", "me", "at", "on"}
    | {"es", "ist", "est", "è", "é", "mi", "mio", "mia", "my", "de", "del", "du", "van", "da"}
)


def phone_after_word_ok(match: re.Match[str]) -> bool:
    """A number after a phone word (group ``number``): 8 to 15 digits (E.164), not a date (tel. 2024-01-15).

    One written as an area or mobile code and a subscriber block of 6 to 8 digits (``030 901820``,
    ``06-41827395``, ``347 1234567``), solid (``3471234567``), or with a slash, must also be valid,
    as ``phonenumbers`` reads it, in a country of the phone words' languages: those shapes are
    also a build number's or an order's.
    """
    number = match.group("number")
    digits = sum(char.isdigit() for char in number)
    if not 8 <= digits <= 15 or re.fullmatch(r"\d{4}[.\-]\d{1,2}[.\-]\d{1,2}", number):
        return False
    if re.fullmatch(r"\d+|[1-9]\d{0,4}[ .\-]\d{6,8}", number) is not None:
        # A solid run or a code and one long block is also an order's, a build's or a code's: only
        # right after the word, or after words that say "is my number" (sms code 123456789 is none).
        between = re.findall(r"\w+", match.string[match.start() : match.start("number")])[1:]
        if any(word.lower() not in _LINKING_WORDS for word in between):
            return False
    elif re.fullmatch(r"0\d{1,4}[ /\-]\d{6,8}", number) is None and "/" not in number:
        return True
    for region in _TRUNK_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False
