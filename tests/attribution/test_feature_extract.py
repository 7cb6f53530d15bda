"""Tests of drift/attribution/extract.py (named apart from tests/reward/test_extract.py)."""

import numpy as np
import pytest
import torch
from tiny_lm import make_batch, make_examples
from tiny_models import tiny_llama

import drift.attribution.extract as extract
from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features, feature_projection, layer_projector
from drift.attribution.fill import NonFiniteGradientError
from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.reference import per_example_weight_grads, reference_features
from drift.attribution.store import FeatureStore, StoreMismatchError
from drift.training.loss import per_example_loss

LENGTHS = [9, 14, 5, 11, 7, 12, 6, 10, 13, 8]


def _extract(model, examples, path, **cfg):
    cfg = FeatureConfig(**{"proj_in": 8, "proj_out": 8, "batch_size": 3, "shard_size": 4, **cfg})
    return extract_features(
        model, examples, cfg, path, pad_id=0, model_name="tiny", show_progress=False
    )


def test_store_holds_reference_features_with_one_forward_per_batch(lora_model, tmp_path):
    examples = make_examples(LENGTHS, empty=(3,))
    calls = []
    handle = lora_model.register_forward_hook(lambda *a: calls.append(1))
    try:
        store = _extract(lora_model, examples, tmp_path / "f", shard_size=6)
        store_cfg = FeatureConfig(proj_in=8, proj_out=8)
    finally:
        handle.remove()
    assert len(calls) == 4  # batches of 3 within shards of 6: 2 + 2, no per-example loop
    assert store.complete and store.ids == [e.id for e in examples]
    modules = select_layers(lora_model)
    projector = layer_projector(store_cfg, layer_shapes(modules), "cpu")  # the default: sketch
    ref, ref_sq = reference_features(
        lora_model, make_batch(examples), modules, projector, per_example_loss
    )
    got = store.load()
    assert np.linalg.norm(got - ref.numpy()) / np.linalg.norm(ref.numpy()) < 1e-5
    np.testing.assert_allclose(store.norms(), ref_sq.sqrt().numpy(), rtol=1e-5)
    assert store.settings["layers"][0][0].endswith("q_proj.lora_A.default")
    assert all(p.grad is None for p in lora_model.parameters()) and not lora_model.training


