"""`rag_eval` reports what each leg adds to the fusion and how the fusion compares with the best leg."""

from __future__ import annotations

from apps.bench.retrieval.runner import CONFIGURATIONS, leg_gains


def figures(recall: float, ndcg: float) -> dict:
    return {"recall@5": recall, "ndcg@10": ndcg}


def test_each_leg_gain_is_hybrid_minus_hybrid_without_it():
    configurations = {
        "dense": figures(0.62, 0.55),
        "keyword": figures(0.81, 0.74),
        "graph": figures(0.54, 0.50),
        "hybrid": figures(0.77, 0.68),
        "hybrid_without_dense": figures(0.79, 0.70),
        "hybrid_without_keyword": figures(0.65, 0.58),
        "hybrid_without_graph": figures(0.76, 0.65),
    }

    gains = leg_gains(configurations)

    assert gains["dense"] == {"recall@5": -0.02, "ndcg@10": -0.02}  # the fusion is better without it
    assert gains["keyword"] == {"recall@5": 0.12, "ndcg@10": 0.1}
    assert gains["graph"] == {"recall@5": 0.01, "ndcg@10": 0.03}
    # Below the keyword leg alone: the emanual case the fusion must not fall into.
    assert gains["hybrid_minus_best_single_leg"] == {"recall@5": -0.04, "ndcg@10": -0.06}


def test_only_the_configurations_that_ran_are_compared():
    assert leg_gains({"dense": figures(0.5, 0.5)}) == {}
    assert leg_gains({"hybrid": figures(0.7, 0.6), "hybrid_without_graph": figures(0.6, 0.6)}) == {
        "graph": {"recall@5": 0.1, "ndcg@10": 0.0}
    }


def test_every_leg_has_an_ablation_configuration():
    hybrid = set(CONFIGURATIONS["hybrid"])
    for leg in hybrid:
        assert set(CONFIGURATIONS[f"hybrid_without_{leg}"]) == hybrid - {leg}
