import math

import pytest
import torch

from drift.training.loss import per_example_loss, weighted_sft_loss


def _hand_loss(logits, ids, mask, weights, normalizer):
    """The objective written out token by token with Python floats."""
    total = 0.0
    for b in range(ids.shape[0]):
        nlls = []
        for t in range(1, ids.shape[1]):
            if mask[b, t]:
                row = logits[b, t - 1].tolist()
                log_z = math.log(sum(math.exp(x) for x in row))
                nlls.append(log_z - row[int(ids[b, t])])
        ell = sum(nlls) / len(nlls) if nlls else 0.0
        total += float(weights[b]) * ell
    return total / normalizer


def test_weighted_loss_matches_hand_computation():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 7, generator=gen)
    ids = torch.randint(0, 7, (3, 6), generator=gen)
    mask = torch.tensor(
        [[0, 0, 1, 1, 1, 0], [0, 1, 0, 1, 0, 1], [0, 0, 0, 0, 1, 1]], dtype=torch.long
    )
    weights = torch.tensor([0.5, 2.0, 1.25])
    got = weighted_sft_loss(logits, ids, mask, weights, 4.0)
    assert got.item() == pytest.approx(_hand_loss(logits, ids, mask, weights, 4.0), rel=1e-6)


def test_per_example_loss_is_token_mean_and_ignores_position_zero():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 4, generator=gen)
    ids = torch.randint(0, 4, (2, 5), generator=gen)
    mask = torch.tensor([[1, 0, 0, 1, 1], [0, 0, 1, 0, 0]])
    got = per_example_loss(logits, ids, mask)
    logp = torch.log_softmax(logits, -1)
    want0 = -(logp[0, 2, ids[0, 3]] + logp[0, 3, ids[0, 4]]) / 2  # mask at t=0 has no predictor
    want1 = -logp[1, 1, ids[1, 2]]
    torch.testing.assert_close(got, torch.stack([want0, want1]))


def test_empty_mask_gives_zero_and_finite_gradient():
    logits = torch.randn(2, 4, 5, requires_grad=True)
    ids = torch.randint(0, 5, (2, 4))
    mask = torch.tensor([[0, 0, 0, 0], [0, 1, 1, 0]])
    losses = per_example_loss(logits, ids, mask)
    assert losses[0].item() == 0.0
    loss = weighted_sft_loss(logits, ids, mask, torch.tensor([1.0, 1.0]), 2.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad[0].abs().sum().item() == 0.0


def test_padding_columns_do_not_change_the_loss():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 5, 6, generator=gen)
    ids = torch.randint(0, 6, (2, 5), generator=gen)
    mask = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    pad_logits = torch.cat([logits, torch.full((2, 3, 6), 1e4)], dim=1)  # huge junk logits
    pad_ids = torch.cat([ids, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    pad_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    w = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(
        weighted_sft_loss(pad_logits, pad_ids, pad_mask, w, 4.0),
        weighted_sft_loss(logits, ids, mask, w, 4.0),
    )


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="shape mismatch"):
        per_example_loss(
            torch.zeros(2, 4, 3), torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5)
        )
