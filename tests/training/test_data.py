import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from drift.config import Normalize
from drift.data.chat import EncodedExample
from drift.data.token_store import TokenWriter
from drift.training.data import (
    SFTDataModule,
    SFTDataset,
    SFTItem,
    StepBatchSampler,
    collate,
    pad_examples,
    step_normalizer,
)


def _steps(sampler: StepBatchSampler) -> list[list[list[tuple[int, float]]]]:
    """Group the sampler's micro-batches by optimiser step."""
    batches = list(sampler)
    k = sampler.accumulate_grad_batches
    return [batches[i : i + k] for i in range(0, len(batches), k)]


def test_collate_keeps_weights_and_pads_right_with_explicit_attention_mask():
    pad_id = 7  # also a real token inside the examples
    items = [
        SFTItem(EncodedExample("a", [7, 3, 7], [0, 1, 1], 0.25), 5.0),
        SFTItem(EncodedExample("b", [1, 7, 2, 9, 7], [0, 0, 1, 1, 1], 2.5), 5.0),
    ]
    batch = collate(items, pad_id)
    assert batch["input_ids"].tolist() == [[7, 3, 7, 7, 7], [1, 7, 2, 9, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["loss_mask"].tolist() == [[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]]
    assert batch["weights"].tolist() == [0.25, 2.5]
    assert batch["normalizer"].item() == 5.0 and batch["normalizer"].dim() == 0


def test_collate_rejects_mixed_steps_and_bad_masks():
    a = EncodedExample("a", [1, 2], [0, 1], 1.0)
    with pytest.raises(ValueError, match="different optimiser steps"):
        collate([SFTItem(a, 2.0), SFTItem(a, 3.0)], 0)
    with pytest.raises(ValueError, match="example b"):
        pad_examples([a, EncodedExample("b", [1, 2, 3], [0, 1], 1.0)], 0)


def test_step_normalizer():
    w = np.array([0.5, 2.0, 1.5])
    assert step_normalizer(w, Normalize.mean) == 3.0
    assert step_normalizer(w, Normalize.weight_sum) == 4.0
    assert step_normalizer(np.zeros(2), Normalize.weight_sum) == 1.0


@pytest.mark.parametrize("normalize", [Normalize.mean, Normalize.weight_sum])
def test_normalizer_is_computed_over_the_whole_step(normalize):
    weights = np.linspace(0.1, 2.4, 24)
    sampler = StepBatchSampler(weights, 8, 4, normalize, seed=3)
    steps = _steps(sampler)
    assert len(steps) == 3 and len(sampler) == 12
    for step in steps:
        assert len(step) == 4 and all(len(mb) == 2 for mb in step)
        idx = [i for mb in step for i, _ in mb]
        want = 8.0 if normalize == Normalize.mean else weights[idx].sum()
        (norm,) = {n for mb in step for _, n in mb}
        assert norm == pytest.approx(want)
    seen = sorted(i for step in steps for mb in step for i, _ in mb)
    assert seen == list(range(24))


def test_final_partial_step_is_split_into_the_same_number_of_micro_batches():
    sampler = StepBatchSampler(np.ones(8 + 5), 8, 4, Normalize.mean, seed=0)
    steps = _steps(sampler)
    assert [len(s) for s in steps] == [4, 4]
    assert sorted(len(mb) for mb in steps[1]) == [1, 1, 1, 2]
    assert {n for mb in steps[1] for _, n in mb} == {5.0}


def test_final_partial_step_smaller_than_micro_batches_is_dropped(caplog):
    with caplog.at_level(logging.INFO, logger="drift.training.data"):
        sampler = StepBatchSampler(np.ones(8 + 3), 8, 4, Normalize.mean, seed=0)
    assert len(sampler) == 4 and len(_steps(sampler)) == 1
    assert "dropping the last 3 example(s)" in caplog.text


def test_seeded_shuffle_changes_with_epoch_and_not_with_rank():
    a = StepBatchSampler(np.ones(16), 8, 1, Normalize.mean, seed=5)
    b = StepBatchSampler(np.ones(16), 8, 1, Normalize.mean, seed=5)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert sorted(i for mb in a for i, _ in mb) == list(range(16))


def test_ranks_get_disjoint_shards_with_the_same_global_normalizer():
    weights = np.arange(1.0, 21.0)  # 20 examples: 2 full steps of 8, then a partial step of 4
    ranks = [
        StepBatchSampler(
            weights, 8, 2, Normalize.weight_sum, 1, world_size=2, rank=r, lengths=weights
        )
        for r in range(2)
    ]
    per_rank = [_steps(s) for s in ranks]
    assert [len(p) for p in per_rank] == [3, 3] and len(ranks[0]) == len(ranks[1]) == 6
    for s0, s1 in zip(*per_rank, strict=True):
        i0 = {i for mb in s0 for i, _ in mb}
        i1 = {i for mb in s1 for i, _ in mb}
        assert not i0 & i1
        (norm,) = {n for mb in s0 + s1 for _, n in mb}
        assert norm == pytest.approx(weights[sorted(i0 | i1)].sum())
    all_idx = sorted(i for p in per_rank for s in p for mb in s for i, _ in mb)
    assert all_idx == list(range(20))


def test_lengths_sort_micro_batches_within_a_step():
    lengths = np.array([9, 1, 8, 2, 7, 3, 6, 4])
    sampler = StepBatchSampler(np.ones(8), 8, 4, Normalize.mean, 0, lengths=lengths)
    maxima = [max(lengths[i] for i, _ in mb) for mb in sampler]
    assert maxima == sorted(maxima)


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError, match="example 1"):
        StepBatchSampler([1.0, float("nan")], 2, 1, Normalize.mean, 0)
    with pytest.raises(ValueError, match="rank"):
        StepBatchSampler([1.0, 1.0], 2, 1, Normalize.mean, 0, world_size=2, rank=2)


def test_weights_survive_the_dataloader(make_examples):
    examples = make_examples(12, seed=4)
    sampler = StepBatchSampler([e.weight for e in examples], 4, 2, Normalize.weight_sum, 0)
    loader = DataLoader(
        SFTDataset(examples),
        batch_sampler=sampler,
        collate_fn=lambda items: (collate(items, 0), [it.example.id for it in items]),
    )
    got = {}
    for batch, ids in loader:
        got.update(zip(ids, batch["weights"].tolist(), strict=True))
        lengths = batch["attention_mask"].sum(1)
        by_id = {e.id: e for e in examples}
        assert lengths.tolist() == [len(by_id[i].input_ids) for i in ids]
    assert got == {e.id: pytest.approx(e.weight) for e in examples}
    assert torch.is_tensor(batch["normalizer"])


def test_lightning_reaches_the_shuffle_epoch():
    from lightning.fabric.utilities.data import _set_sampler_epoch

    sampler = StepBatchSampler(np.ones(8), 4, 1, Normalize.mean, seed=0)
    loader = DataLoader(SFTDataset([]), batch_sampler=sampler, collate_fn=list)
    first = list(sampler)
    _set_sampler_epoch(loader, 3)  # what Lightning's fit loop calls each epoch
    assert sampler.sampler.epoch == 3 and list(sampler) != first


def test_a_memory_mapped_store_collates_the_batches_of_the_list_path(make_examples, tmp_path):
    examples = make_examples(30, seed=5)
    writer = TokenWriter(tmp_path / "tokens")
    for start in range(0, 30, 7):
        writer.add(examples[start : start + 7])
    store = writer.finish()
    dataset = SFTDataset(store)
    assert dataset.examples is store  # indexed in place, not copied into lists
    lengths = [len(e.input_ids) for e in examples]
    sampler = StepBatchSampler(
        [e.weight for e in examples], 8, 2, Normalize.weight_sum, 0, lengths=lengths
    )
    for keys in sampler:
        got = collate([dataset[k] for k in keys], 0)
        want = collate([SFTItem(examples[i], norm) for i, norm in keys], 0)
        assert got.keys() == want.keys()
        for name, tensor in want.items():
            assert got[name].dtype == tensor.dtype and torch.equal(got[name], tensor), name


@pytest.mark.parametrize("shuffle", [True, False])
def test_unshuffled_steps_hold_whole_prompt_groups_of_constant_weight(shuffle):
    # 6 prompts x 4 trajectories in rollout order, weights of mean 1 per prompt
    rng = np.random.default_rng(0)
    weights = np.concatenate([w / w.mean() for w in rng.uniform(0.1, 3.0, (6, 4))])
    examples = [
        EncodedExample(f"p{i // 4}/{i % 4}", [1, 2], [0, 1], w) for i, w in enumerate(weights)
    ]
    data = SFTDataModule(examples, 8, Normalize.weight_sum, seed=0, pad_id=0, shuffle=shuffle)
    data.trainer = type("T", (), {"accumulate_grad_batches": 2, "world_size": 1, "global_rank": 0})
    data.setup("fit")
    steps = [sorted(i for mb in step for i, _ in mb) for step in _steps(data.sampler)]
    whole = [step == list(range(step[0], step[0] + 8)) and step[0] % 4 == 0 for step in steps]
    totals = [weights[step].sum() for step in steps]
    if shuffle:  # today's default: groups split across steps, each step's weight its own
        assert not all(whole) and np.ptp(totals) > 0.1
    else:  # the DRIFT authors' --disable_shuffle: 2 whole groups a step, total weight 8
        assert all(whole) and np.allclose(totals, 8.0)
