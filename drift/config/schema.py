"""The whole run's config, :class:`DriftConfig`, stored in Hydra's ConfigStore as the schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from drift.attribution.config import FeatureConfig
from drift.attribution.study_config import StudyConfig
from drift.config.env import EnvConfig
from drift.config.eval import EvalConfig
from drift.config.logger import LoggerConfig
from drift.config.method import MethodConfig
from drift.config.paths import PathsConfig
from drift.config.prompt import PromptConfig
from drift.config.reward import RewardConfig
from drift.config.rollout import RolloutConfig
from drift.config.task import TaskConfig
from drift.config.trainer import TrainerConfig
from drift.enums import BatchOrder, MethodFamily, PromptFormat, Protocol, TaskSource, Weighting
from drift.errors import ConfigError, require_identifier, require_positive
from drift.models.config import ModelConfig, package_dir


@dataclass
class DriftConfig:
    """The whole run. ``compare`` (name -> method) runs several methods on shared artifacts."""

    seed: int = field(
        default=0,
        metadata={"help": "the run's seed"},
    )
    name: str = field(
        default="default",
        metadata={
            "help": "the run's name, in its directory <time>_<name> (conf/config.yaml: the "
            "method's)"
        },
    )
    task: TaskConfig = field(
        default_factory=TaskConfig,
        metadata={"help": "where problems come from and the episode around them"},
    )
    model: ModelConfig = field(
        default_factory=ModelConfig,
        metadata={"help": "the model a run starts from"},
    )
    method: MethodConfig = field(
        default_factory=MethodConfig,
        metadata={"help": "the method of a single-method run"},
    )
    compare: dict[str, MethodConfig] = field(
        default_factory=dict,
        metadata={
            "help": "name -> method: the methods a preset compares on shared artifacts (empty: "
            "method alone)"
        },
    )
    rollout: RolloutConfig = field(
        default_factory=RolloutConfig,
        metadata={"help": "how trajectories are sampled from the reference policy"},
    )
    reward: RewardConfig = field(
        default_factory=RewardConfig,
        metadata={"help": "the verifier and the shape of the return"},
    )
    env: EnvConfig = field(
        default_factory=EnvConfig,
        metadata={"help": "the user side of a multi-turn episode"},
    )
    prompt: PromptConfig = field(
        default_factory=PromptConfig,
        metadata={"help": "the DRIFT authors' prompt protocol"},
    )
    trainer: TrainerConfig = field(
        default_factory=TrainerConfig,
        metadata={"help": "optimisation and Lightning settings shared by every method"},
    )
    eval: EvalConfig = field(
        default_factory=EvalConfig,
        metadata={"help": "the multi-turn evaluation after training"},
    )
    logger: LoggerConfig = field(
        default_factory=LoggerConfig,
        metadata={"help": "where metrics go"},
    )
    paths: PathsConfig = field(
        default_factory=PathsConfig,
        metadata={"help": "where a run writes"},
    )
    attribution: FeatureConfig = field(
        default_factory=FeatureConfig,
        metadata={"help": "per-example gradient features"},
    )
    study: StudyConfig = field(
        default_factory=StudyConfig,
        metadata={"help": "the attribution study"},
    )
    objective: str = field(
        default="acc@5",
        metadata={
            "help": "the metric a single-method run returns to a sweeper, which maximises it "
            "(conf/config.yaml: acc@<task.max_turns>)"
        },
    )
    num_threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads for torch (null: torch's default); on a busy machine 1 per process"
            " avoids OpenMP spin-waiting"
        },
    )

    def __post_init__(self) -> None:
        require_identifier("name", self.name)
        for key in self.compare:  # method names become directories of the run
            require_identifier(f"compare.{key}", key)
        if self.num_threads is not None:
            require_positive("num_threads", self.num_threads)
        if self.env.protocol == Protocol.intrinsic:
            for key in ("rollout", "eval"):
                if getattr(self, key).prompt_format == PromptFormat.drift_full:
                    raise ConfigError(
                        f"{key}.prompt_format=drift_full shows a 'Reward:' line, the verifier's "
                        "verdict, which env.protocol=intrinsic never shows: use drift_simple"
                    )
        influence = [n for n, m in self.methods().items() if m.train and m.influence is not None]
        if influence and self.task.name == TaskSource.embedded and self.task.num_val == 0:
            raise ConfigError(
                f"task.num_val must be > 0: {influence[0]} draws its validation targets from "
                "the val split"
            )
        # The metric a single-method run returns to Hydra's sweeper (Optuna maximises it).
        acc = re.fullmatch(r"(?:sampled/)?acc@t?(\d+)", self.objective)
        if not self.objective.strip() or (acc and not 1 <= int(acc[1]) <= self.task.max_turns):
            raise ConfigError(
                f"objective must name a metric (acc@k or acc@tk with 1 <= k <= task.max_turns="
                f"{self.task.max_turns}, correction_rate, delta, ...), got '{self.objective}'"
            )
        self._check_score()
        self._check_prompt_groups()

    def methods(self) -> dict[str, MethodConfig]:
        """The methods this run trains and evaluates, in order."""
        return dict(self.compare) if self.compare else {self.method.name: self.method}

    def _check_prompt_groups(self) -> None:
        """``batch_order=prompt_groups`` steps hold whole groups: a multiple of their size."""
        grouped = [
            n
            for n, m in self.methods().items()
            if m.train and m.family == MethodFamily.iw and m.batch_order == BatchOrder.prompt_groups
        ]
        dropping = [n for n in grouped if self.methods()[n].weighting == Weighting.rft]
        if dropping:
            raise ConfigError(
                f"{dropping[0]}: method.batch_order=prompt_groups keeps each prompt's episodes "
                "together, whole groups per step; weighting=rft drops the unsolved ones, so its "
                "groups are not whole: use batch_order=shuffle"
            )
        if grouped and self.trainer.effective_batch_size % self.rollout.num_samples:
            raise ConfigError(
                f"{grouped[0]}: method.batch_order=prompt_groups needs "
                "trainer.effective_batch_size to be a multiple of rollout.num_samples (whole "
                f"groups per optimiser step), got {self.trainer.effective_batch_size} and "
                f"{self.rollout.num_samples}"
            )

    def _check_score(self) -> None:
        """SCoRe trains two-attempt intrinsic self-correction: its episodes must be that."""
        score = [n for n, m in self.methods().items() if m.train and m.score is not None]
        if not score:
            return
        if self.env.protocol != Protocol.intrinsic or self.task.max_turns != 2:
            raise ConfigError(
                f"{score[0]} (SCoRe) trains two attempts under the intrinsic protocol: set "
                "env.protocol=intrinsic task.max_turns=2 (experiment=intrinsic_demo does), got "
                f"env.protocol={self.env.protocol.value} task.max_turns={self.task.max_turns}"
            )


OmegaConf.register_new_resolver("package_dir", package_dir, replace=True)

SCHEMA = "drift_schema"
"""The name under which :class:`DriftConfig` is stored in Hydra's ConfigStore: the first entry
of ``conf/config.yaml``'s defaults, so every group file is merged onto its dataclass and holds
only what differs from the defaults written here."""
ConfigStore.instance().store(name=SCHEMA, node=DriftConfig)
