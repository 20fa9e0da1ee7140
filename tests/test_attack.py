"""The scenarios of ``make attack`` (tests/attack.py) in ``make test``: each named scenario
reproduces a failure of issue 12 with real ``jlab`` processes (local servers on 127.0.0.1, a
file-size limit, a small tmpfs, read-only directories) and must end as the issue requires.
The sweep of bad values over every option runs in ``make attack`` (and ``-m slow``)."""

from __future__ import annotations

import attack
import pytest

FAST = [s for s in attack.SCENARIOS if s.fast]


@pytest.mark.parametrize("scenario", FAST, ids=[s.fn.__name__ for s in FAST])
def test_attack_scenario_ends_as_issue_12_requires(scenario: attack.Scenario) -> None:
    outcome = attack.play(scenario)
    if outcome.status == "skip":
        pytest.skip(outcome.detail)
    assert outcome.status == "ok", f"item {scenario.item}: {outcome.detail}"


def test_every_numbered_item_of_the_issue_has_a_scenario() -> None:
    assert {s.item for s in attack.SCENARIOS} >= set(range(1, 17))


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [s for s in attack.SCENARIOS if not s.fast],
                         ids=[s.fn.__name__ for s in attack.SCENARIOS if not s.fast])
def test_slow_attack_scenario_ends_as_issue_12_requires(scenario: attack.Scenario) -> None:
    outcome = attack.play(scenario)
    assert outcome.status == "ok", f"item {scenario.item}: {outcome.detail}"


@pytest.mark.slow
def test_every_bad_option_value_exits_2_at_most_with_one_line_and_nothing_left() -> None:
    bad = [(name, detail) for name, ok, detail in attack.sweep() if not ok]
    assert not bad, bad[:10]
