import itertools

import numpy as np
import pytest

from effaug import policies as P


def test_the_twelve_configurations_parse_with_their_labels():
    labels = [P.parse_policy(name).label for name in P.TWELVE]
    assert labels == [
        "Baseline", "Rand Prop", "Rand Prop Down", "Rand Prop Update", "Rand Prop Update Down",
        "Rand Inverse Prop", "Det Prop", "Det Prop Down", "Det Prop Update", "Det Prop Update Down",
        "Det Inverse Prop", "Det Inverse Prop Update",
    ]
    assert [P.parse_policy(n).stochastic for n in P.TWELVE].count(True) == 6
    assert P.parse_policy("clustered-rand-prop-c50").label == "Clustered Rand Prop (c=50)"
    assert P.parse_policy("kdpp-influence").uses_score and not P.parse_policy("kdpp-bottleneck").uses_score
    assert not P.parse_policy("baseline").uses_score and not P.parse_policy("clustered-baseline-c10").uses_score
    for bad in ("random", "rand-prop-down-update", "clustered-rand-prop-c0", "kdpp-loss"):
        with pytest.raises(P.PolicyError, match="unknown policy"):
            P.parse_policy(bad)


def test_a_scored_kdpps_label_names_the_score_it_runs_under():
    scored, plain = P.parse_policy("kdpp-influence"), P.parse_policy("kdpp-bottleneck")
    assert scored.label_for("influence") == "k-DPP (influence)" and scored.label_for("loss") == "k-DPP (loss)"
    assert plain.label_for("loss") == plain.label == "k-DPP"
    assert P.parse_policy("rand-prop").label_for("loss") == "Rand Prop"  # the table's own score names it


def test_orders_are_permutations_and_seeded():
    scores = np.random.default_rng(0).exponential(size=50)
    for name in ("baseline", "rand-prop", "rand-inverse-prop", "det-prop", "det-inverse-prop"):
        policy = P.parse_policy(name)
        a = P.order(policy, scores, P.rng_for(name, 1), 50)
        b = P.order(policy, scores, P.rng_for(name, 1), 50)
        c = P.order(policy, scores, P.rng_for(name, 2), 50)
        assert sorted(a) == list(range(50))
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(a, c) == (not policy.stochastic)


def test_det_prop_and_det_inverse_prop_are_reverse_sorted():
    scores = np.array([0.3, -2.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(P.deterministic_order(scores), [1, 3, 4, 0, 2])
    np.testing.assert_array_equal(P.deterministic_order(scores, inverse=True), [2, 0, 4, 3, 1])


def test_budgets_take_nested_prefixes():
    order = P.order(P.parse_policy("rand-prop"), np.arange(1, 21.0), P.rng_for("rand-prop", 0), 20)
    sets = [set(order[:k]) for k in (1, 5, 10, 20)]
    assert all(a <= b for a, b in zip(sets, sets[1:]))


def test_successive_sampling_first_pick_and_pair_frequencies():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(0)
    draws = np.array([P.successive_sampling(weights, rng)[:2] for _ in range(40000)])
    first = np.bincount(draws[:, 0], minlength=4) / len(draws)
    np.testing.assert_allclose(first, weights / weights.sum(), atol=0.01)
    # successive sampling: P(first=i, second=j) = w_i/W * w_j/(W - w_i)
    W = weights.sum()
    for i, j in [(3, 2), (0, 3), (2, 1)]:
        expected = weights[i] / W * weights[j] / (W - weights[i])
        observed = np.mean((draws[:, 0] == i) & (draws[:, 1] == j))
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / len(draws))


def test_rand_prop_favours_high_and_inverse_favours_low_scores():
    scores = np.array([0.01, 0.1, 1.0, 10.0])
    prop = [P.order(P.parse_policy("rand-prop"), scores, P.rng_for("x", s), 4)[0] for s in range(2000)]
    inverse = [P.order(P.parse_policy("rand-inverse-prop"), scores, P.rng_for("x", s), 4)[0] for s in range(2000)]
    assert np.bincount(prop, minlength=4).argmax() == 3
    assert np.bincount(inverse, minlength=4).argmax() == 0
    assert np.mean(np.array(prop) == 3) == pytest.approx(10 / 11.11, abs=0.03)


def test_zero_scores_get_a_tiny_positive_weight():
    weights = P.proportional_weights(np.array([0.0, 1.0, -2.0]))
    assert weights[0] == P.ZERO_SCORE and weights[2] == 2.0
    inverse = P.proportional_weights(np.array([0.0, 1.0]), inverse=True)
    assert np.isfinite(inverse).all() and inverse[0] > 1e300
    order = P.order(P.parse_policy("rand-inverse-prop"), np.array([0.0, 1.0, 2.0]), P.rng_for("x", 0), 3)
    assert order[0] == 0  # a zero score makes the inverse weight overwhelming


def test_update_continues_without_repeating_chosen_points():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    policy = P.parse_policy("det-prop-update")
    nxt = P.continue_order(policy, scores, np.array([0, 2]), 2, P.rng_for("x", 0))
    np.testing.assert_array_equal(nxt, [1, 3])
    rand = P.continue_order(P.parse_policy("rand-prop-update"), scores, np.array([0, 2]), 3, P.rng_for("x", 0))
    assert sorted(rand) == [1, 3, 4]
    with pytest.raises(P.PolicyError, match="only 3 remain"):
        P.continue_order(policy, scores, np.array([0, 2]), 4, P.rng_for("x", 0))


def test_downweighting_makes_each_augmented_group_weigh_one():
    chosen = np.array([3, 0])
    weights = P.sample_weights(5, chosen, 4, down=True)
    assert len(weights) == 5 + 8
    assert weights[3] + weights[5:9].sum() == pytest.approx(1.0)
    assert weights[0] + weights[9:13].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(weights[[1, 2, 4]], 1.0)
    np.testing.assert_array_equal(P.sample_weights(5, chosen, 4, down=False), 1.0)


def test_clustered_round_robin():
    labels = np.array([0, 0, 0, 1, 1, 2])
    order = P.clustered_order("baseline", labels, None, P.rng_for("c", 0))
    assert sorted(order) == list(range(6))
    first_round = set(labels[order[:3]])
    assert first_round == {0, 1, 2}  # one pick of every cluster before any second pick
    assert set(labels[order[3:5]]) == {0, 1} and labels[order[5]] == 0
    single = P.clustered_order("rand-prop", np.zeros(4, int), np.array([1.0, 1, 1, 1e6]), P.rng_for("c", 0))
    assert single[0] == 3  # one cluster: the inner policy alone


def exact_kdpp_marginals(L, k):
    n = len(L)
    total = np.zeros(n)
    norm = 0.0
    for subset in itertools.combinations(range(n), k):
        p = np.linalg.det(L[np.ix_(subset, subset)])
        norm += p
        total[list(subset)] += p
    return total / norm


@pytest.mark.parametrize("k", [1, 2, 4, 5])
def test_kdpp_marginals_match_the_kernel(k):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 3))
    L = P.kdpp_kernel(features, quality=rng.uniform(0.5, 2.0, 6), epsilon=0.05)
    lam, V = np.linalg.eigh(L)
    draws = 6000
    counts = np.zeros(6)
    for _ in range(draws):
        sample = P.kdpp_sample(lam, V, k, rng)
        assert len(sample) == k and len(set(sample)) == k
        counts[sample] += 1
    expected = exact_kdpp_marginals(L, k)
    assert expected.sum() == pytest.approx(k)
    np.testing.assert_allclose(counts / draws, expected, atol=4 * np.sqrt(0.25 / draws) + 1e-9)


