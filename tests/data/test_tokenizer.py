"""The character tokenizer: round trips, special tokens, chat template, save/load offline."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from drift.data.tokenizer import CHARACTERS, build_char_tokenizer

TEXT = "5 3 2 4 odd <answer>3</answer> Incorrect. Please think again.\n<think>x+y=7?</think>"


def test_round_trips_every_character() -> None:
    tok = build_char_tokenizer()
    for text in (TEXT, CHARACTERS):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(text)  # one token per character
        assert tok.decode(ids) == text  # Fuse decoder: no spaces inserted
    assert tok.unk_token_id not in tok(CHARACTERS, add_special_tokens=False)["input_ids"]


def test_special_tokens() -> None:
    tok = build_char_tokenizer()
    assert tok.eos_token == "<|end|>"
    assert tok.eos_token_id == tok.convert_tokens_to_ids("<|end|>")
    assert tok.pad_token == "<pad>"
    assert tok.pad_token_id != tok.eos_token_id
    assert len(tok) == 6 + len(CHARACTERS) == 102
    ids = tok("é<|user|>a<|end|>", add_special_tokens=False)["input_ids"]
    assert ids == [
        tok.unk_token_id,
        tok.convert_tokens_to_ids("<|user|>"),
        tok.convert_tokens_to_ids("a"),
        tok.eos_token_id,
    ]
    assert tok.decode(ids, skip_special_tokens=True) == "a"


def test_chat_template() -> None:
    tok = build_char_tokenizer()
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "5 3 odd"},
        {"role": "assistant", "content": "<answer>3</answer>"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == "<|system|>s<|end|><|user|>5 3 odd<|end|><|assistant|><answer>3</answer><|end|>"
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|system|>s<|end|><|user|>5 3 odd<|end|><|assistant|>"


def test_save_and_load_offline(tmp_path: Path) -> None:
    tok = build_char_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    assert loaded(TEXT, add_special_tokens=False)["input_ids"] == ids
    assert loaded.decode(ids) == TEXT
    assert len(loaded) == len(tok)
    assert (loaded.eos_token_id, loaded.pad_token_id) == (tok.eos_token_id, tok.pad_token_id)
    messages = [{"role": "user", "content": "1 2 even"}]
    assert loaded.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    ) == tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
