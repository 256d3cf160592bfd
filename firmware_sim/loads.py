"""Load profiles: what an appliance plugged into an outlet draws, second by second."""
import random
from dataclasses import dataclass
from functools import cached_property

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class LoadProfile:
    """An appliance's power in W at each second since its outlet was switched on; a seed fixes it."""

    name: str
    low_w: float
    high_w: float
    noise: float = 0.02
    cycle_s: float = 0.0
    duty: float = 1.0
    seed: int = 0

    def power_w(self, elapsed_s: float) -> float:
        if elapsed_s < 0 or not self._running(elapsed_s):
            return 0.0
        jitter = 2 * _unit_noise(self.seed, int(elapsed_s)) - 1
        return min(self.high_w, max(self.low_w, self._level_w * (1 + self.noise * jitter)))

    def _running(self, elapsed_s: float) -> bool:
        if self.cycle_s <= 0:
            return True
        return (elapsed_s + self._phase_s) % self.cycle_s < self.duty * self.cycle_s

    @cached_property
    def _level_w(self) -> float:
        return random.Random(self.seed).uniform(self.low_w, self.high_w)

    @cached_property
    def _phase_s(self) -> float:
        return random.Random(~self.seed).uniform(0, self.cycle_s)


def constant(watts: float) -> LoadProfile:
    return LoadProfile("constant", watts, watts, noise=0.0)


def irrigation_pump(seed: int = 0) -> LoadProfile:
    return LoadProfile("irrigation_pump", 3000, 7500, noise=0.02, seed=seed)


def stall_lights(seed: int = 0) -> LoadProfile:
    return LoadProfile("stall_lights", 100, 400, noise=0.01, seed=seed)


def cooker(seed: int = 0) -> LoadProfile:
    """A tea-roasting or cooking hotplate whose thermostat switches it on and off."""
    return LoadProfile("cooker", 800, 2000, noise=0.03, cycle_s=90, duty=0.6, seed=seed)


def fridge(seed: int = 0) -> LoadProfile:
    """A stall's fridge whose compressor runs part of each cycle."""
    return LoadProfile("fridge", 100, 300, noise=0.05, cycle_s=600, duty=0.4, seed=seed)


PROFILES = {f.__name__: f for f in (irrigation_pump, stall_lights, cooker, fridge)}


def random_load(rng: random.Random) -> LoadProfile:
    make = rng.choice(list(PROFILES.values()))
    return make(rng.randrange(2**32))


def _unit_noise(seed: int, step: int) -> float:
    """A number in [0, 1) fixed by (seed, step): splitmix64, cheaper than a Random per call."""
    z = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)
