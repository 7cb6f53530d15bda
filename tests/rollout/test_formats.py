"""Prompt formats against the DRIFT authors' rules (issue 18).

The expected strings are written out here from the rules of the reference code
(2020-qqtcg/DRIFT, ``src/prompting.py``), not produced by drift's renderer: a system message
"You're a helpful assistant. ", the answer-tag instruction, then in ``full`` mode a turn block
("Turn t:", "State:", the actions left, the format line, the length line) and after a wrong
answer "Reward:" with that answer's reward before the next block (whose state is the feedback);
in ``simple`` mode "Problem:" once and after a wrong answer the feedback alone. Each prompt ends
with the chat template's generation prompt followed by ``<think>`` (``<answer>`` without
thinking). A reply is read from the first ``<think>…</think> <answer>…</answer>`` of prefill +
reply, split on ``||``, first part; no block = malformed.
"""

from __future__ import annotations

import pytest
from scripted_engine import ScriptedEngine

from drift.config import EnvConfig, PromptConfig, RewardConfig, TaskConfig
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import AnswerFormat, PromptFormat, Protocol
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams, render_prompts
from drift.rollout.env import Environment
from drift.types import Problem

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
FEEDBACK = "Incorrect. Please think again."
QUESTION = "What is 2 + 3?"
PARAMS = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=16, seed=3)

# The reference's pieces, spelled out.
SYSTEM = "<|im_start|>system\nYou're a helpful assistant. <|im_end|>\n"
INSTRUCTION = (
    "You are solving Math problems. Only give the final answer between <answer> and </answer>."
)
THINK_SHAPE = "<think> [Your thoughts] </think> <answer> [your answer] </answer>"
ANSWER_SHAPE = "<answer> [your answer] </answer>"


def _format_line(shape: str) -> str:
    return f"Always output: {shape} with no extra text. Strictly follow this format."


def _block(turn: int, state: str, left: int, shape: str, words: int = 400) -> str:
    return (
        f"Turn {turn}:\nState:\n{state}\nYou have {left} actions left. {_format_line(shape)} "
        f"Max response length: {words} words (tokens).\n"
    )


