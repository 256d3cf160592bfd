import random

import pytest

from firmware_sim.loads import (
    PROFILES,
    constant,
    cooker,
    fridge,
    irrigation_pump,
    random_load,
    stall_lights,
)

RANGES = {
    irrigation_pump: (3000, 7500),
    stall_lights: (100, 400),
    cooker: (800, 2000),
    fridge: (100, 300),
}


@pytest.mark.parametrize("make", list(RANGES), ids=lambda f: f.__name__)
def test_power_stays_in_the_appliance_range_or_is_off(make):
    low, high = RANGES[make]
    for seed in range(20):
        profile = make(seed)
        for second in range(0, 3600, 7):
            power = profile.power_w(second)
            assert power == 0 or low <= power <= high


@pytest.mark.parametrize("make", list(RANGES), ids=lambda f: f.__name__)
def test_same_seed_gives_the_same_load(make):
    seconds = [s * 1.5 for s in range(500)]
    assert [make(7).power_w(s) for s in seconds] == [make(7).power_w(s) for s in seconds]


def test_different_seeds_give_different_loads():
    assert irrigation_pump(1).power_w(10) != irrigation_pump(2).power_w(10)


def test_pump_and_lights_run_steadily():
    for make in (irrigation_pump, stall_lights):
        powers = [make(3).power_w(s) for s in range(600)]
        assert min(powers) > 0
        assert max(powers) / min(powers) < 1.1


@pytest.mark.parametrize("make", [cooker, fridge], ids=lambda f: f.__name__)
def test_thermostat_loads_cycle_on_and_off(make):
    powers = [make(5).power_w(s) for s in range(3600)]
    off = sum(1 for p in powers if p == 0)
    assert 0.2 < off / len(powers) < 0.8


def test_constant_load_has_no_noise():
    assert {constant(1000).power_w(s) for s in range(100)} == {1000}


def test_no_power_before_switching_on():
    assert irrigation_pump(1).power_w(-1) == 0


def test_random_load_picks_known_profiles():
    rng = random.Random(1)
    assert {random_load(rng).name for _ in range(100)} == set(PROFILES)
