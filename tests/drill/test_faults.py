"""The scenario table: every scenario a plan may name has its fault, and only those."""

from __future__ import annotations

import random

from serialvault.drill.faults import FAULTS, flip_bit
from serialvault.drill.plan import SCENARIOS
from serialvault.drill.runner import AFTER_RESTORE


def test_every_scenario_has_exactly_one_fault() -> None:
    assert set(FAULTS) == set(SCENARIOS)


def test_after_restore_judgements_belong_to_known_scenarios() -> None:
    assert set(AFTER_RESTORE) <= set(SCENARIOS)


def test_flip_bit_changes_exactly_one_bit() -> None:
    rnd = random.Random(7)
    for n in (1, 2, 100):
        data = bytes(rnd.randrange(256) for _ in range(n))
        flipped = flip_bit(data, rnd)
        diff = sum(bin(a ^ b).count("1") for a, b in zip(data, flipped, strict=True))
        assert diff == 1
