"""Typed configuration: one dataclass per config group, checked when a run starts.

Hydra composes YAML from ``conf/`` onto :class:`DriftConfig` (:mod:`.schema`, stored as Hydra's
``drift_schema``); :func:`load_config` (:mod:`.load`) returns the typed object, so an unknown
key, a wrong type or a missing ``???`` value fails at start-up with the key named, and each
``__post_init__`` rejects values that make no sense (``method.beta <= 0``, say). Each group has
its module (:mod:`.task`, :mod:`.rollout`, ...); the model group is :mod:`drift.models.config`.
"""

from drift.config.env import DEFAULT_INSTRUCTION, EnvConfig
from drift.config.eval import BENCHMARK_DIR, BenchmarkConfig, EvalConfig
from drift.config.load import load_config
from drift.config.logger import WANDB_LOG_MODEL, WANDB_RESUME, LoggerConfig
from drift.config.method import InfluenceConfig, MethodConfig
from drift.config.paths import PathsConfig
from drift.config.prompt import DRIFT_ANSWER_INSTRUCTION, DRIFT_SYSTEM, PromptConfig
from drift.config.reward import RewardConfig
from drift.config.rollout import RolloutConfig
from drift.config.schema import SCHEMA, DriftConfig
from drift.config.task import TaskConfig
from drift.config.trainer import TrainerConfig
from drift.enums import (
    BatchOrder,
    DType,
    EngineName,
    InfluenceCombine,
    LoggerName,
    LossTurns,
    MethodFamily,
    Normalize,
    PromptFormat,
    Protocol,
    RecordFormat,
    Schedule,
    TaskSource,
    Truncation,
    VerifierName,
    WandbMode,
    Weighting,
)
from drift.errors import ConfigError

__all__ = [
    "BENCHMARK_DIR",
    "DEFAULT_INSTRUCTION",
    "DRIFT_ANSWER_INSTRUCTION",
    "DRIFT_SYSTEM",
    "SCHEMA",
    "WANDB_LOG_MODEL",
    "WANDB_RESUME",
    "BatchOrder",
    "BenchmarkConfig",
    "ConfigError",
    "DType",
    "DriftConfig",
    "EngineName",
    "EnvConfig",
    "EvalConfig",
    "InfluenceCombine",
    "InfluenceConfig",
    "LoggerConfig",
    "LoggerName",
    "LossTurns",
    "MethodConfig",
    "MethodFamily",
    "Normalize",
    "PathsConfig",
    "PromptConfig",
    "PromptFormat",
    "Protocol",
    "RecordFormat",
    "RewardConfig",
    "RolloutConfig",
    "Schedule",
    "TaskConfig",
    "TaskSource",
    "TrainerConfig",
    "Truncation",
    "VerifierName",
    "WandbMode",
    "Weighting",
    "load_config",
]
