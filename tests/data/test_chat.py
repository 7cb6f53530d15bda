"""Assistant loss masks built by prefix diffing, for the char template and a ChatML one."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from drift.data.chat import EncodedExample, encode_examples, prompt_ids
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import Truncation
from drift.rollout.engine import render_prompts
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


# --- prefilled assistant turns (prompt_format=drift_*; issue 18) ------------------------------

PREFILLED: list[Message] = [
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "<think>add</think><answer>6</answer>"},
    {"role": "user", "content": "Incorrect. Please think again."},
    {"role": "assistant", "content": "<think>again</think><answer>5</answer>"},
]


def _merging_tokenizer() -> PreTrainedTokenizerBase:
    """Characters, plus one BPE merge across the prefill's edge: ``>a`` is one token, as a
    byte-level BPE merges ``>`` with the letters after it."""
    from tokenizers import Tokenizer, decoders, models

    from drift.data.tokenizer import CHARACTERS, SPECIAL_TOKENS

    vocab = {t: i for i, t in enumerate((*SPECIAL_TOKENS, *CHARACTERS, ">a"))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[(">", "a")], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", eos_token="<|end|>"
    )
    tok.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[3:])})
    tok.chat_template = build_char_tokenizer().chat_template
    return tok


def _generation_prompt_ids(tok: PreTrainedTokenizerBase, before: list[Message]) -> list[int]:
    """The tokens the engine sends for the turn after ``before``: the conversation with an
    assistant message holding the prefill, continued (drift.rollout.engine.render_prompts)."""
    text = render_prompts(tok, [[*before, {"role": "assistant", "content": "<think>"}]])[0]
    return tok(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("make", [build_char_tokenizer, _chatml_tokenizer, _merging_tokenizer])
@pytest.mark.parametrize("loss_turns", ["final", "all"])
def test_prefill_is_prompt_and_the_reply_is_trained(make, loss_turns) -> None:
    tok = make()
    example = TrainExample("a", PREFILLED, loss_turns=loss_turns, prefill="<think>")
    enc = encode_example(tok, example, max_length=512)
    replies = [
        f"add</think><answer>6</answer>{tok.eos_token}",
        f"again</think><answer>5</answer>{tok.eos_token}",
    ]
    spans = _spans(enc.loss_mask)
    assert _decoded_spans(tok, enc.input_ids, enc.loss_mask) == (
        replies if loss_turns == "all" else replies[1:]
    )
    # the tokens before the first trained reply are exactly the prompt the engine tokenised,
    # prefill included; before a later one (loss_turns=all) the earlier replies keep their own
    # tokens, so only the text is the engine's
    turns = [1, 3] if loss_turns == "all" else [3]
    for k, ((start, _), turn) in enumerate(zip(spans, turns, strict=True)):
        prompt = _generation_prompt_ids(tok, PREFILLED[:turn])
        assert tok.decode(enc.input_ids[:start]) == tok.decode(prompt)
        if k == 0:
            assert enc.input_ids[:start] == prompt
    assert tok.decode(enc.input_ids) == tok.apply_chat_template(PREFILLED, tokenize=False)


def test_merging_tokenizer_merges_across_the_prefill_edge() -> None:
    # what makes the test above bite: tokenised whole, the conversation has no token boundary
    # after the final "<think>" (its reply starts with "a"), so the engine's prompt is not a
    # token prefix of it and no mask from whole-text tokens could start where the reply does
    tok = _merging_tokenizer()
    ids = tok("<think>again", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids)[6] == ">a"
    whole = tok(tok.apply_chat_template(PREFILLED, tokenize=False), add_special_tokens=False)
    prompt = _generation_prompt_ids(tok, PREFILLED[:3])
    assert whole["input_ids"][: len(prompt)] != prompt


def test_prefill_must_start_the_assistant_turn() -> None:
    example = TrainExample("a", MESSAGES, prefill="<think>")
    with pytest.raises(ValueError, match="does not start with the prefill"):
        encode_example(build_char_tokenizer(), example, max_length=512)


def test_left_truncation_keeps_the_final_answer_and_its_loss() -> None:
    tok = build_char_tokenizer()
    example = TrainExample("a", MESSAGES)
    (full,) = encode_examples(tok, [example], max_length=4096)
    budget = len(full.input_ids) - 5  # too long by 5 tokens, cut off the prompt's start
    (right,) = encode_examples(tok, [example], max_length=budget)
    (left,) = encode_examples(tok, [example], max_length=budget, truncation=Truncation.left)
    assert left.input_ids == full.input_ids[5:] and left.loss_mask == full.loss_mask[5:]
    assert sum(left.loss_mask) == sum(full.loss_mask)  # every trained token kept
    assert sum(right.loss_mask) < sum(full.loss_mask)  # the default cuts the final answer
