"""Text normalisation and content keys used by deduplication.

Two texts that differ only by whitespace, case or Unicode composition normalise to the
same string, and so give the same content key.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalize_text(text: str) -> str:
    """Unicode NFC, case-folded, runs of whitespace collapsed to one space, stripped.

    Idempotent: ``normalize_text(normalize_text(s)) == normalize_text(s)``.
    """
    # casefold() can produce decomposed sequences, so compose again after it.
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def content_key(prompt: str, chosen: str, rejected: str) -> str:
    """A stable hex key (blake2b-128) of the normalised (prompt, chosen, rejected) triple.

    Each part is length-prefixed so that moving text between fields changes the key.
    """
    digest = hashlib.blake2b(digest_size=16, person=b"flywheel-dedup")
    for part in (prompt, chosen, rejected):
        encoded = normalize_text(part).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()