@pytest.mark.parametrize("k", [2, 4])
def test_kdpp_subset_frequencies_match_the_determinants(k):
    """The whole distribution, below and above N/2 (where the complement is sampled)."""
    rng = np.random.default_rng(1)
    L = P.kdpp_kernel(rng.normal(size=(6, 3)), quality=rng.uniform(0.5, 2.0, 6), epsilon=0.05)
    lam, V = np.linalg.eigh(L)
    subsets = list(itertools.combinations(range(6), k))
    expected = np.array([np.linalg.det(L[np.ix_(s, s)]) for s in subsets])
    expected /= expected.sum()
    draws = 6000
    counts = dict.fromkeys(subsets, 0)
    for _ in range(draws):
        counts[tuple(P.kdpp_sample(lam, V, k, rng))] += 1
    observed = np.array([counts[s] for s in subsets]) / draws
    assert np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-9)


def test_kdpp_handles_every_k_up_to_n_and_prefers_diverse_sets():
    rng = np.random.default_rng(1)
    # two tight groups of near-duplicates: a 2-DPP should almost always take one of each
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    features = np.repeat(centres, 50, axis=0) + 0.01 * rng.normal(size=(100, 3))
    lam, V = np.linalg.eigh(P.kdpp_kernel(features, epsilon=1e-3))
    groups = [len(set(P.kdpp_sample(lam, V, 2, rng) // 50)) for _ in range(200)]
    assert np.mean(np.array(groups) == 2) > 0.95
    assert list(P.kdpp_sample(lam, V, 100, rng)) == list(range(100))
    assert len(set(P.kdpp_sample(lam, V, 99, rng))) == 99
    E = P.log_elementary_symmetric(lam, 100)
    assert np.isfinite(E[100]).all()


def test_a_policy_refuses_to_order_by_an_undefined_score_and_names_it():
    from effaug import experiment as E
    from effaug.settings import Settings

    scores = np.array([1.0, np.nan, 2.0, 3.0])
    features = np.zeros((4, 2))
    for name in ("det-prop", "rand-prop", "rand-inverse-prop"):
        with pytest.raises(P.PolicyError, match=r"score 'newton_loo' is NaN or infinite for 1 of 4 points.*hessian_l2"):
            E.static_order(P.parse_policy(name), scores, features, 0, Settings(), "newton_loo")
    with pytest.raises(P.PolicyError, match="score 'loss' is NaN or infinite for 1 of 4"):
        E.update_choice(P.parse_policy("det-prop-update"), scores, np.empty(0, np.int64), 2, 0, "loss")
