import pytest
from omegaconf import OmegaConf

from drift.attribution.config import FeatureConfig, FeatureImpl, ProjectionKind, StorageDType
from drift.config import ConfigError


def test_defaults_and_omegaconf_merge():
    merged = OmegaConf.merge(
        OmegaConf.structured(FeatureConfig), {"impl": "loop", "dtype": "float16"}
    )
    cfg = OmegaConf.to_object(merged)
    assert cfg.impl is FeatureImpl.loop and cfg.dtype is StorageDType.float16
    assert FeatureConfig().impl is FeatureImpl.hooks and FeatureConfig().loop_dim is None
    assert FeatureConfig().projection is ProjectionKind.sketch  # chosen by `drift bench features`


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"impl": "fast"}, "attribution.impl"),
        ({"dtype": "int8"}, "attribution.dtype"),
        ({"projection": "gaussian"}, "attribution.projection"),
        ({"proj_in": 0}, "attribution.proj_in"),
        ({"shard_size": -1}, "attribution.shard_size"),
        ({"loop_dim": 0}, "attribution.loop_dim"),
        ({"layers": ["ok", "(unclosed"]}, "attribution.layers[1]"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        FeatureConfig(**kwargs)


def test_strings_become_enums():
    assert FeatureConfig(impl="loop").impl is FeatureImpl.loop


def test_cache_keys_ignore_the_projection_under_the_loop_only():
    """The loop ignores ``projection``: its stores keep one key (the one from before the setting
    existed) whatever the setting says; the hooks' keys split on it."""
    loop = [FeatureConfig(impl="loop", projection=p).keyed() for p in ("sketch", "kronecker")]
    assert loop[0] == loop[1] and loop[0].projection is ProjectionKind.kronecker
    hooks = [FeatureConfig(projection=p).keyed() for p in ("sketch", "kronecker")]
    assert hooks[0] != hooks[1]
