"""Settings of the sharded training strategies (keys ``trainer.fsdp`` and ``trainer.deepspeed``).

They apply when ``trainer.strategy`` is ``fsdp`` or ``deepspeed``; any other strategy name
(``auto``, ``ddp``, ``deepspeed_stage_2_offload``, ...) goes to Lightning as it is.

Only ``drift.errors`` is imported: ``drift.config`` imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.errors import ConfigError

SHARDING_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD")
STATE_DICT_TYPES = ("full", "sharded")


@dataclass
class FSDPSettings:
    """Lightning's ``FSDPStrategy`` (torch FSDP), one FSDP unit per decoder layer.

    ``wrap_layers`` names the module classes wrapped as units (and checkpointed when
    ``activation_checkpointing``); empty: the model's ``_no_split_modules`` (its decoder layer
    class, e.g. ``Qwen2DecoderLayer``). ``state_dict_type`` is the format of Lightning's
    checkpoints; the exported HF policy always gets the full weights (gathered on rank 0).
    """

    sharding_strategy: str = field(
        default="FULL_SHARD",
        metadata={"help": "FULL_SHARD, SHARD_GRAD_OP, NO_SHARD or HYBRID_SHARD"},
    )
    wrap_layers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "module classes wrapped as FSDP units (empty: the model's _no_split_modules, "
            "its decoder layer)"
        },
    )
    activation_checkpointing: bool = field(
        default=False,
        metadata={"help": "checkpoint the wrapped layers' activations"},
    )
    cpu_offload: bool = field(
        default=False,
        metadata={"help": "offload parameters to CPU memory"},
    )
    state_dict_type: str = field(
        default="full",
        metadata={
            "help": "format of Lightning's checkpoints: full or sharded (the exported policy is "
            "always full)"
        },
    )

    def __post_init__(self) -> None:
        if self.sharding_strategy not in SHARDING_STRATEGIES:
            raise ConfigError(
                f"trainer.fsdp.sharding_strategy must be one of {', '.join(SHARDING_STRATEGIES)}"
                f", got {self.sharding_strategy!r}"
            )
        if self.state_dict_type not in STATE_DICT_TYPES:
            raise ConfigError(
                f"trainer.fsdp.state_dict_type must be one of {', '.join(STATE_DICT_TYPES)}, "
                f"got {self.state_dict_type!r}"
            )


@dataclass
class DeepSpeedSettings:
    """Lightning's ``DeepSpeedStrategy``: ZeRO ``stage`` 1-3 (3 partitions the parameters too,
    as the DRIFT-IW reference code trains), optionally offloading to CPU memory."""

    stage: int = field(
        default=3,
        metadata={"help": "ZeRO stage: 1, 2 or 3 (3 partitions the parameters too)"},
    )
    offload_optimizer: bool = field(
        default=False,
        metadata={"help": "optimiser state in CPU memory"},
    )
    offload_parameters: bool = field(
        default=False,
        metadata={"help": "parameters in CPU memory (stage 3)"},
    )

    def __post_init__(self) -> None:
        if self.stage not in (1, 2, 3):
            raise ConfigError(f"trainer.deepspeed.stage must be 1, 2 or 3, got {self.stage}")
        if self.offload_parameters and self.stage != 3:
            raise ConfigError(
                "trainer.deepspeed.offload_parameters needs trainer.deepspeed.stage=3"
            )
