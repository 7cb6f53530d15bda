"""A verifier of your own, chosen from the command line (README, "Plug-ins"):

    drift method=drift_iw reward.verifier=examples.my_verifier:numeric_match

A verifier is any function ``(prediction, target) -> bool``: ``prediction`` is the answer read
from a turn, ``target`` the problem's ground truth. drift imports it and checks its signature
when the config loads, before any model is built.
"""

from __future__ import annotations


def _number(text: str) -> float | None:
    """``text`` as a number ("1,250" -> 1250.0, "3.0" -> 3.0), or None if it is not one."""
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def numeric_match(prediction: str | None, target: str) -> bool:
    """Equal as numbers ("3.0" == "3", "1,250" == "1250"), otherwise equal as stripped text."""
    if prediction is None:
        return False
    pred, gold = _number(prediction), _number(target)
    if pred is not None and gold is not None:
        return pred == gold
    return prediction.strip() == target.strip()
