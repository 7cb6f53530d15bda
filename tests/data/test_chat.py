"""Assistant loss masks built by prefix diffing, for the char template and a ChatML one."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerBase

from drift.data.chat import EncodedExample, encode_examples, prompt_ids
from drift.data.tokenizer import build_char_tokenizer
from drift.types import Message, TrainExample

CHATML = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nBe brief.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Hides the content of earlier assistant turns (as reasoning templates do with <think>).
REWRITING = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['role'] == 'assistant' and not loop.last %}...{% else %}{{ m['content'] }}{% endif %}"
    "<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

MESSAGES: list[Message] = [
    {"role": "user", "content": "5 3 2 4 odd"},
    {"role": "assistant", "content": "<answer>5</answer>"},
    {"role": "user", "content": "Incorrect. Please think again."},
    {"role": "assistant", "content": "<answer>3</answer>"},
]


def encode_example(tok, example: TrainExample, max_length: int) -> EncodedExample:
    return encode_examples(tok, [example], max_length)[0]


def _chatml_tokenizer() -> PreTrainedTokenizerBase:
    tok = build_char_tokenizer()
    tok.add_tokens(["<|im_start|>", "<|im_end|>"], special_tokens=True)
    tok.eos_token = "<|im_end|>"
    tok.chat_template = CHATML
    return tok


def _spans(mask: list[int]) -> list[tuple[int, int]]:
    """Maximal runs of ones as (start, stop)."""
    spans, start = [], None
    for i, bit in enumerate([*mask, 0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            spans.append((start, i))
            start = None
    return spans


def _decoded_spans(tok: PreTrainedTokenizerBase, ids: list[int], mask: list[int]) -> list[str]:
    return [tok.decode(ids[a:b]) for a, b in _spans(mask)]


@pytest.mark.parametrize("make", [build_char_tokenizer, _chatml_tokenizer])
def test_final_turn_mask(make) -> None:
    tok = make()
    enc = encode_example(tok, TrainExample("a", MESSAGES, weight=0.25), max_length=512)
    assert enc.id == "a" and enc.weight == 0.25
    assert len(enc.loss_mask) == len(enc.input_ids)
    assert _decoded_spans(tok, enc.input_ids, enc.loss_mask) == [
        f"<answer>3</answer>{tok.eos_token}"
    ]
    whole = tok.apply_chat_template(MESSAGES, tokenize=False)
    assert tok.decode(enc.input_ids) == whole


@pytest.mark.parametrize("make", [build_char_tokenizer, _chatml_tokenizer])
def test_all_turns_mask(make) -> None:
    tok = make()
    enc = encode_example(tok, TrainExample("a", MESSAGES, loss_turns="all"), max_length=512)
    assert _decoded_spans(tok, enc.input_ids, enc.loss_mask) == [
        f"<answer>5</answer>{tok.eos_token}",
        f"<answer>3</answer>{tok.eos_token}",
    ]
    # each span starts right where the generation prompt for that turn ends
    starts = [a for a, _ in _spans(enc.loss_mask)]
    assert starts == [len(prompt_ids(tok, MESSAGES[:1])), len(prompt_ids(tok, MESSAGES[:3]))]


def test_char_mask_exact_positions() -> None:
    tok = build_char_tokenizer()
    enc = encode_example(tok, TrainExample("a", MESSAGES[:2]), max_length=512)
    prompt_len = (
        1 + len("5 3 2 4 odd") + 1 + 1
    )  # <|user|>, one token per char, <|end|>, <|assistant|>
    assert enc.loss_mask == [0] * prompt_len + [1] * (len("<answer>5</answer>") + 1)
    assert enc.input_ids[-1] == tok.eos_token_id


def test_prompt_ids_is_generation_prompt() -> None:
    tok = build_char_tokenizer()
    ids = prompt_ids(tok, MESSAGES[:1])
    assert tok.decode(ids) == "<|user|>5 3 2 4 odd<|end|><|assistant|>"
    enc = encode_example(tok, TrainExample("a", MESSAGES[:2]), max_length=512)
    assert enc.input_ids[: len(ids)] == ids


def test_batch_matches_single_and_truncates() -> None:
    tok = build_char_tokenizer()
    examples = [TrainExample("a", MESSAGES), TrainExample("b", MESSAGES[:2], weight=2.0)]
    batch = encode_examples(tok, examples, max_length=512)
    assert batch == [encode_example(tok, ex, 512) for ex in examples]
    cut = encode_examples(tok, examples, max_length=20)
    assert [len(e.input_ids) for e in cut] == [20, 20]
    assert [e.loss_mask for e in cut] == [b.loss_mask[:20] for b in batch]


def test_rewriting_template_is_refused() -> None:
    tok = build_char_tokenizer()
    tok.chat_template = REWRITING
    with pytest.raises(ValueError, match="not a token-prefix"):
        encode_example(tok, TrainExample("a", MESSAGES, loss_turns="all"), max_length=512)


def test_no_assistant_message() -> None:
    with pytest.raises(ValueError, match="no assistant message"):
        encode_example(build_char_tokenizer(), TrainExample("a", MESSAGES[:1]), max_length=512)
