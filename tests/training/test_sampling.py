import random
from collections import Counter

import pytest

from spacy_mtl.training.sampling import STRATEGIES, allocate_slots, sample_epoch, source_shares

SIZES = [1000, 100, 10]


def pools_of(sizes):
    return {f"s{i}": [f"s{i}-{j}" for j in range(size)] for i, size in enumerate(sizes)}


def test_shares_proportional_and_uniform():
    assert source_shares([300, 100], "proportional") == pytest.approx([0.75, 0.25])
    assert source_shares([300, 100], "uniform") == pytest.approx([0.5, 0.5])


def test_shares_temperature():
    # n ** (1/2): sqrt(400) = 20 and sqrt(100) = 10.
    assert source_shares([400, 100], "temperature", 2.0) == pytest.approx([2 / 3, 1 / 3])


def test_temperature_one_is_proportional():
    assert source_shares(SIZES, "temperature", 1.0) == pytest.approx(
        source_shares(SIZES, "proportional"), abs=1e-12
    )


def test_temperature_extremes():
    uniform = source_shares(SIZES, "uniform")
    proportional = source_shares(SIZES, "proportional")
    assert source_shares(SIZES, "temperature", 1e6) == pytest.approx(uniform, abs=1e-4)
    # In between, the smallest source gains share as the temperature rises.
    smallest = [source_shares(SIZES, "temperature", t)[2] for t in (1.0, 2.0, 5.0, 50.0)]
    assert proportional[2] == pytest.approx(smallest[0])
    assert smallest == sorted(smallest) and smallest[-1] < uniform[2]
    # A tiny temperature must not overflow: the biggest source takes everything.
    assert source_shares(SIZES, "temperature", 0.001)[0] == pytest.approx(1.0)


def test_weights():
    assert source_shares([100, 100], "proportional", weights=[1, 3]) == pytest.approx([0.25, 0.75])
    assert source_shares([300, 100], "uniform", weights=[1, 2]) == pytest.approx([1 / 3, 2 / 3])
    assert source_shares([100, 100, 5], "uniform", weights=[1, 1, 0]) == [0.5, 0.5, 0.0]


def test_empty_source_gets_no_share():
    assert source_shares([10, 0], "uniform") == [1.0, 0.0]
    assert source_shares([10, 0], "temperature", 1e9) == [1.0, 0.0]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(strategy="balanced"), "'proportional', 'uniform', 'temperature'"),
        (dict(strategy="temperature", temperature=0), "temperature must be > 0, got 0"),
        (dict(strategy="temperature", temperature=-1.5), "got -1.5"),
        (dict(strategy="uniform", weights=[1, -1]), "got -1.0 at position 1"),
        (dict(strategy="uniform", weights=[0, 0]), "All source weights are 0"),
        (dict(strategy="uniform", weights=[1]), "1 weights for 2 sources"),
    ],
)
def test_share_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        source_shares([10, 20], **kwargs)


def test_all_weighted_sources_empty():
    with pytest.raises(ValueError, match="empty"):
        source_shares([0, 20], "uniform", weights=[1, 0])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sampled_shares_match(strategy):
    pools = pools_of(SIZES)
    shares = dict(zip(pools, source_shares(SIZES, strategy, temperature=2.0)))
    draws = sample_epoch(pools, shares, 20000, random.Random(0))
    assert len(draws) == 20000
    counts = Counter(source for source, _ in draws)
    for name, share in shares.items():
        assert counts[name] / 20000 == pytest.approx(share, abs=0.01)
        assert all(item.startswith(name + "-") for source, item in draws if source == name)


def test_allocation_is_unbiased_for_fractional_quotas():
    # One slot per epoch: deterministic rounding would always give it to "b".
    rng = random.Random(1)
    wins = sum(allocate_slots([0.3, 0.7], 1, rng)[0] for _ in range(20000))
    assert wins / 20000 == pytest.approx(0.3, abs=0.015)


def test_allocation_stays_within_one_of_quota():
    rng = random.Random(2)
    for n in (0, 1, 7, 100, 999):
        counts = allocate_slots([0.5, 0.3, 0.2], n, rng)
        assert sum(counts) == n
        for count, share in zip(counts, [0.5, 0.3, 0.2]):
            assert abs(count - n * share) < 1


def test_proportional_full_epoch_draws_each_item_once():
    pools = pools_of([50, 7, 3])
    shares = dict(zip(pools, source_shares([50, 7, 3], "proportional")))
    draws = sample_epoch(pools, shares, 60, random.Random(3))
    items = [item for _, item in draws]
    assert sorted(items) == sorted(i for pool in pools.values() for i in pool)
    # The sources are interleaved, not one block after another.
    assert [source for source, _ in draws] != sorted(source for source, _ in draws)


def test_small_source_is_cycled_big_one_not_repeated():
    pools = {"big": list(range(100)), "small": ["x", "y", "z"]}
    draws = sample_epoch(pools, {"big": 0.5, "small": 0.5}, 120, random.Random(4))
    small = [item for source, item in draws if source == "small"]
    big = [item for source, item in draws if source == "big"]
    assert len(small) == 60 and len(big) == 60
    # Every consecutive block of 3 small draws is one permutation of the pool.
    for start in range(0, 60, 3):
        assert sorted(small[start : start + 3]) == ["x", "y", "z"]
    assert len(set(big)) == 60


def test_no_shuffle_keeps_pool_order_within_source():
    pools = {"a": ["a0", "a1", "a2"], "b": ["b0", "b1"]}
    draws = sample_epoch(pools, {"a": 0.5, "b": 0.5}, 10, random.Random(5), shuffle=False)
    assert [i for s, i in draws if s == "a"] == ["a0", "a1", "a2", "a0", "a1"]
    assert [i for s, i in draws if s == "b"] == ["b0", "b1", "b0", "b1", "b0"]


def test_reproducible():
    pools = pools_of(SIZES)
    shares = dict(zip(pools, source_shares(SIZES, "uniform")))
    first = sample_epoch(pools, shares, 500, random.Random(7))
    assert sample_epoch(pools, shares, 500, random.Random(7)) == first
    assert sample_epoch(pools, shares, 500, random.Random(8)) != first


def test_sampler_errors():
    with pytest.raises(ValueError, match="Shares are given for"):
        sample_epoch({"a": [1]}, {"b": 1.0}, 3, random.Random(0))
    with pytest.raises(ValueError, match="'a' has share 1.0 but no items"):
        sample_epoch({"a": []}, {"a": 1.0}, 3, random.Random(0))
    with pytest.raises(ValueError, match="integer >= 0"):
        allocate_slots([1.0], -1, random.Random(0))
