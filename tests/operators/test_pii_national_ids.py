"""National identity and tax numbers of many countries (operators/pii_national_ids.py), checked by python-stdnum.

Every number here is made up: a round or documented body (stdnum's own examples where it has them)
completed with the check digits stdnum accepts (:func:`_complete`), never a real person's number.
A distinctive shape passes on its check digits alone; a plain run of digits only after a word that
names it. Wrong check digits, and look-alikes (order, tracking and invoice numbers, timestamps,
ISBNs, SHAs, UUIDs, versions, cards, phone numbers) stay as written. The product scan and its
reference (``benchmarks/pii_reference.py``) agree on every text.
"""

# ruff: noqa: RUF001 - Turkish dotless i, Chinese full-width punctuation
from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from stdnum.ar import cuit
from stdnum.be import nn
from stdnum.br import cnpj, cpf
from stdnum.cl import rut
from stdnum.cn import ric
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.mx import curp
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.tr import tckimlik
from stdnum.za import idnr as za_idnr

from flywheel.benchmarks.pii_reference import reference_scan
from flywheel.operators.config import PolicySettings
from flywheel.operators.pii import scan
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.rows import rejection_row, scrub_event
from flywheel.schemas.events import Signal
from flywheel.schemas.records import SourceCoordinates, SourcedEvent
from tests.support.curation_events import make_event

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _complete(is_valid: Callable[[str], bool], body: str, alphabet: str = DIGITS, width: int = 1) -> str:
    """The body with the one suffix of ``width`` characters that stdnum finds valid."""
    found = [body + "".join(s) for s in itertools.product(alphabet, repeat=width) if is_valid(body + "".join(s))]
    assert len(found) == 1, (body, found)
    return found[0]


CF = _complete(codicefiscale.is_valid, "RSSMRA85T10A562", LETTERS)  # RSSMRA85T10A562S
CF2 = _complete(codicefiscale.is_valid, "VRDLCU90A41H501", LETTERS)
CURP = _complete(curp.is_valid, "BOXW310820HNERXN0")  # stdnum's example, BOXW310820HNERXN09
CURP2 = _complete(curp.is_valid, "GARC850615MDFRRN0")
NIE = _complete(nie.is_valid, "X1234567", "TRWAGMYFPDXBNJZSQVHLCKE")  # X1234567L
DNI = _complete(dni.is_valid, "12345678", "TRWAGMYFPDXBNJZSQVHLCKE")  # 12345678Z
RIC = _complete(ric.is_valid, "11010519491231002", DIGITS + "X")
RIC2 = _complete(ric.is_valid, "44030419900307123", DIGITS + "X")
CPF = _complete(cpf.is_valid, "123456789", width=2)  # 12345678909
CNPJ = _complete(cnpj.is_valid, "112223330001", width=2)  # 11222333000181
RRN = _complete(rrn.is_valid, "900101123456")
AADHAAR = _complete(aadhaar.is_valid, "49182736451")
AADHAAR2 = _complete(aadhaar.is_valid, "23456789012")
PESEL = _complete(pesel.is_valid, "9012310123")
PESEL2 = _complete(pesel.is_valid, "8503150456")
TCKN = _complete(tckimlik.is_valid, "123456780", width=2)
TCKN2 = _complete(tckimlik.is_valid, "501234567", width=2)
BSN = _complete(bsn.is_valid, "12345678")  # 123456782
BSN2 = _complete(bsn.is_valid, "31415926")
PNR = _complete(personnummer.is_valid, "811218-987")
PNR12 = _complete(personnummer.is_valid, "19850615-246")
FNR = _complete(fodselsnummer.is_valid, "150385123", width=2)
HETU = _complete(hetu.is_valid, "131052-308", "0123456789ABCDEFHJKLMNPRSTUVWXY")  # stdnum's 131052-308T
HETU_2000 = _complete(hetu.is_valid, "150312A345", "0123456789ABCDEFHJKLMNPRSTUVWXY")
HETU_DIGIT = _complete(hetu.is_valid, "230390-456", "0123456789ABCDEFHJKLMNPRSTUVWXY")
IDNR = _complete(idnr.is_valid, "8609574271")
IDNR2 = _complete(idnr.is_valid, "4715928361")
NIF = _complete(nif.is_valid, "12345678")  # 123456789
NN = _complete(nn.is_valid, "850730033", width=2)  # stdnum's example, 85073003328
RUT = _complete(rut.is_valid, "12345678", DIGITS + "K")
RUT7 = _complete(rut.is_valid, "7654321", DIGITS + "K")
CUIT = _complete(cuit.is_valid, "2012345678")
ZA = _complete(za_idnr.is_valid, "750330504408")  # stdnum's example, 7503305044089
ZA2 = _complete(za_idnr.is_valid, "920215012308")
CPR = "211062-5629"  # stdnum's example; a Danish CPR has had no check digit since 2007


