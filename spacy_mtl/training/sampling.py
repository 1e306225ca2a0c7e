"""How many documents each training source contributes to an epoch, and which.

Pure functions, shared by the multi-task readers (spacy_mtl/training/reader.py):
`source_shares` turns source sizes into per-epoch shares, `allocate_slots` turns
shares into whole document counts for one epoch, and `sample_epoch` draws the
documents themselves. Everything random goes through the `random.Random` the
caller passes in, so an epoch is reproducible from its generator's seed.
"""

import math
import random
from typing import List, Mapping, Optional, Sequence, Tuple, TypeVar

STRATEGY_PROPORTIONAL = "proportional"
STRATEGY_UNIFORM = "uniform"
STRATEGY_TEMPERATURE = "temperature"
STRATEGIES = (STRATEGY_PROPORTIONAL, STRATEGY_UNIFORM, STRATEGY_TEMPERATURE)
# The readers' setting for "no sampling": every document once (a dev corpus).
SAMPLING_NONE = "none"
SAMPLINGS = STRATEGIES + (SAMPLING_NONE,)

T = TypeVar("T")


def source_shares(
    sizes: Sequence[int],
    strategy: str,
    temperature: float = 1.0,
    weights: Optional[Sequence[float]] = None,
) -> List[float]:
    """Compute the share of each source in an epoch.

    Every strategy gives a score per source, multiplies it by the source's
    weight and normalises the scores to sum to 1. An empty source (size 0)
    always gets share 0.

    sizes (Sequence[int]): The number of documents of each source.
    strategy (str): "proportional" (score n_i), "uniform" (score 1) or
        "temperature" (score n_i ** (1 / temperature): temperature 1 is
        proportional, and a large temperature tends to uniform).
    temperature (float): The temperature, > 0; only read by "temperature".
    weights (Optional[Sequence[float]]): A non-negative factor per source,
        default 1.0 each.
    RETURNS (List[float]): The shares, in the order of `sizes`, summing to 1.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown sampling strategy {strategy!r}: expected one of "
            f"{', '.join(repr(s) for s in STRATEGIES)}."
        )
    sizes = _checked_sizes(sizes)
    weights = _checked_weights(weights, len(sizes))
    if strategy == STRATEGY_TEMPERATURE:
        _check_temperature(temperature)
    live = _live_sources(sizes, weights)
    scores = _scores(strategy, sizes, weights, live, temperature)
    total = sum(scores)
    return [score / total for score in scores]


def _checked_sizes(sizes: Sequence[int]) -> List[int]:
    sizes = list(sizes)
    if not sizes:
        raise ValueError("Cannot compute source shares: no sources given.")
    for i, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(
                f"Source sizes must be non-negative integers, got {size!r} at position {i}."
            )
    return sizes


def _checked_weights(weights: Optional[Sequence[float]], n_sources: int) -> List[float]:
    if weights is None:
        return [1.0] * n_sources
    weights = [float(w) for w in weights]
    if len(weights) != n_sources:
        raise ValueError(f"Got {len(weights)} weights for {n_sources} sources.")
    for i, weight in enumerate(weights):
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"Source weights must be finite and >= 0, got {weight!r} at position {i}."
            )
    return weights


def _check_temperature(temperature: float) -> None:
    if not isinstance(temperature, (int, float)) or math.isnan(temperature) or temperature <= 0:
        raise ValueError(
            f"Sampling temperature must be > 0, got {temperature!r} (1.0 samples "
            f"proportionally to source size; larger values tend to uniform)."
        )


def _live_sources(sizes: List[int], weights: List[float]) -> List[bool]:
    """Which sources can be drawn from: not empty and not weighted 0; at least one must."""
    live = [size > 0 and weight > 0 for size, weight in zip(sizes, weights)]
    if not any(live):
        if all(weight == 0 for weight in weights):
            raise ValueError("All source weights are 0: at least one source needs a weight > 0.")
        raise ValueError(
            "Every source with a weight > 0 is empty: there is nothing to sample from."
        )
    return live


def _scores(
    strategy: str, sizes: List[int], weights: List[float], live: List[bool], temperature: float
) -> List[float]:
    """Each source's unnormalised share under `strategy`, 0 for those that cannot be drawn."""
    if strategy == STRATEGY_PROPORTIONAL:
        return [size * weight if ok else 0.0 for size, weight, ok in zip(sizes, weights, live)]
    if strategy == STRATEGY_UNIFORM:
        return [weight if ok else 0.0 for weight, ok in zip(weights, live)]
    # In log space, so that a small temperature cannot overflow n ** (1 / T).
    logs = [
        math.log(size) / temperature + math.log(weight) if ok else -math.inf
        for size, weight, ok in zip(sizes, weights, live)
    ]
    top = max(logs)
    return [math.exp(value - top) if ok else 0.0 for value, ok in zip(logs, live)]


