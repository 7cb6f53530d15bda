"""LESS's Adam features: each example's exact weight gradient, moved by a snapshot's Adam state,
then projected into the feature space (:func:`drift.attribution.precondition.adam_transform`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from drift.attribution.extract import Projection
from drift.attribution.hooks import GradientCollector
from drift.attribution.layers import layer_shapes
from drift.attribution.precondition import adam_transform
from drift.attribution.projection import KroneckerProjector
from drift.attribution.scoring_config import AdamForm
from drift.training.loss import per_example_loss


class AdamFeatures:
    """LESS's feature of a batch: each example's exact weight gradient (hooks with an identity
    projection), transformed by a snapshot's Adam state, then projected by ``project``.

    ``state`` maps layer name -> ``exp_avg``, ``exp_avg_sq`` [d_out, d_in] and ``step`` (the
    optimiser's count of updates taken; the paper form's bias correction uses step + 1).
    """

    def __init__(
        self,
        model: nn.Module,
        modules: dict[str, nn.Linear],
        state: dict[str, dict[str, Tensor]],
        betas: tuple[float, float],
        eps: float,
        form: AdamForm,
        project: Projection,
    ) -> None:
        self.model, self.modules, self.project = model, modules, project
        self.shapes = layer_shapes(modules)
        widest = max(max(s) for s in self.shapes.values())
        device = next(model.parameters()).device
        self.identity = KroneckerProjector(self.shapes, widest, widest, 0, device)
        self.state = {n: {k: v.to(device) for k, v in s.items()} for n, s in state.items()}
        self.betas, self.eps, self.form = betas, eps, AdamForm(form)

    def __call__(self, batch: dict[str, Tensor]) -> Tensor:
        """Features [B, dim] of a right-padded batch (input_ids, attention_mask, loss_mask)."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        was_training = self.model.training
        self.model.eval()
        try:
            collector = GradientCollector(self.model, self.modules, self.identity)
            with collector as col, torch.enable_grad():
                col.set_mask(mask)
                logits = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits
                flat, _ = col.backward(per_example_loss(logits, ids, batch["loss_mask"]))
        finally:
            self.model.train(was_training)
        grads = _split(flat, self.shapes)
        moved = {}
        for n, g in grads.items():
            s = self.state[n]
            step = int(s["step"])
            moved[n] = adam_transform(
                g, s["exp_avg"], s["exp_avg_sq"], self.form, self.betas, self.eps, step
            )
        return self.project(moved).detach()


def _split(flat: Tensor, shapes: dict[str, tuple[int, int]]) -> dict[str, Tensor]:
    """Exact flattened gradients [B, Σ d_out·d_in] -> name -> [B, d_out, d_in]."""
    sizes = [d_out * d_in for d_out, d_in in shapes.values()]
    parts = torch.split(flat, sizes, dim=1)
    return {n: p.reshape(-1, *shapes[n]) for n, p in zip(shapes, parts, strict=True)}