def _dotted(number: str, *sizes: int, seps: str) -> str:
    """``number`` cut into groups of ``sizes`` joined by the separators in ``seps``, in order."""
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start : start + size])
        start += size
    return parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=True))


ALONE = [
    # shapes that pass on their check digits alone, in the country's language and in English
    f"Il mio codice fiscale è {CF}, grazie.",
    f"Her fiscal code {CF2} is on the form.",
    f"Mi CURP es {CURP} y mi RFC lo tengo aparte.",
    f"CURP: {CURP2}",
    f"Mi número de extranjero {NIE} caduca en mayo.",
    f"Her Spanish foreigner number is {NIE[0]}-{NIE[1:8]}-{NIE[8]}.",
    "Form bharte waqt: mera PAN ABCPK4821L hai.",
    "My PAN ABCPK4821L is on the card.",
    f"身份证号码：{RIC}，请核对。",
    f"Passenger id card {RIC2} (China).",
    f"身份证 {RIC[:6]} {RIC[6:14]} {RIC[14:]}",
    f"Meu documento é {_dotted(CPF, 3, 3, 3, 2, seps='..-')}, pode conferir.",
    f"Tax number {_dotted(CPF, 3, 3, 3, 2, seps='..-')} (Brazil).",
    f"A empresa {_dotted(CNPJ, 2, 3, 3, 4, 2, seps='../-')} emitiu a nota.",
    f"직원 번호는 {RRN[:6]}-{RRN[6:]}이고 부서는 영업입니다.",
    f"Her number is {RRN[:6]}-{RRN[6:]}.",
    "Form bharte waqt kaam aayega: mera Aadhaar 7381 9264 0517 hai.",
    f"Number on the card: {_dotted(AADHAAR, 4, 4, 4, seps='  ')}",
    f"UID {_dotted(AADHAAR2, 4, 4, 4, seps='--')} linked.",
    f"Hänen tunnuksensa on {HETU}.",
    f"Child born 2012: {HETU_2000}.",
    f"Numéro de registre : {_dotted(NN, 2, 2, 2, 3, 2, seps='..-.')}.",
    f"Mi RUT es {_dotted(RUT, 2, 3, 3, 1, seps='..-')}.",
    f"Chilean tax id {_dotted(RUT7, 1, 3, 3, 1, seps='..-')} on the invoice.",
    f"Mi CUIT es {_dotted(CUIT, 2, 8, 1, seps='--')}.",
]

AFTER_WORD = [
    # a plain run of digits (or another common writing) right after a word that names it
    f"Do reklamacji podałem PESEL {PESEL} i numer zamówienia 55120.",
    f"Mój numer PESEL: {PESEL2}.",
    f"Polish PESEL {PESEL} on file.",
    f"Müşterinin T.C. kimlik numarası {TCKN}, iade formuna yazın.",
    f"TC Kimlik No: {TCKN2}",
    f"T.C. KİMLİK NO: {TCKN2}",
    f"Turkish id (TCKN) {TCKN}.",
    f"주민등록번호는 {RRN}입니다.",
    f"Resident registration number: {RRN}",
    f"Aadhaar number {AADHAAR}",
    f"O CPF do cliente é {CPF}.",
    f"CNPJ {CNPJ}",
    f"Mijn BSN is {BSN}.",
    f"burgerservicenummer: {_dotted(BSN2, 4, 2, 3, seps='..')}",
    f"His BSN {_dotted(BSN, 3, 3, 3, seps='..')} is wrong in the letter.",
    f"DNI {DNI}",
    f"con NIF {DNI[:8]}-{DNI[8]} y domicilio en Madrid",
    f"Mitt personnummer är {PNR}.",
    f"Personnummer: {PNR12}",
    f"Swedish personnummer {PNR.replace('-', '')}",
    f"CPR-nr.: {CPR}",
    f"Mit CPR-nummer er {CPR.replace('-', '')}.",
    f"Fødselsnummer: {FNR}",
    f"Norwegian fødselsnummer {FNR[:6]} {FNR[6:]}",
    f"Henkilötunnus {HETU_DIGIT}",
    f"Meine Steuer-ID lautet {_dotted(IDNR, 2, 3, 3, 3, seps='   ')}.",
    f"Steueridentifikationsnummer: {IDNR2}",
    f"German tax ID {IDNR}.",
    f"O meu NIF é {_dotted(NIF, 3, 3, 3, seps='  ')}.",
    f"Número de contribuinte {NIF}",
    f"Rijksregisternummer {NN}",
    f"numéro national {NN}",
    f"RUT {RUT[:-1]}-{RUT[-1]}",
    f"CUIT {CUIT}",
    f"National ID {PESEL}",
    f"South African ID {ZA}",
    f"My ID number is {ZA2[:6]} {ZA2[6:10]} {ZA2[10:]}.",
    f"Identity number: {ZA2}",
    "PAN: AAACB1234F (the company's)",
]


