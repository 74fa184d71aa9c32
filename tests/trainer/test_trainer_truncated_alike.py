"""Pairs whose users' change lies past ``max_length``: the same tokens on both sides once cut.

TRL keeps the first ``max_length`` tokens of prompt + answer. A long prompt, or a long start the
answers share, pushes the users' change past the cut: DPO then sees two identical sequences and
learns no preference, while the card would count the pair as trained on.
"""

from __future__ import annotations

from pathlib import Path

from flywheel.trainer.candidate import differ_within_length
from flywheel.trainer.conversation import Formatting, encode_pair
from flywheel.trainer.models import load_tokenizer
from tests.support.synthetic import build_tiny_model

SHARED = " ".join(f"step {n}: read the file and check the result." for n in range(60))


def test_pairs_alike_once_cut_to_max_length_are_left_out(tmp_path: Path) -> None:
    for chat in (False, True):
        tokenizer = load_tokenizer(str(build_tiny_model(tmp_path / f"tiny-{chat}", chat=chat)))
        formatting = Formatting.for_tokenizer(tokenizer)
        early = {"prompt": "How do I copy a file?", "chosen": "Use shutil.copy.", "rejected": "Use os.copy."}
        late = {"prompt": "List the steps.", "chosen": SHARED + " Then deploy.", "rejected": SHARED + " Then wait."}
        long_prompt = {"prompt": SHARED, "chosen": "Yes.", "rejected": "No."}
        rows = [early, late, long_prompt]
        # The two sides of the late and long-prompt pairs differ in their text, and past 128 tokens.
        for row in (late, long_prompt):
            chosen, rejected = encode_pair(tokenizer, formatting.example(row), None)
            assert chosen[0] != rejected[0] and len(chosen[0]) > 128

        kept, alike = differ_within_length(rows, tokenizer, formatting, max_length=128)
        assert (kept, alike) == ([early], 2), chat
        # Long enough to reach the change, every pair is kept.
        assert differ_within_length(rows, tokenizer, formatting, max_length=4096) == (rows, 0)
