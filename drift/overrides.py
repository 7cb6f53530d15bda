"""Command-line overrides that a run would not use, refused with what to write instead.

A comparison (a preset with ``compare``: ``experiment=demo``, ``attribution_demo``, the paper and
SmolLM2 presets) trains its own copies of the methods, ``compare.<name>``; the ``method`` group
is composed too but never read. So ``drift experiment=demo method.beta=0.5`` would run the demo
unchanged: :func:`refuse_unused_overrides` stops it and names ``compare.drift_iw.beta=0.5``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drift.errors import ConfigError

_ABSENT = object()


def _has_key(cfg: DictConfig, key: str) -> bool:
    try:
        return OmegaConf.select(cfg, key, default=_ABSENT) is not _ABSENT
    except OmegaConfBaseException:  # there, but its value does not resolve
        return True


def refuse_unused_overrides(
    cfg: DictConfig, overrides: Sequence[str], choices: Mapping[str, str | None] | None = None
) -> None:
    """Raise :class:`ConfigError` for a ``method=...`` or ``method.<key>=...`` among
    ``overrides`` (the job's, from the command line or a sweep: Hydra's
    ``hydra.overrides.task``) when ``cfg`` compares the methods under ``compare``, which ignores
    them. ``choices`` (Hydra's ``hydra.runtime.choices``) name the preset in the message, and a
    ``method.<key>`` is pointed at the compared copies of the chosen ``method`` option. Adding a
    method to the comparison (``+method@compare.grpo=grpo``) is an override of ``compare`` and
    passes."""
    compare = OmegaConf.select(cfg, "compare")
    if not compare:
        return
    names = [str(n) for n in compare]
    choices = choices or {}
    experiment = choices.get("experiment")
    runner = f"experiment={experiment}" if experiment else "this run"
    parser = OverridesParser.create()
    for line in (str(x) for x in overrides):
        try:
            (override,) = parser.parse_overrides([line])
        except Exception:  # Hydra has composed it, so this does not happen; never hide a run
            continue
        key = override.key_or_group
        if override.package not in (None, "", "method") or not (
            key == "method" or key.startswith("method.")
        ):
            continue
        compared = ", ".join(names)
        if key == "method":
            value = override.get_value_element_as_str()
            add = f"+method@compare.{value}={value}" if value not in names else None
            raise ConfigError(
                f"{line} would be ignored: {runner} trains the methods under compare "
                f"({compared}), not the method group. Run {value} alone without the preset "
                f"(drift method={value} ...)"
                + (
                    f", or add it to the comparison: {add}"
                    if add
                    else f"; {value} is among them (its keys: compare.{value}.<key>=...)"
                )
            )
        sub = key[len("method.") :]
        chosen = choices.get("method")
        having = (
            [n for n in names if chosen and choices.get(f"method@compare.{n}") == chosen]
            or [n for n in names if _has_key(cfg, f"compare.{n}.{sub}")]
            or names
        )
        instead = " ".join(line.replace("method.", f"compare.{n}.", 1) for n in having)
        raise ConfigError(
            f"{line} would be ignored: {runner} trains its own copies of the methods, under "
            f"compare ({compared}); write {instead} instead"
        )