def allocate_slots(shares: Sequence[float], n: int, rng: random.Random) -> List[int]:
    """Split the n slots of an epoch into a whole number of documents per source.

    Source i gets floor(n * share_i) slots, plus one more with probability equal
    to the fractional part, so its expected count is exactly n * share_i and it
    never strays from it by a whole document. Proportional shares with n equal to
    the total size therefore give every source exactly its size.

    shares (Sequence[float]): The shares, non-negative, summing to 1.
    n (int): The number of slots, >= 0.
    rng (random.Random): The random generator.
    RETURNS (List[int]): The number of slots of each source, summing to n.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"The number of slots must be an integer >= 0, got {n!r}.")
    if not shares or any(not math.isfinite(s) or s < 0 for s in shares) or sum(shares) <= 0:
        raise ValueError(f"Shares must be non-negative and not all 0, got {list(shares)!r}.")
    total = sum(shares)
    quotas = [n * share / total for share in shares]
    counts = [int(math.floor(quota)) for quota in quotas]
    remainder = n - sum(counts)
    if remainder <= 0:
        return counts
    fractions = [quota - count for quota, count in zip(quotas, counts)]
    # Systematic sampling over the fractional parts (which sum to `remainder`): one
    # uniform offset picks `remainder` distinct sources, each with probability equal
    # to its fractional part. Visiting the sources in random order breaks the
    # correlation between neighbours.
    order = list(range(len(shares)))
    rng.shuffle(order)
    scale = remainder / sum(fractions)
    offset = rng.random()
    cumulative = 0.0
    picked = 0
    for position, i in enumerate(order):
        start = cumulative
        cumulative = (
            float(remainder) if position == len(order) - 1 else cumulative + fractions[i] * scale
        )
        extra = math.floor(cumulative - offset) - math.floor(start - offset)
        extra = max(0, min(extra, 1, remainder - picked))
        counts[i] += extra
        picked += extra
    return counts


def sample_epoch(
    pools: Mapping[str, Sequence[T]],
    shares: Mapping[str, float],
    n: int,
    rng: random.Random,
    *,
    shuffle: bool = True,
) -> List[Tuple[str, T]]:
    """Draw one epoch of n (source, item) pairs.

    Each slot of the epoch goes to a source by its share (`allocate_slots`), the
    slots are put in random order, and each source fills its slots with the next
    items of a cycle over its pool: a fresh permutation each time round (or the
    pool's own order with shuffle=False). Within a cycle nothing repeats, so a
    small source is cycled through and a big one is not repeated before all of
    its items have been drawn.

    pools (Mapping[str, Sequence[T]]): The items of each source.
    shares (Mapping[str, float]): The share of each source, same keys as pools.
    n (int): The number of draws.
    rng (random.Random): The random generator; the same state gives the same epoch.
    shuffle (bool): Whether to shuffle each cycle over a pool.
    RETURNS (List[Tuple[str, T]]): The draws, in epoch order.
    """
    names = list(pools)
    if set(shares) != set(names):
        raise ValueError(
            f"Shares are given for {sorted(shares)}, but the pools are {sorted(names)}."
        )
    counts = allocate_slots([shares[name] for name in names], n, rng)
    draws_by_source = {}
    for name, count in zip(names, counts):
        pool = pools[name]
        if count and not len(pool):
            raise ValueError(f"Source {name!r} has share {shares[name]} but no items to draw.")
        indices: List[int] = []
        while len(indices) < count:
            cycle = list(range(len(pool)))
            if shuffle:
                rng.shuffle(cycle)
            indices.extend(cycle[: count - len(indices)])
        draws_by_source[name] = iter([pool[i] for i in indices])
    slots = [name for name, count in zip(names, counts) for _ in range(count)]
    rng.shuffle(slots)
    return [(name, next(draws_by_source[name])) for name in slots]
