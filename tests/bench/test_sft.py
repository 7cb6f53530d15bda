"""The SFT benchmark at tiny size, and the authors'-style collator and loss it trains with."""

from __future__ import annotations

import torch

from drift.bench.harness import Size
from drift.bench.sft import WeightedSFTTrainer, collate_weighted, run


def test_collator_masks_prompt_and_padding() -> None:
    batch = collate_weighted(
        [
            {"input_ids": [5, 6, 7], "loss_mask": [0, 1, 1], "weight": 2.0},
            {"input_ids": [8], "loss_mask": [1], "weight": 0.5},
        ],
        pad_id=0,
    )
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["weights"].tolist() == [2.0, 0.5]


def test_weighted_loss_is_the_weighted_mean_of_example_means() -> None:
    logits = torch.randn(2, 3, 5)

    class Model(torch.nn.Module):
        def forward(self, **_):
            return type("Out", (), {"logits": logits})()

    labels = torch.tensor([[-100, 1, 2], [-100, 3, -100]])
    inputs = {"labels": labels, "weights": torch.tensor([2.0, 0.5])}
    loss = WeightedSFTTrainer.compute_loss(None, Model(), inputs)
    nll = -torch.log_softmax(logits, dim=-1)  # token t predicts label t + 1
    first = (nll[0, 0, 1] + nll[0, 1, 2]) / 2
    expected = (2.0 * first + 0.5 * nll[1, 0, 3]) / 2
    torch.testing.assert_close(loss, expected)


def test_tiny_run_trains_both_ways() -> None:
    result = run(Size.TINY, repeats=1)
    assert list(result.summary()["ratios"]) == [
        "drift fit_sft / HF Trainer",
        "drift fit_sft / drift fit_sft, eager attention",
    ]
    assert len(set(result.units.values())) == 1 and result.units["HF Trainer"] > 0
