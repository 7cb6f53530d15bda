"""Flat token arrays for encoded examples: round trips, files, chunked encoding."""

from __future__ import annotations

import numpy as np
import pytest

import drift.data.token_store as token_store
from drift.data.chat import EncodedExample, encode_examples
from drift.data.token_store import IDS_FILE, MASK_FILE, TokenStore, TokenWriter, encode_to_store
from drift.data.tokenizer import build_char_tokenizer
from drift.types import TrainExample


def _encoded(n: int) -> list[EncodedExample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        length = int(rng.integers(0, 9))  # an empty example too
        ids = rng.integers(0, 50_000, length).tolist()
        mask = rng.integers(0, 2, length).tolist()
        out.append(EncodedExample(f"ex-{i}", ids, mask, float(rng.uniform(0, 3))))
    return out


def _train_examples(n: int) -> list[TrainExample]:
    out = []
    for i in range(n):
        reply = "<think>odd</think><answer>3</answer>" * (i % 3)
        messages = [
            {"role": "user", "content": f"{i} 3 2 odd"},
            {"role": "assistant", "content": "<think><answer>2</answer>"},
            {"role": "user", "content": "Incorrect."},
            {"role": "assistant", "content": "<think>" + reply},
        ]
        prefill = "<think>" if i % 2 else ""  # prefilled and plain examples in one chunk
        out.append(TrainExample(f"ex-{i}", messages, 0.5 * i, "all", prefill))
    return out


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_store_gives_back_the_examples_it_was_given(tmp_path, on_disk):
    examples = _encoded(23)
    writer = TokenWriter(tmp_path / "tokens" if on_disk else None)
    for start in range(0, 23, 5):  # chunk boundaries must not show
        writer.add(examples[start : start + 5])
    store = writer.finish()
    assert list(store) == examples and len(store) == 23
    assert store[-1] == examples[-1] and store[3:9] == examples[3:9]
    assert store.lengths.tolist() == [len(e.input_ids) for e in examples]
    assert store.weights.tolist() == [e.weight for e in examples]
    assert store.input_ids.dtype == np.int32 and store.loss_mask.dtype == np.uint8
    assert isinstance(store.input_ids, np.memmap) == on_disk
    assert all(type(t) is int for t in store[0].input_ids + store[0].loss_mask)
    with pytest.raises(IndexError):
        store[23]
    if on_disk:
        tokens = sum(len(e.input_ids) for e in examples)
        assert (tmp_path / "tokens" / IDS_FILE).stat().st_size == 4 * tokens
        assert (tmp_path / "tokens" / MASK_FILE).stat().st_size == tokens


def test_an_empty_store(tmp_path):
    for store in (TokenStore.from_examples([]), TokenWriter(tmp_path).finish()):
        assert len(store) == 0 and list(store) == [] and store.lengths.shape == (0,)


def test_bad_examples_and_arrays_are_refused():
    with pytest.raises(ValueError, match="example bad: 3 tokens but 2 mask"):
        TokenWriter().add([EncodedExample("bad", [1, 2, 3], [0, 1], 1.0)])
    with pytest.raises(ValueError, match="int32"):
        TokenWriter().add([EncodedExample("big", [2**31], [1], 1.0)])
    ids, mask = np.zeros(4, np.int32), np.zeros(4, np.uint8)
    with pytest.raises(ValueError, match="offsets"):
        TokenStore(ids, mask, np.array([0, 3]), np.ones(1), ["a"])
    with pytest.raises(ValueError, match="offsets"):
        TokenStore(ids, mask, np.array([0, 3, 4]), np.ones(1), ["a"])
    with pytest.raises(ValueError, match="mask"):
        TokenStore(ids, mask[:3], np.array([0, 4]), np.ones(1), ["a"])


def test_chunked_encoding_equals_encoding_all_at_once(tmp_path, monkeypatch):
    tok = build_char_tokenizer()
    examples = _train_examples(11)
    calls: list[int] = []

    def spy(tokenizer, chunk, max_length, truncation):
        calls.append(len(chunk))
        return encode_examples(tokenizer, chunk, max_length, truncation)

    monkeypatch.setattr(token_store, "encode_examples", spy)
    store = encode_to_store(tok, iter(examples), 60, tmp_path, chunk_size=4)
    assert calls == [4, 4, 3]  # never the whole set tokenised at once
    assert list(store) == encode_examples(tok, examples, 60)
    with pytest.raises(ValueError, match="chunk_size"):
        encode_to_store(tok, examples, 60, chunk_size=0)
