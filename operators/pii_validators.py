"""Personal data's shapes, and what a match must also be to count: checksums, ranges, context.

Each detector of :mod:`flywheel.operators.pii_detectors` pairs a regex with one of these: the regex
finds what has the shape (phone numbers after a phone word, card numbers, national ids, medical
record numbers, street addresses, dates of birth, IBANs), the validator weeds out look-alikes (a
number failing Luhn or mod-97, a private IP address). Secrets (keys, tokens, passwords) and theirs
are in :mod:`flywheel.operators.pii_secrets`, e-mail addresses in :mod:`flywheel.operators.pii_email`.
"""

from __future__ import annotations

import ipaddress
import re

# A national number without its country prefix (612 345 678, 98765 43210, 8 912 345-67-89, 030 901820)
# right after a word that says it is a phone number, in the languages of the policy's other rules.
PHONE_WORDS = (
    "phone", "telephone", "tel", "mobile", "cell", "whatsapp", "sms", "fax", "handy", "mobil", "telefon",
    "telefono", "teléfono", "téléphone", "portable", "móvil", "movil", "celular", "телефон", "тел",
    "мобильный",
    # Verbs of calling, where they rarely name anything else ("bellen naar 06-41827395"); not English
    # "call" or "ring", which name functions and buffers beside numbers ("call stack 1024 2048 4096").
    "bel", "bellen", "mobiel", "anrufen", "appeler", "appelez", "llamar", "llámame", "ligar", "ligue",
    "chiamare", "chiamami", "cellulare", "zadzwoń", "komórka", "позвоните", "звоните",
)  # fmt: skip
PHONE_WORDS_CJK = ("電話", "电话", "手机", "携帯")  # no word boundary between CJK characters
PHONE_AFTER_WORD = re.compile(
    rf"(?i)(?:\b(?:{'|'.join(PHONE_WORDS)})\b|{'|'.join(PHONE_WORDS_CJK)})"
    r"[^\n\d]{0,20}(?P<number>(?<![\d+])(?:(?:\(\d{1,5}\)|\d{1,5})(?:[ .\-]\d{2,5}){1,5}"
    # or a trunk 0 and area code before the subscriber number in one block (030 901820, 030/901820,
    # a Dutch mobile 06-41827395), or a mobile code before it (an Italian 347 1234567), or all of
    # it solid (3471234567, 07700900123): phone_after_word_ok has phonenumbers validate these
    r"|0\d{1,4}[ /\-]\d{5,8}|[1-9]\d{1,4}[ .\-]\d{6,8}|\d{9,12})(?!\d))"
)
# A card number written in dotted groups of four (4111.1111.1111.1111); Luhn decides (card_ok).
DOTTED_CARD = re.compile(r"(?<![\w.\-])\d{4}(?:\.\d{4}){2}\.\d{1,7}(?![\w\-]|\.\d)")
# A US social security number without dashes (123 45 6789, 123456789) right after a word that says so.
SSN_AFTER_WORD = re.compile(
    # "social" alone when the number is what it is ("my social is 219 09 9999", "social: ..."),
    # not "social media" or "social network".
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?|social(?= (?:is|was|number|no\.?|#)\b|:))\b[^\n\d]{0,20}"
    r"(?P<number>(?<!\d)(?!000|666|9\d\d)\d{3}[ .]?(?!00)\d{2}[ .]?(?!0000)\d{4}(?!\d))"
)
# A passport number (6 to 9 capitals and digits, 5 digits at least: X1234567, C01X00T47, 123456789)
# after a word for a passport ("passport no. X1234567", "Reisepass-Nr. C01X00T47", "パスポート番号は
# TK1234567"), in the languages of the policy's other rules. Letters and digits around the number end
# it, not word characters: Japanese and Chinese run their words into it.
PASSPORT_WORDS = (
    *("passport", "reisepass", "reisepassnummer", "passnummer"),
    *("passeport", "pasaporte", "passaporto", "paspoort", "パスポート", "护照"),
)
PASSPORT = re.compile(
    # (?=[pr]): the Latin words' first letter, tested before the alternation (faster where it fails)
    r"(?:(?i:\b(?=[pr])(?:passport|reisepass|passnummer|passeport|pasaporte|passaporto|paspoort)\w*)|パスポート|护照)"
    r"[^\n\d]{0,25}?(?<![A-Za-z0-9\-])(?P<number>[A-Z0-9]{6,9})(?![A-Za-z0-9\-])"
)
# A medical record number after the words that name it ("MRN 00482913", "MRN: 4829-1133", "medical
# record number 12345678", "patient ID 77812", "NHS number 943 476 5919"): 5 to 12 digits, in groups
# or after up to three capitals; not a date (medical_record_ok).
MEDICAL_RECORD_WORDS = ("mrn", "medical record", "health record", "patient", "nhs")
MEDICAL_RECORD = re.compile(
    r"(?i)\b(?=[mhpn])(?:mrn|(?:medical|health)[ \t]+record(?:[ \t]+(?:number|no\.?|num\.?|#|id))?"
    r"|patient(?:'s)?[ \t]+(?:id|identifier|number|no\.?|num\.?|#)|nhs[ \t]+(?:number|no\.?))"
    r"(?:[ \t]*(?:[:#=]|(?:is|was)\b))*[ \t]*"
    r"(?P<number>(?<![\w\-])(?-i:[A-Z]{1,3})?-?\d(?:[ \-]?\d){4,11}(?![\w\-]|[.\-/]\d))"
)
# A French social security number (NIR): sex, year, month (01-12, or 20 and 30-99 when unknown),
# department (2A/2B in Corsica), commune, order, then the key, written solid or in groups ("1 85 05
# 78 006 084 36"). NIR alone it must carry its key (nir_ok); after a word that names it ("numéro de
# sécurité sociale", "n° de sécu", "NIR") a mistyped key still hides a person's number.
_NIR = (
    r"(?P<nir>[1-478][ .\-]?\d{2}[ .\-]?(?:0[1-9]|1[0-2]|20|[3-9]\d)[ .\-]?(?:\d{2}|2[ABab])[ .\-]?\d{3}[ .\-]?\d{3})"
    r"[ .\-]?(?P<key>\d{2})"
)
NIR = re.compile(rf"(?<![\w+.\-]){_NIR}(?![\w+]|[.\-]\d)")
NIR_WORDS = ("sécu", "secu", "nir", "insee", "vitale")
NIR_AFTER_WORD = re.compile(
    r"(?i)\b(?:s[ée]curit[ée] sociale|s[ée]cu|nir|insee|carte vitale)\b[^\n\d]{0,30}"
    rf"(?P<number>(?<![\w+.\-]){_NIR}(?![\w+]|[.\-]\d))"
)
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|terrace|way|square|sq"
    r"|parkway|pkwy|highway|hwy|crescent|close"
)
# A street address: house number, capitalised name, street type ("221B Baker Street"); or a German
# street with its number ("Hauptstraße 5").
STREET = re.compile(
    rf"\b\d{{1,5}}[A-Z]? (?:[A-Z][a-z]+ ){{1,3}}(?i:{_STREET_TYPES})\b\.?"
    r"|\b[A-Z][a-zäöüß]+(?:straße|strasse|weg|gasse|platz|allee) \d{1,4}[a-z]?\b"
)
# The same in lower case ("i live at 42 baker street", "ship to 1600 pennsylvania avenue nw") only
# after a word that says an address follows, then at/to/is/on/in or a colon, and with no word of
# prose or of a device among the name's ("send 3 files to the drive", "moved to 2 usb drive
# images", "stay on 3 lane road").
ADDRESS_WORDS = (
    *("liv", "resid", "address", "ship", "deliver", "send", "sent", "mail", "post", "locat", "mov"),
    *("stay", "house", "home", "apartment", "flat", "office", "meet"),
)
_NOT_A_STREET_NAME = (
    r"the|a|an|of|on|in|at|to|and|or|for|from|by|with|into|onto|down|up|along|across|over|under|near|around"
    r"|past|through|off|out|per|via|my|your|our|their|his|her|its|this|that|these|those|more|less|than|is|are"
    r"|was|were|be|hard|usb|flash|external|google|network|shared|disk|ssd|thumb|cd|dvd|backup|bed|bedroom|car"
    r"|way|lanes?|bits?|bytes?|[kmgt]b|days?|weeks?|months?|years?|hours?|minutes?|times?|miles?|km|blocks?"
    r"|houses?|doors?|nights?|people"
)
# A house number, up to three words of a name and a street type, in any case ("42 baker street",
# "221b baker street", "1600 pennsylvania avenue nw").
_ANY_CASE_STREET = (
    rf"\d{{1,5}}[a-z]? (?:(?!(?:{_NOT_A_STREET_NAME})\b)[a-z]+ ){{1,3}}"
    rf"(?:{_STREET_TYPES})\b\.?(?: (?:n|s|e|w|ne|nw|se|sw)\b\.?)?"
)
# Or right after "address" the noun, with a word that makes it one before it ("my address 42 baker
# street", "shipping address, 7 elm road"; not the verb: "we need to address 3 key drive failures"),
# or alone as a label ("Address 12 oak lane", "address - 12 oak lane") where the street ends the
# clause (the verb's object goes on: "address 3 key drive failures").
LOWER_STREET = re.compile(
    # The lookaheads (the words' first letters; a digit soon after) only fail faster (2x on prose).
    r"(?i)(?:\b(?=[adfhlmoprs])(?:live[sd]?|living|reside[sd]?|residing|residence|address(?:es)?"
    r"|ship(?:ped|ping)?|deliver(?:ed|y|ing)?|send|sent|mail(?:ed)?|post(?:ed)?|located|mov(?:e|ed|ing)"
    r"|stay(?:s|ed|ing)?|house|home|apartment|flat|office|meet)\b(?=[^\n\d]{0,22}\s*\d)[^\n\d]{0,20}?"
    r"(?:\b(?:at|to|is|on|in)\b|:)\s*"
    r"|\b(?=[bcdhmnopsty])(?:my|your|his|her|our|their|the|new|old|home|shipping|billing|delivery|postal"
    r"|mailing|business|current|permanent)[ \t]+address[ \t]*[,\-–]?[ \t]*"  # noqa: RUF001 - an en dash too
    rf"|\baddress[ \t]*[\-–]?[ \t]*(?={_ANY_CASE_STREET}[ \t]*(?:[.,;:!?)\n]|$)))"  # noqa: RUF001 - an en dash
    rf"(?P<address>(?<![\w.\-]){_ANY_CASE_STREET})"
)
# Street addresses as other languages write them: the street's name in words before its type and
# the number after ("Berliner Straße 12", "Calle Mayor 5", "Piazza Navona 2"), or the number first and
# the type before the name ("12 rue de Rivoli", "5 avenue des Champs").
FOREIGN_STREET = re.compile(
    r"\b[A-ZÄÖÜ][a-zäöüß]+(?:e[rs]?)? (?:Straße|Strasse|Weg|Gasse|Platz|Allee|Ring|Damm) \d{1,4}[a-z]?\b"
    r"|\b(?:Calle|Avenida|Piazza|Rua|Carrer|Plaza) (?:(?:de|del|la|dos|da)\s)?[A-ZÁÉÍÓÚ][\w'\-]+"
    r"(?: [A-ZÁÉÍÓÚ][\w'\-]+)?,? \d{1,4}\b"
    r"|\b\d{1,4}(?: ?bis| ?ter)?,? (?:rue|avenue|boulevard|bd|place|chemin|impasse|allée|quai|cours) "
    r"(?:(?:de la|de l'|de|du|des|d')\s?)?[A-ZÉÈ][\w'\-]+"
)
# Words one of which every FOREIGN_STREET match holds (lower case): the cheap gate before its pattern.
FOREIGN_STREET_WORDS = (
    *("straße", "strasse", "weg", "gasse", "platz", "allee", "ring", "damm"),
    *("calle", "avenida", "piazza", "rua", "carrer", "plaza"),
    *("rue", "avenue", "boulevard", "bd", "place", "chemin", "impasse", "allée", "quai", "cours"),
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}|(?:19|20)\d{2}[./-]\d{1,2}[./-]\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTHS},? (?:19|20)\d{{2}}"
    rf"|{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? (?:19|20)\d{{2}})"
)
# A date that is a birth date: right after "DOB", "date of birth", "birth date" or "birthday" and a
# link to it ("DOB 03/04/1990", "date of birth: ...", "my birthday is on the 4th of March 1990",
# "birthday's May 3, 1990"; not "birthday party, hired on 03/04/2021": another date in the sentence),
# or after "born" as a verb: right after it ("born 4 March 1990", "born: 1990-03-04"), or after
# on/in/at and up to four words of a place, not a clause ("born in Leeds on 3 March 1985", "born on
# the 4th of March 1990"; not "born in Ohio and hired on ..."). "born" as an adjective names no birth
# ("a born leader, hired on 2020-01-15", "first-born", "newborn", "born-again", "born and raised in
# ..."). Either word may be followed by an aside that ends by introducing the date: in brackets
# ("born (in Leeds, as it happens) on 3 March 1985", "DOB (day/month/year) for the form: 03/03/1985"),
# between commas ("born, as my passport says, on 3 March 1985"), after a comma up to a colon ("Date of
# birth, written as dd/mm/yyyy: ..."), or whose it is up to a colon ("DOB of the patient: ...").
_BIRTH_WORDS = r"d\.?o\.?b\.?|date of birth|birth ?date|birthday"
_BIRTH_LINK = r"\.?(?:\s*(?:[:=#,\-–]|(?:is|was|on|of|the|falls|fell)\b|['’]s\b))*\s*"  # noqa: RUF001
_BIRTH_ASIDE = (
    r"\s?\((?:[^\n\d.;!?()]{0,60}?(?:\bon|\bis|\bwas|[:=])"
    r"|[^\n\d.;!?()]{0,60}\)\s*(?:(?:on|is|was)\b|[^\n\d.;!?]{0,30}?[:=]))"
    r"|\s?,[^\n\d.;!?]{0,60}?(?:,\s*(?:on|is|was)\b|[:=])"
    r"|\s+(?:of|for)\b[^\n\d.;!?]{0,40}?[:=]"
)
# A word of the place ("Leeds", "St.", "Mary's"); one after a comma is capitalised ("Paris, France";
# not "Ohio, hired on ..."); none is a word that starts a clause. A dot ends a sentence, but after
# the abbreviation of a place's name.
_PLACE_WORD = r"(?:(?:st|ste|mt|ft)\.|[^\s\d,;.:!?]+)"
_NOT_A_PLACE = r"and|but|then|or|so|while|when|where|who|which|after|before|until|since"
DATE_OF_BIRTH = re.compile(
    rf"(?i)(?:\b(?:{_BIRTH_WORDS})\b{_BIRTH_LINK}"
    r"|(?<![\w-])born\b(?:\s*[:=]?\s*"
    rf"|\s+(?:on|in|at)\b(?:\s+(?!(?:{_NOT_A_PLACE})\b){_PLACE_WORD}|,\s*(?-i:[A-Z]){_PLACE_WORD}){{0,4}}?"
    r"\s*[,:]?\s*(?:on\s+)?(?:the\s+)?)"
    rf"|(?:\b(?:{_BIRTH_WORDS})|(?<![\w-])born)\b(?:{_BIRTH_ASIDE})\s*)"
    rf"(?P<date>{_DATE})"
)
# An IBAN in capitals, or in lower or mixed case ("de89 3704 ...", "De89 ..."), where a group after the
# bank code holds a digit (a word after the IBAN is not read as its last group) and the country's
# length must match (iban_ok); its groups apart by spaces or dashes (DE89-3704-...).
IBAN = re.compile(
    r"\b(?:[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?"
    r"|[A-Za-z]{2}\d{2}[ \-]?[A-Za-z0-9]{4}(?:[ \-]?(?=[A-Za-z]*\d)[A-Za-z0-9]{4}){1,6}"
    r"(?:[ \-]?(?=[A-Za-z]*\d)[A-Za-z0-9]{1,4})?)\b"
)


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum (payment card numbers)."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when the text (spaces or dashes allowed, any case) is an IBAN with a valid ISO 13616 mod-97 check."""
    iban = candidate.replace(" ", "").replace("-", "").upper()
    if not 15 <= len(iban) <= 34 or not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", iban):
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


