import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from drift.data.tokenizer import build_char_tokenizer
from drift.rollout.engine import SamplingParams
from drift.rollout.hf_engine import HFEngine

CONVS = [
    [{"role": "user", "content": "5 3 2 4 odd"}],
    [{"role": "user", "content": "1 2"}],
    [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "9 8 7 6 even"},
        {"role": "assistant", "content": "<answer>9</answer>"},
        {"role": "user", "content": "Incorrect. Please think again."},
    ],
    [{"role": "user", "content": "7"}],
]
MAX_NEW = 10


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return build_char_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=128,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        initializer_range=0.5,  # peaked logits: no near-ties for argmax to flip on
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config)


def _manual_greedy(model, tokenizer, conv, prefill: str = "") -> str:  # type: ignore[no-untyped-def]
    """Reference: unpadded argmax loop from the generation prompt + ``prefill``, no generate()."""
    text = tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text + prefill, add_special_tokens=False, return_tensors="pt")["input_ids"]
    new: list[int] = []
    with torch.no_grad():
        for _ in range(MAX_NEW):
            nxt = int(model(input_ids=ids).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tokenizer.decode(new, skip_special_tokens=True)


def test_greedy_batched_equals_unpadded_reference(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    engine = HFEngine(model, tokenizer, batch_size=3)
    greedy = SamplingParams(0.0, 1.0, MAX_NEW, None)
    batched = engine.generate(CONVS, greedy)
    alone = [HFEngine(model, tokenizer, 1).generate([c], greedy)[0] for c in CONVS]
    reference = [_manual_greedy(model, tokenizer, c) for c in CONVS]
    assert batched == alone == reference
    assert any(batched)
    assert all(len(text) <= MAX_NEW for text in batched)  # one character per token


def test_sampling_reproducible_with_seed(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    engine = HFEngine(model, tokenizer, batch_size=2)
    convs = CONVS
    state = torch.random.get_rng_state()
    first = engine.generate(convs, SamplingParams(1.5, 1.0, MAX_NEW, 123))
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert engine.generate(convs, SamplingParams(1.5, 1.0, MAX_NEW, 123)) == first
    assert engine.generate(convs, SamplingParams(1.5, 1.0, MAX_NEW, 124)) != first
    greedy = engine.generate(convs, SamplingParams(0.0, 1.0, MAX_NEW, None))
    assert first != greedy


def test_stops_at_eos_and_restores_mode(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    def force_eos(module, args, output):  # type: ignore[no-untyped-def]
        output = output.clone()
        output[..., tokenizer.eos_token_id] += 1e4
        return output

    handle = model.lm_head.register_forward_hook(force_eos)
    model.train()
    try:
        texts = HFEngine(model, tokenizer, 4).generate(CONVS, SamplingParams(1.0, 1.0, 5, 0))
    finally:
        handle.remove()
    assert texts == ["", "", "", ""]
    assert model.training
    model.eval()


def test_empty_and_missing_pad(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    assert HFEngine(model, tokenizer, 2).generate([], SamplingParams(0.0, 1.0, 4, None)) == []
    no_pad = build_char_tokenizer()
    no_pad.pad_token = None
    with pytest.raises(ValueError, match="pad token"):
        HFEngine(model, no_pad, 2)


def test_a_final_assistant_message_is_continued(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    # a prefill (prompt_format=drift_*): the reply continues "<think>" in the assistant's turn,
    # as an unpadded argmax loop from the generation prompt + "<think>" does
    prefill = {"role": "assistant", "content": "<think>"}
    convs = [[*conv, prefill] for conv in CONVS]
    greedy = SamplingParams(0.0, 1.0, MAX_NEW, None)
    replies = HFEngine(model, tokenizer, batch_size=3).generate([*convs, CONVS[0]], greedy)

    assert replies[:-1] == [_manual_greedy(model, tokenizer, c, "<think>") for c in CONVS]
    assert replies[-1] == _manual_greedy(model, tokenizer, CONVS[0])  # mixed in one call
    assert replies[:-1] != [_manual_greedy(model, tokenizer, c) for c in CONVS]
