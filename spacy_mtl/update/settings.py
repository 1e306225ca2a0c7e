"""How `update` trains: the settings, their defaults and their bounds.

Apart from api.py, so that the command line reads the defaults and bounds without
loading the pipeline's components (`python -m spacy mtl update --help` stays fast).
"""

import math
from dataclasses import dataclass
from typing import Callable, Optional

from .corpus import UpdateError

# Defaults chosen on ATIS cut by intents (benchmarks/bench_update.py).
DEFAULT_STEPS = 400
DEFAULT_REPLAY_SHARE = 0.5
DEFAULT_DISTILL_WEIGHT = 0.5
# The bounds of the options: past them a run is a typo, not a plan. A million steps is days
# of CPU; a learning rate above 1 makes Adam's first steps larger than the weights; spaCy
# seeds numpy, which takes 32-bit seeds.
MAX_STEPS = 1_000_000
MAX_LEARN_RATE = 1.0
MAX_SEED = 2**32 - 1


@dataclass
class UpdateSettings:
    """How `update` trains.

    steps (int): Training steps, 1 to MAX_STEPS.
    replay_share (Optional[float]): The replayed old documents' share of the update's
        training documents, in [0, 1); only with a replay corpus. None: DEFAULT_REPLAY_SHARE.
    distill_weight (float): The share of each head's loss taken from the old
        pipeline's predictions, in [0, 1]; 0 is plain fine-tuning.
    learn_rate (Optional[float]): The learning rate, in (0, MAX_LEARN_RATE]; None:
        loop.DEFAULT_LEARN_RATE_SCALE times the pipeline's own (a schedule stays as it is).
    seed (int): Seeds the replay sample and spaCy's training loop, 0 to MAX_SEED.
    prior_correction (bool): Afterwards, move an exclusive classifier's prior from the
        update's sampling to the old and new data's (prior.py; needs a replay corpus).
    """

    steps: int = DEFAULT_STEPS
    replay_share: Optional[float] = None
    distill_weight: float = DEFAULT_DISTILL_WEIGHT
    learn_rate: Optional[float] = None
    seed: int = 0
    prior_correction: bool = True

    @property
    def share(self) -> float:
        """The replay share in use: the one given, or the default."""
        return DEFAULT_REPLAY_SHARE if self.replay_share is None else self.replay_share

    def check(self, replay: bool) -> None:
        """Refuse a setting out of its range, naming the option; before any work.

        replay (bool): Whether a replay corpus is given (--replay-share needs one).
        """
        _check_integer("--steps", self.steps, 1, MAX_STEPS)
        _check_integer("--seed", self.seed, 0, MAX_SEED)
        if self.replay_share is not None:
            if not replay:
                raise UpdateError(
                    f"--replay-share {self.replay_share} needs --replay OLD.spacy: the share is "
                    "that of replayed old documents, and none are given. Add --replay, or drop "
                    "--replay-share."
                )
            _check_float("--replay-share", self.replay_share, "[0, 1)", lambda x: 0 <= x < 1)
        _check_float("--distill-weight", self.distill_weight, "[0, 1]", lambda x: 0 <= x <= 1)
        if self.learn_rate is not None:
            bounds = f"(0, {MAX_LEARN_RATE}]"
            _check_float("--learn-rate", self.learn_rate, bounds, lambda x: 0 < x <= MAX_LEARN_RATE)


def _check_integer(option: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UpdateError(
            f"{option} must be a whole number from {low:,} to {high:,}, not {value!r}."
        )


def _check_float(option: str, value, bounds: str, inside: Callable[[float], bool]) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and inside(value)):
        raise UpdateError(f"{option} must be a finite number in {bounds}, not {value!r}.")
