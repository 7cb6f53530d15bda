"""The ``task`` group: where problems come from and the episode around them."""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.data.arithmetic import ArithmeticConfig
from drift.enums import AnswerFormat, RecordFormat, TaskSource
from drift.errors import ConfigError, require_non_negative, require_positive


@dataclass
class TaskConfig:
    """Where problems come from and the feedback environment around them.

    ``answer_format`` says how a turn's answer is read: ``tags`` (``<answer>…</answer>``, the
    embedded and math tasks) or ``last_number`` (free text, ``task=arithmetic``).
    ``arithmetic`` shapes ``task.name=arithmetic``'s problems.
    """

    name: TaskSource = field(
        default=TaskSource.embedded,
        metadata={
            "help": "where problems come from: embedded (the built-in task, no downloads), "
            "arithmetic (seeded natural-language arithmetic), file (task.files) or "
            "hf_dataset (task.dataset)"
        },
    )
    num_train: int = field(
        default=500,
        metadata={"help": "train problems a generated task (embedded, arithmetic) makes"},
    )
    num_val: int = field(
        default=64,
        metadata={
            "help": "val problems a generated task makes (0: none); influence draws its validation "
            "queries from them"
        },
    )
    num_test: int = field(
        default=500,
        metadata={"help": "test problems a generated task makes: the evaluation's"},
    )
    num_candidates: int = field(
        default=4,
        metadata={
            "help": "digits shown in each embedded problem, before its clue ('5 3 2 4 odd': 4)"
        },
    )
    seed: int = field(
        default=1234,
        metadata={"help": "seed of a generated task's problems"},
    )
    files: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "split -> a local JSONL/JSON/parquet/CSV file (task.name=file; train is "
            "required)"
        },
    )
    dataset: str | None = field(
        default=None,
        metadata={"help": "a Hugging Face datasets name (task.name=hf_dataset)"},
    )
    dataset_config: str | None = field(
        default=None,
        metadata={"help": "the dataset's configuration name (null: its default)"},
    )
    splits: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "split -> the dataset's split name (a split not listed keeps its own name)"
        },
    )
    format: RecordFormat = field(
        default=RecordFormat.auto,
        metadata={
            "help": "record format of files and datasets: auto (detected per record by its fields),"
            " metamathqa, math or drift"
        },
    )
    filter_type: str | None = field(
        default=None,
        metadata={
            "help": "metamathqa records only: keep those whose type starts with this (e.g. MATH_)"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "at most this many problems per split (null: all)"},
    )
    sample_seed: int | None = field(
        default=None,
        metadata={
            "help": "permute the train split's problems (after filter_type) as "
            "datasets.Dataset.shuffle(seed=sample_seed) does before task.limit keeps the first "
            "N: a seeded sample, as the DRIFT authors draw their 1,800 prompts (seed 42)",
        },
    )
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "system message before every problem (null: none, or the chat template's "
            "default)"
        },
    )
    feedback: str = field(
        default="Incorrect. Please think again.",
        metadata={"help": "what the user says after a wrong answer (env.protocol=oracle)"},
    )
    max_turns: int = field(
        default=5,
        metadata={"help": "answers per episode: at most (oracle protocol) or exactly (intrinsic)"},
    )
    answer_format: AnswerFormat = field(
        default=AnswerFormat.tags,
        metadata={
            "help": "how a turn's answer is read: tags (<answer>...</answer>) or last_number (the "
            "last number of free text)"
        },
    )
    arithmetic: ArithmeticConfig = field(
        default_factory=ArithmeticConfig,
        metadata={"help": "the problems of task.name=arithmetic"},
    )

    def __post_init__(self) -> None:
        for key in ("num_train", "num_test", "num_candidates", "max_turns"):
            require_positive(f"task.{key}", getattr(self, key))
        require_non_negative("task.num_val", self.num_val)
        if self.name == "file" and "train" not in self.files:
            raise ConfigError("task.files.train is required when task.name=file")
        if self.name == "hf_dataset" and not self.dataset:
            raise ConfigError("task.dataset is required when task.name=hf_dataset")
        if self.limit is not None:
            require_positive("task.limit", self.limit)
