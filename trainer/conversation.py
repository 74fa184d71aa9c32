"""One formatting for training, scoring and generation: the chat template for chat models, plain text otherwise.

TRL's ``DPOTrainer`` tokenizes a conversational example (``prompt`` a list of messages ending with
the user's turn, ``chosen``/``rejected`` one assistant message each) with the tokenizer's chat
template, and a plain example as ``prompt + completion + eos``. :func:`encode_completion` repeats
exactly those steps (same calls, same prefix rule, same ``keep_start`` truncation), so evaluation
scores the token sequences training saw; :func:`generation_prompt_ids` is the prompt TRL trains
on, which is also what a server applying the chat template sends.

Earlier turns of a conversation come from the event's ``metadata["conversation"]`` (a list of
``{"role", "content"}`` messages before the prompt, ``schemas/conversation.py``), which the flow
stores scrubbed in ``dpo_pairs.metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flywheel.schemas.conversation import Message

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Prompt = str | list[Message]


def uses_chat(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the model is a chat model: its tokenizer carries a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


@dataclass(frozen=True)
class Formatting:
    """How rows become model input: ``chat`` uses the tokenizer's template, else plain text."""

    chat: bool

    @classmethod
    def for_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> Formatting:
        """Chat formatting when the tokenizer has a chat template."""
        return cls(chat=uses_chat(tokenizer))

    def prompt(self, text: str, turns: Sequence[Message] = ()) -> Prompt:
        """The prompt: earlier turns then the user's message (chat), or the turns' text then the prompt (plain)."""
        if self.chat:
            return [*turns, {"role": "user", "content": text}]
        return "\n\n".join([*(turn["content"] for turn in turns), text])

    def completion(self, text: str) -> str | list[Message]:
        """An answer: one assistant message (chat) or the text itself (plain; TRL appends eos)."""
        return [{"role": "assistant", "content": text}] if self.chat else text

    def example(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A TRL DPO example (``prompt``, ``chosen``, ``rejected``) from a pair row with optional ``turns``."""
        prompt = self.prompt(row["prompt"], row.get("turns") or ())
        chosen, rejected = self.completion(row["chosen"]), self.completion(row["rejected"])
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _tokenize(tokenizer: PreTrainedTokenizerBase, value: Prompt, **template: Any) -> list[int]:
    # As trl.data_utils._tokenize: the chat template for messages, __call__ for text.
    if isinstance(value, list):
        encoded: Any = tokenizer.apply_chat_template(value, tokenize=True, return_dict=True, tools=None, **template)
    else:
        encoded = tokenizer(text=value)
    return list(encoded["input_ids"])


def encode_pair(
    tokenizer: PreTrainedTokenizerBase, example: Mapping[str, Any], max_length: int | None
) -> tuple[tuple[list[int], int], tuple[list[int], int]]:
    """((ids, prompt tokens) of prompt + chosen, same for rejected), tokenized as TRL's DPOTrainer does."""
    from trl.data_utils import common_prefix_length

    prompt = example["prompt"]
    if isinstance(prompt, list):
        prompt_ids = _tokenize(tokenizer, prompt, add_generation_prompt=True)
        full = [_tokenize(tokenizer, prompt + example[side]) for side in ("chosen", "rejected")]
    else:
        eos = tokenizer.eos_token or ""
        texts = [text if text.endswith(eos) else text + eos for text in (example["chosen"], example["rejected"])]
        prompt_ids = _tokenize(tokenizer, prompt)
        full = [_tokenize(tokenizer, prompt + text) for text in texts]
    # The completion starts where the prompt alone and prompt + completion diverge (TRL's rule).
    prompt_length = min(common_prefix_length(prompt_ids, ids) for ids in full)
    if max_length is not None:  # TRL's default truncation_mode="keep_start"
        full = [ids[:max_length] for ids in full]
    chosen, rejected = ((ids, min(prompt_length, len(ids))) for ids in full)
    return chosen, rejected


def encode_completion(
    tokenizer: PreTrainedTokenizerBase, prompt: Prompt, completion: str | list[Message], max_length: int | None
) -> tuple[list[int], int]:
    """(token ids of prompt + completion, how many of them are prompt), as :func:`encode_pair` does."""
    chosen, _ = encode_pair(tokenizer, {"prompt": prompt, "chosen": completion, "rejected": completion}, max_length)
    return chosen


def generation_prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: Prompt, max_prompt_length: int) -> list[int]:
    """The ids a model answers from: the prompt with the assistant's turn opened (chat), its last tokens kept."""
    if isinstance(prompt, list):
        ids = _tokenize(tokenizer, prompt, add_generation_prompt=True)
    else:
        ids = _tokenize(tokenizer, prompt)
    return ids[-max_prompt_length:]