@pytest.mark.parametrize("text", ALONE + AFTER_WORD)
def test_a_valid_number_is_masked(text: str) -> None:
    scrubbed, counts = scan(text)
    assert counts == {"national_id": 1}, (text, scrubbed)
    assert reference_scan(text) == (scrubbed, counts), text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            f"Il codice fiscale {CF} e il CPF {CPF} sono validi.",
            "Il codice fiscale [NATIONAL_ID] e il CPF [NATIONAL_ID] sono validi.",
        ),
        (f"PESEL: {PESEL}, zamówienie nr 55120.", "PESEL: [NATIONAL_ID], zamówienie nr 55120."),
        (f"주민등록번호는 {RRN[:6]}-{RRN[6:]}이고 부서는 영업", "주민등록번호는 [NATIONAL_ID]이고 부서는 영업"),
    ],
)
def test_only_the_number_is_masked(text: str, scrubbed: str) -> None:
    assert scan(text)[0] == scrubbed, scan(text)
    assert reference_scan(text) == scan(text), text


def _wrong(number: str) -> str:
    """The number with its last character changed (a digit for a digit, a letter for a letter)."""
    last = number[-1]
    other = str((int(last) + 1) % 10) if last.isdigit() else ("A" if last != "A" else "B")
    return number[:-1] + other


WRONG_CHECK = [
    f"codice fiscale {_wrong(CF)}",
    f"CURP {_wrong(CURP)}",
    f"NIE {_wrong(NIE)}",
    f"身份证 {_wrong(RIC)}",
    f"CPF {_dotted(_wrong(CPF), 3, 3, 3, 2, seps='..-')}",
    f"CNPJ {_dotted(_wrong(CNPJ), 2, 3, 3, 4, 2, seps='../-')}",
    f"주민등록번호 {RRN[:6]}-{_wrong(RRN)[6:]}",
    f"Aadhaar {_dotted(_wrong(AADHAAR), 4, 4, 4, seps='  ')}",
    f"PESEL {_wrong(PESEL)}",
    f"T.C. kimlik no {_wrong(TCKN)}",
    f"BSN {_wrong(BSN)}",
    f"DNI {_wrong(DNI)}",
    f"personnummer {_wrong(PNR)}",
    f"fødselsnummer {_wrong(FNR)}",
    f"henkilötunnus {_wrong(HETU)}",
    f"Steuer-ID {_wrong(IDNR)}",
    f"NIF {_wrong(NIF)}",
    f"numéro national {_dotted(_wrong(NN), 2, 2, 2, 3, 2, seps='..-.')}",
    f"RUT {_dotted(_wrong(RUT), 2, 3, 3, 1, seps='..-')}",
    f"CUIT {_dotted(_wrong(CUIT), 2, 8, 1, seps='--')}",
    f"SA ID {_wrong(ZA)}",
]


@pytest.mark.parametrize("text", WRONG_CHECK)
def test_a_wrong_check_digit_is_kept(text: str) -> None:
    assert "national_id" not in scan(text)[1], scan(text)
    assert reference_scan(text) == scan(text), text


