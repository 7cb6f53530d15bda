"""A character-level tokenizer with a chat template, for the tiny model and the embedded task.

Every printable ASCII character (and newline) is one token; anything else maps to ``<unk>``.
Chat turns render as ``<|role|>content<|end|>``; a generation prompt appends ``<|assistant|>``.
The decoder is ``Fuse`` so decoding joins characters without spaces (vLLM uses it too).
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD = "<pad>"
UNK = "<unk>"
END = "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, UNK, END, *ROLE_TOKENS)
CHARACTERS = string.digits + string.ascii_lowercase + string.ascii_uppercase + " \n"
CHARACTERS += string.punctuation

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    """The character-level tokenizer: pad ``<pad>``, eos ``<|end|>``, role markers, chat template.

    ``len(tokenizer)`` is the vocabulary size to build a model with (6 special tokens + 96
    characters). It round-trips through ``save_pretrained``/``AutoTokenizer.from_pretrained``.
    """
    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *CHARACTERS))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=END,
        extra_special_tokens=list(ROLE_TOKENS),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