def _user(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n"


def _assistant(text: str) -> str:
    return f"<|im_start|>assistant\n{text}<|im_end|>\n"


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    tok = build_char_tokenizer()
    tok.add_tokens(["<|im_start|>", "<|im_end|>"], special_tokens=True)
    tok.eos_token = "<|im_end|>"
    tok.chat_template = CHATML
    return tok


def _problem(answer: str = "5") -> Problem:
    # the task's own prompt carries its instruction; the DRIFT formats use the question alone
    messages = [{"role": "user", "content": f"{QUESTION}\n\nPut the answer in a box."}]
    return Problem(id="p0", messages=messages, answer=answer, meta={"question": QUESTION})


def _env(fmt: PromptFormat, max_turns: int = 5, think: bool = True) -> Environment:
    task = TaskConfig(feedback=FEEDBACK, max_turns=max_turns)
    return Environment.from_config(task, EnvConfig(), fmt, PromptConfig(think=think))


def _play(env: Environment, replies: list[str], problem: Problem | None = None):  # type: ignore[no-untyped-def]
    """One episode with ``replies`` in order; returns (prompts the engine rendered, trajectory)."""
    it = iter(replies)
    engine = ScriptedEngine(lambda conv: next(it))
    trajs = run_episodes(
        engine, [problem or _problem()], 1, PARAMS, env, exact_match, RewardConfig()
    )
    return engine, trajs[0]


def _rendered(tok, engine: ScriptedEngine) -> list[str]:  # type: ignore[no-untyped-def]
    return [render_prompts(tok, convs)[0] for convs, _ in engine.calls]


# --- prompts -----------------------------------------------------------------------------------


def test_full_prompts_equal_the_reference_strings(tok):  # type: ignore[no-untyped-def]
    # turn 1 wrong, turn 2 malformed (no tags), turn 3 right
    engine, traj = _play(
        _env(PromptFormat.drift_full),
        ["add</think><answer>6</answer>", "it is five", "add again</think><answer>5</answer>"],
    )
    first = SYSTEM + _user(f"{INSTRUCTION}\n" + _block(1, QUESTION, 5, THINK_SHAPE))
    second = (
        first
        + _assistant("<think>add</think><answer>6</answer>")
        + _user("Reward:\n0.0\n" + _block(2, FEEDBACK, 4, THINK_SHAPE))
    )
    # a malformed answer uses no action: still 4 left, as the reference counts
    third = (
        second
        + _assistant("<think>it is five")
        + _user("Reward:\n0.0\n" + _block(3, FEEDBACK, 4, THINK_SHAPE))
    )
    prompts = _rendered(tok, engine)
    assert prompts == [
        first + "<|im_start|>assistant\n<think>",
        second + "<|im_start|>assistant\n<think>",
        third + "<|im_start|>assistant\n<think>",
    ]
    # the stored trajectory replays the same conversation
    assert tok.apply_chat_template(traj.messages(), tokenize=False) == (
        third + _assistant("<think>add again</think><answer>5</answer>")
    )
    assert [t.valid for t in traj.turns] == [True, False, True]
    assert traj.solved_turn == 3


def test_simple_prompts_equal_the_reference_strings(tok):  # type: ignore[no-untyped-def]
    engine, traj = _play(
        _env(PromptFormat.drift_simple),
        ["add</think><answer>6</answer>", "add</think><answer>5</answer>"],
    )
    first = SYSTEM + _user(f"{INSTRUCTION}\n\nProblem:\n{QUESTION}\n\n{_format_line(THINK_SHAPE)}")
    second = first + _assistant("<think>add</think><answer>6</answer>") + _user(FEEDBACK)
    assert _rendered(tok, engine) == [
        first + "<|im_start|>assistant\n<think>",
        second + "<|im_start|>assistant\n<think>",
    ]
    assert traj.users == [FEEDBACK]


@pytest.mark.parametrize("fmt", [PromptFormat.drift_full, PromptFormat.drift_simple])
def test_thinking_off_asks_for_the_answer_alone_and_prefills_answer(tok, fmt):  # type: ignore[no-untyped-def]
    engine, traj = _play(_env(fmt, think=False), ["6</answer>", "5</answer>"])
    if fmt == PromptFormat.drift_full:
        first = SYSTEM + _user(f"{INSTRUCTION}\n" + _block(1, QUESTION, 5, ANSWER_SHAPE))
        after = "Reward:\n0.0\n" + _block(2, FEEDBACK, 4, ANSWER_SHAPE)
    else:
        first = SYSTEM + _user(
            f"{INSTRUCTION}\n\nProblem:\n{QUESTION}\n\n{_format_line(ANSWER_SHAPE)}"
        )
        after = FEEDBACK
    second = first + _assistant("<answer>6</answer>") + _user(after)
    assert _rendered(tok, engine) == [
        first + "<|im_start|>assistant\n<answer>",
        second + "<|im_start|>assistant\n<answer>",
    ]
    assert [t.answer for t in traj.turns] == ["6", "5"]


def test_plain_format_sends_the_task_messages_without_prefill():
    engine, traj = _play(_env(PromptFormat.plain), ["<answer>6</answer>", "<answer>5</answer>"])
    first = _problem().messages
    assert engine.calls[0][0] == [first]
    assert engine.calls[1][0] == [
        [
            *first,
            {"role": "assistant", "content": "<answer>6</answer>"},
            {"role": "user", "content": FEEDBACK},
        ]
    ]
    assert traj.users is None and traj.prefill == ""
    assert "users" not in traj.to_dict() and "prefill" not in traj.to_dict()


def test_question_falls_back_to_the_last_user_message(tok):  # type: ignore[no-untyped-def]
    problem = Problem(id="q", messages=[{"role": "user", "content": "1 + 1?"}], answer="2")
    engine, _ = _play(_env(PromptFormat.drift_simple), ["x</think><answer>2</answer>"], problem)
    assert "Problem:\n1 + 1?\n\n" in _rendered(tok, engine)[0]


def test_the_length_line_follows_prompt_max_words(tok):  # type: ignore[no-untyped-def]
    task = TaskConfig(feedback=FEEDBACK, max_turns=3)
    env = Environment.from_config(
        task, EnvConfig(), PromptFormat.drift_full, PromptConfig(max_words=123)
    )
    engine, _ = _play(env, ["x</think><answer>5</answer>"])
    expected = SYSTEM + _user(f"{INSTRUCTION}\n" + _block(1, QUESTION, 3, THINK_SHAPE, 123))
    assert _rendered(tok, engine) == [expected + "<|im_start|>assistant\n<think>"]


# --- reading -----------------------------------------------------------------------------------

# (reply after the <think> prefill, the reference's answer or None for malformed)
READS = [
    ("work</think>\n<answer> 5 </answer>", "5"),  # tagged
    ("the answer is 5", None),  # untagged: malformed
    ("work</think><answer>5 || 6</answer>", "5"),  # double action: the first only
    ("work</think><answer> || 6</answer>", "6"),  # empty parts are dropped
    ("work</think><answer> || </answer>", None),  # no action at all: malformed
    ("work <answer>5</answer>", None),  # think never closed: malformed
    ("a</think><answer>5</answer> then <answer>6</answer>", "5"),  # the first block counts
    ("a</think><answer><answer>5</answer>", "5"),  # tags inside the answer are cleared
]


@pytest.mark.parametrize(("reply", "expected"), READS)
def test_replies_are_read_as_the_reference_reads_them(reply, expected):  # type: ignore[no-untyped-def]
    _, traj = _play(_env(PromptFormat.drift_simple, max_turns=1), [reply])
    (turn,) = traj.turns
    assert turn.text == "<think>" + reply
    assert turn.answer == expected
    assert turn.valid is (expected is not None)
    assert turn.correct is (expected == "5")


def test_without_thinking_only_the_answer_block_is_needed():
    _, traj = _play(
        _env(PromptFormat.drift_simple, max_turns=2, think=False), ["4 || 5</answer>", "oops"]
    )
    assert [(t.answer, t.valid) for t in traj.turns] == [("4", True), (None, False)]


def test_a_malformed_turn_carries_the_format_penalty():
    reward = RewardConfig()
    env = _env(PromptFormat.drift_full, max_turns=2)
    engine = ScriptedEngine(lambda conv: "no tags here")
    (traj,) = run_episodes(engine, [_problem()], 1, PARAMS, env, exact_match, reward)
    assert [t.valid for t in traj.turns] == [False, False]
    assert traj.ret == pytest.approx(-2 * reward.format_penalty)


def test_tags_reader_of_plain_differs_from_the_reference_rule():
    # plain reads the LAST <answer> block; the DRIFT formats read the FIRST, as the authors do
    reply = "<answer>5</answer> <answer>6</answer>"
    _, plain = _play(_env(PromptFormat.plain, max_turns=1), [reply])
    assert plain.turns[0].answer == "6"
    assert Environment.from_config(
        TaskConfig(), EnvConfig(), PromptFormat.drift_simple, PromptConfig(think=False)
    ).read(reply, AnswerFormat.tags) == ("5", True)


# --- protocol ----------------------------------------------------------------------------------


def test_intrinsic_protocol_sends_its_instruction_in_simple_mode(tok):  # type: ignore[no-untyped-def]
    env = Environment.from_config(
        TaskConfig(max_turns=2),
        EnvConfig(protocol=Protocol.intrinsic, instruction="Check it."),
        PromptFormat.drift_simple,
    )
    engine, traj = _play(env, ["a</think><answer>5</answer>", "b</think><answer>5</answer>"])
    assert _rendered(tok, engine)[1].endswith(_user("Check it.") + "<|im_start|>assistant\n<think>")
    assert len(traj.turns) == 2  # a right answer does not end an intrinsic episode


def test_full_mode_is_refused_under_the_intrinsic_protocol():
    with pytest.raises(ValueError, match="Reward"):
        Environment.from_config(
            TaskConfig(), EnvConfig(protocol=Protocol.intrinsic), PromptFormat.drift_full
        )