def test_resume_after_crash_gives_the_same_features(plain_model, tmp_path, monkeypatch):
    examples = make_examples(LENGTHS, seed=5)
    clean = _extract(plain_model, examples, tmp_path / "clean", batch_size=2)
    real_step, calls = extract._hook_step, []

    def crashing_step(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args)

    monkeypatch.setattr(extract, "_hook_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        _extract(plain_model, examples, tmp_path / "r", batch_size=2)
    partial = FeatureStore.open(tmp_path / "r")
    assert not partial.complete and partial.num_rows == 0  # nothing committed yet
    assert partial.shard_ids(0) == clean.ids[:4] and partial.shard_ids(1) is None  # shard 0 kept
    calls.clear()
    monkeypatch.setattr(extract, "_hook_step", lambda *a: calls.append(1) or real_step(*a))
    resumed = _extract(plain_model, examples, tmp_path / "r", batch_size=3)  # batch size may change
    assert len(calls) == 3  # shards 1 and 2 only: batches of 3 + 1, then 2
    assert resumed.complete and resumed.ids == clean.ids
    np.testing.assert_allclose(resumed.load(), clean.load(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(resumed.norms(), clean.norms(), rtol=1e-5)


def test_finished_store_is_reused_and_other_settings_refused(plain_model, tmp_path, monkeypatch):
    examples = make_examples(LENGTHS[:4], seed=6)
    _extract(plain_model, examples, tmp_path / "f")
    monkeypatch.setattr(extract, "_hook_step", None)  # would fail if anything were recomputed
    assert _extract(plain_model, examples, tmp_path / "f").num_rows == 4
    with pytest.raises(StoreMismatchError, match=r"settings\.seed"):
        _extract(plain_model, examples, tmp_path / "f", seed=1)
    with pytest.raises(StoreMismatchError, match="examples_hash"):
        _extract(plain_model, examples[:3], tmp_path / "f")
    with pytest.raises(StoreMismatchError, match="projection"):
        _extract(plain_model, examples, tmp_path / "f", projection="kronecker")


def test_nan_gradient_names_the_example_and_keeps_finished_shards(tmp_path):
    model = tiny_llama()
    with torch.no_grad():
        model.get_input_embeddings().weight[39] = float("nan")
    examples = make_examples(LENGTHS, seed=7)
    examples[7].input_ids[2] = 39  # only this example sees the NaN embedding
    with pytest.raises(NonFiniteGradientError, match=examples[7].id):
        _extract(model, examples, tmp_path / "f", batch_size=3, shard_size=4)
    store = FeatureStore.open(tmp_path / "f")
    assert not store.complete
    assert store.shard_ids(0) == [e.id for e in examples[:4]]  # the finished shard is kept
    assert store.shard_ids(1) is None  # the shard holding example 7 is not written
    assert np.isfinite(np.load(tmp_path / "f" / "features-00000.npy")).all()


def test_loop_impl_gives_the_same_norms_and_the_requested_dim(lora_model, tmp_path):
    examples = make_examples(LENGTHS[:5], seed=8)
    hooks = _extract(lora_model, examples, tmp_path / "h")
    loop = _extract(lora_model, examples, tmp_path / "l", impl="loop", loop_dim=40, loop_chunk=100)
    assert loop.dim == 40 and hooks.dim == 16 * 32 and loop.settings["impl"] == "loop"
    np.testing.assert_allclose(loop.norms(), hooks.norms(), rtol=1e-5)


def test_repeated_ids_are_refused(plain_model, tmp_path):
    examples = make_examples([5, 6], seed=9)
    with pytest.raises(ValueError, match=examples[0].id):
        _extract(plain_model, [examples[0], examples[1], examples[0]], tmp_path / "f")


def test_a_truncated_shard_of_a_finished_store_is_recomputed(plain_model, tmp_path, monkeypatch):
    """Reusing a finished store checks its shards: a truncated one is recomputed (alone) instead
    of failing at reading time with numpy's "mmap length is greater than file size"."""
    examples = make_examples(LENGTHS, seed=10)
    clean = _extract(plain_model, examples, tmp_path / "f", batch_size=2).load()
    path = tmp_path / "f" / "features-00001.npy"
    path.write_bytes(path.read_bytes()[:200])
    real_step, calls = extract._hook_step, []
    monkeypatch.setattr(extract, "_hook_step", lambda *a: calls.append(1) or real_step(*a))
    again = _extract(plain_model, examples, tmp_path / "f", batch_size=2)
    assert len(calls) == 2  # shard 1 only: 4 examples in batches of 2
    assert again.complete and again.ids == [e.id for e in examples]
    np.testing.assert_allclose(again.load(), clean, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("impl", "projection"),
    [("hooks", "kronecker"), ("hooks", "sketch"), ("loop", "kronecker"), ("loop", "sketch")],
)
def test_projection_maps_explicit_gradients_into_the_extractor_space(tmp_path, impl, projection):
    model = tiny_llama()
    cfg = FeatureConfig(
        impl=impl, projection=projection, proj_in=8, proj_out=4, loop_dim=48, batch_size=3
    )
    examples = make_examples([7, 12, 5, 9], seed=1)
    store = extract_features(
        model, examples, cfg, tmp_path, pad_id=0, model_name="tiny", show_progress=False
    )
    modules = select_layers(model, cfg.layers)
    grads = per_example_weight_grads(model, make_batch(examples), modules, per_example_loss)
    mapped = feature_projection(model, cfg, torch.device("cpu"))(grads)
    torch.testing.assert_close(mapped, torch.from_numpy(store.load()), rtol=1e-4, atol=1e-6)