# The IBAN length of each country of the IBAN registry (SWIFT, ISO 13616).
_IBAN_LENGTHS = {
    code: int(length)
    for code, length in re.findall(
        r"([A-Z]{2})(\d\d)",
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 "
        "EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 "
        "JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 "
        "NO15 OM23 PK24 PL28 PS29 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 "
        "TN24 TR26 UA29 VA22 VG24 XK20 YE30",
    )
}


def iban_ok(match: re.Match[str]) -> bool:
    """An IBAN in capitals passes mod-97; one in lower or mixed case, or in dashed groups, must also
    have its country's length.

    Hex digests, UUIDs, licence keys and identifiers of IBAN shape pass mod-97 one time in 97; a
    known country and its exact length leave a real IBAN typed so and almost nothing else.
    """
    candidate = match.group(0)
    if candidate != candidate.upper() or "-" in candidate:
        compact = candidate.replace(" ", "").replace("-", "").upper()
        if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
            return False
    return iban_valid(candidate)


def card_ok(match: re.Match[str]) -> bool:
    """A card number: 13-19 digits, a card network's first digit, Luhn-valid."""
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def phone_ok(match: re.Match[str]) -> bool:
    """A phone number's digit count, and not a dotted quad."""
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # International numbers (+CC, or 00CC as dialled outside North America) carry up to 15
    # digits (E.164) after the prefix; national ones 10 or 11.
    limit = 17 if text.startswith("00") else 15 if text.startswith("+") else 11
    # A national number with its trunk 0 and the area or mobile code in a block of its own
    # carries up to 12 digits (German mobiles: 0151 23456789).
    if re.fullmatch(r"0\d{2,4}[ .\-]\d{5,8}", text):
        limit = 12
    if not 10 <= len(digits) <= limit:
        return False
    # Dotted quads are IP addresses, not phone numbers.
    return not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text)


