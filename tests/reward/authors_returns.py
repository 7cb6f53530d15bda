"""The DRIFT-IW authors' episode and return, re-written from their code for parity checks.

Transcribed from 2020-qqtcg/DRIFT (commit d8e1630): ``src/prompting.py`` (``parse_response``,
``normalize_answer``, ``MultiTurnAnswerEpisode.step``, ``run_actions``),
``src/generate_weighted_data_vllm_metamathqa.py`` (``process_turn``: a turn without an action
carries the format penalty and runs nothing) and ``src/weight_sft.py``
(``compute_discounted_return``, ``compute_trajectory_penalty``, the return in
``add_weights_to_dataset``), with the settings of their ``scripts/run_generate_data.sh`` (one
action per turn, 5 actions per episode). Independent of drift's code on purpose: it replays an
episode's turn texts and says where the authors' episode ends and what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

SPECIAL_TOKENS = ("<think>", "</think>", "<answer>", "</answer>", "<|im_start|>", "<|im_end|>")


def normalize(text: str) -> str:
    """Their ``normalize_answer``: lower case, every whitespace removed."""
    return re.sub(r"\s+", "", text.strip().lower()) if text else ""


def parse_actions(response: str, think: bool, sep: str = "||", per_turn: int = 1) -> list[str]:
    """The actions of their ``parse_response`` (empty: a malformed turn)."""
    pattern = r"<answer>(.*?)</answer>"
    if think:
        pattern = r"<think>(.*?)</think>\s*" + pattern
    match = re.search(pattern, response, re.DOTALL)
    if not match:
        return []
    content = match.group(2) if think else match.group(1)
    for token in SPECIAL_TOKENS:
        content = content.replace(token, "").strip()
    actions = [a.strip() for a in content.split(sep) if a.strip()]
    return actions[:per_turn] if per_turn > 0 else actions


@dataclass
class AuthorsEpisode:
    """One replayed episode: their ``MultiTurnAnswerEpisode`` plus ``process_turn``'s record."""

    target: str
    max_turns: int = 5
    max_actions: int = 5
    format_penalty: float = -0.1  # their sign: added to the return
    step_num: int = 0
    done: bool = False
    turns: int = 0
    verifier: list[int] = field(default_factory=list)
    turn_rewards: dict[str, float] = field(default_factory=dict)
    answer_norms: list[str] = field(default_factory=list)
    penalty: float = 0.0

    def play(self, actions: list[str]) -> None:
        """``process_turn`` for a turn whose parsed actions are ``actions``."""
        self.turns += 1
        reward, success = 0.0, False
        if actions and self.max_actions - self.step_num > 0:
            for action in actions[: self.max_actions - self.step_num]:
                success = bool(self.target) and normalize(action) == normalize(self.target)
                reward += 1.0 if success else 0.0
                if normalize(action) != "":  # their "valid" action
                    self.step_num += 1
                self.answer_norms.append(normalize(action))
                if success or self.step_num >= self.max_actions:
                    self.done = True
                    break
        else:
            self.penalty += self.format_penalty
        if self.max_actions - self.step_num <= 0:
            self.done = True
        self.turn_rewards[f"t{self.turns}"] = reward
        self.verifier.append(int(success))
        self.done = self.done or success or self.turns >= self.max_turns

    def episode_return(self, gamma: float = 0.9, lam: float = 0.5) -> float:
        """``compute_discounted_return + format_penalty - compute_trajectory_penalty``."""
        discounted = sum(gamma ** (int(k[1:]) - 1) * r for k, r in self.turn_rewards.items())
        repeat = 0.0
        if self.answer_norms:
            unique = len({a for a in self.answer_norms if a})
            repeat = max(0.0, lam * (1.0 - unique / len(self.answer_norms)))
        return discounted + self.penalty - repeat


def replay(
    texts: Sequence[str], target: str, parse: Callable[[str], list[str]], max_turns: int = 5
) -> AuthorsEpisode:
    """Replay turn texts until the authors' episode ends; texts past its end are an error."""
    episode = AuthorsEpisode(target, max_turns=max_turns, max_actions=max_turns)
    for i, text in enumerate(texts):
        if episode.done:
            raise AssertionError(f"the authors' episode ended before turn {i + 1}")
        episode.play(parse(text))
    return episode