LOOK_ALIKES = [
    # valid check digits, but a plain run of digits with no word naming it: ids of other things
    f"the job id {PESEL} failed twice",  # a valid PESEL
    f'resourceVersion: "{TCKN}"',  # a valid T.C. kimlik number
    f"order {CPF} shipped yesterday",  # a valid CPF, solid
    f"invoice {CNPJ} is overdue",  # a valid CNPJ, solid
    f"row {BSN} of the export",  # a valid BSN
    f"FedEx tracking {AADHAAR}",  # a valid Aadhaar, solid
    f"build {IDNR} passed",  # a valid German tax id
    f"blob size {NIF} bytes",  # a valid Portuguese NIF
    f"trace {ZA} in the log",  # a valid South African id, no word naming it
    f"ticket ID number {PESEL}",  # "ID number" names only the South African id (13 digits)
    # ids of things, timestamps and codes
    "Order #123-4567890-1234567 shipped",
    "Tracking number 1Z999AA10123456784",
    "created_at 1700000000 and expires 1700003600",
    "epoch millis 1700000000123",
    "ISBN 978-3-16-148410-0 and 9783161484100",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "request 123e4567-e89b-12d3-a456-426614174000 timed out",
    "listen on port 8080 and 8443",
    "upgrade to v2.11.3-1 or 10.2.3-45",
    "Invoice INV-2024-000123 and PO 4500012345",
    "kubectl get pods: generation 12, resourceVersion 987654321",
    "revenue in 2019 2020 2021 grew",
    "serial 7381 9264 0517 2024 on the box",  # a valid Aadhaar number's groups, then one more
    "the national ID format has 11 digits",
    "CPR training: 30 compressions, 2 breaths",
    "a frying pan and 4 eggs",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_stay(text: str) -> None:
    # Left to the other detectors: a bare 11-digit number may read as a US phone number to phonenumbers.
    assert "national_id" not in scan(text)[1], scan(text)
    assert reference_scan(text) == scan(text), text


@pytest.mark.parametrize(
    "text",
    [
        # letters Python's case-insensitive matching reads as ASCII ones that str.lower() does not
        # make so (the word detectors find their words in the lower-cased text): as the reference
        f"T.C. KİMLİK NO {TCKN} ve kımlık {TCKN2}",
        f"\u212aIMLIK {TCKN}, PEſEL {PESEL}",
        f"İstanbul: PESEL {PESEL}",
        # a valid number in another script's sentence without its word
        f"직원 번호 {RRN}, 주문 {PESEL}",
        f"订单号 {RIC[:17]}0 已发货",
    ],
)
def test_the_word_detectors_match_the_reference_on_any_letters(text: str) -> None:
    assert scan(text) == reference_scan(text), (scan(text), reference_scan(text))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card 4111 1111 1111 1111", "payment_card"),
        ("card 5555-5555-5555-4444 expires 12/27", "payment_card"),
        # its first twelve digits are a valid Aadhaar number: three groups of a card are not one
        ("card 4000 0000 1009 1231", "payment_card"),
        ("card 4000-0000-1009-1231", "payment_card"),
        ("call +55 11 91234-5678", "phone"),
        ("call +91 98765 43210", "phone"),
        ("zadzwoń +48 512 345 678", "phone"),
        ("ring +46 70 123 45 67", "phone"),
    ],
)
def test_cards_and_phones_stay_with_their_detectors(text: str, kind: str) -> None:
    assert scan(text)[1] == {kind: 1}, scan(text)
    assert reference_scan(text) == scan(text), text


ENGINE = PolicyEngine.from_file(PolicySettings().path())
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("number", [f"PESEL {PESEL}", f"CPF {_dotted(CPF, 3, 3, 3, 2, seps='..-')}", CF])
def test_a_pair_whose_chosen_text_adds_a_national_id_is_dropped_and_nothing_keeps_it(number: str) -> None:
    raw = number.split()[-1]
    answer = "To file the return, attach the receipt and sign page 2."
    chosen = f"To file the return, attach the receipt, sign page 2 and write my number: {number}."
    verdict = ENGINE.evaluate("How do I file my tax return?", chosen, answer)
    assert verdict.drop is not None and verdict.drop.reason == "pii:national_id", verdict.drop
    assert raw not in verdict.chosen and "[NATIONAL_ID]" in verdict.chosen
    event = make_event(Signal.EDIT, response=answer, final_user_edit=chosen)
    texts: dict[str, str | None] = {"prompt": event.prompt, "chosen": chosen, "rejected": answer}
    row = rejection_row(SourcedEvent(SourceCoordinates("interactions", 0, 1, 0), event), verdict.drop, "p", texts, NOW)
    stored = " ".join(str(value) for value in row.values.values())
    assert raw not in stored and "[NATIONAL_ID]" in stored
    assert raw not in str(scrub_event(event))  # the review message