def passport_ok(match: re.Match[str]) -> bool:
    """A passport number (group ``number``): 5 digits at least (not ``OAUTH2``), not a date (20310501)."""
    number = match.group("number")
    if re.fullmatch(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", number):
        return False
    return sum(char.isdigit() for char in number) >= 5


def medical_record_ok(match: re.Match[str]) -> bool:
    """A medical record number (group ``number``), not a date written after the words (2024-05-01)."""
    return re.fullmatch(r"(?:19|20)\d\d[ \-](?:0[1-9]|1[0-2])[ \-]\d\d", match.group("number")) is None


def ip_ok(match: re.Match[str]) -> bool:
    """A public IP address (not a version number, nor private, loopback, link-local or multicast)."""
    if re.search(r"(?i)(?:version|release|\bv)\s*$", match.string[max(0, match.start() - 12) : match.start()]):
        return False  # "version 1.2.3.4" is a version number
    try:
        ip = ipaddress.ip_address(match.group(0))
    except ValueError:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return False
    # Private networks identify nobody; documentation ranges (also "private" to ipaddress)
    # are what examples and test data use for somebody's address, so they are masked.
    private = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
    return not any(
        ip in ipaddress.ip_network(net) for net in private if ip.version == ipaddress.ip_network(net).version
    )


def nir_ok(match: re.Match[str]) -> bool:
    """True when the NIR's key is 97 minus its first 13 digits mod 97 (Corsica's 2A, 2B count as 19, 18)."""
    body = re.sub(r"[ .\-]", "", match.group("nir")).upper()
    body = body[:5] + body[5:7].replace("2A", "19").replace("2B", "18") + body[7:]
    return int(match.group("key")) == 97 - int(body) % 97
