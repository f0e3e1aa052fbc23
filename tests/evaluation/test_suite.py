"""Probes, splits and the suite end to end on real tasks."""

import numpy as np
import pytest

from satclip.cli import main
from satclip.evaluation import suite
from satclip.evaluation.encoders import resolve_encoder
from satclip.evaluation.probes import fit_score, make_probes
from satclip.evaluation.splits import folds
from satclip.evaluation.tasks import Task, load_task


def _synthetic(n=600, kind="regression", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)) * np.array([1, 10, 100, 0.1, 1])  # badly scaled on purpose
    y = x @ np.array([1.0, 0.1, 0.01, 10.0, 0.0]) + 0.01 * rng.normal(size=n)
    if kind == "classification":
        y = (y > 0).astype(int) + (y > 1).astype(int)
    return x, y


@pytest.mark.parametrize("probe", ["linear", "mlp", "knn"])
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_probes_learn_an_easy_target(probe, kind):
    x, y = _synthetic(kind=kind)
    score = fit_score(probe, kind, x[:500], y[:500], x[500:], y[500:])
    # A ridge classifier (least squares on one-hot targets) separates ordered classes less well.
    floor = {"linear": 0.95 if kind == "regression" else 0.75, "mlp": 0.8, "knn": 0.6}[probe]
    assert score > floor


def test_features_are_standardised_on_the_training_part_only():
    x, y = _synthetic()
    (est,) = make_probes("linear", "regression")
    est.fit(x[:100], y[:100])
    np.testing.assert_allclose(est.named_steps["scale"].mean_, x[:100].mean(axis=0))


def _toy_task():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 2000), rng.uniform(-60, 70, 2000)
    cont = np.where(lon < -30, "Americas", np.where(lon < 60, "EuropeAfrica", "Asia"))
    return Task("toy", "regression", np.stack([lon, lat], 1), lat.copy(), cont)


def test_splits_are_disjoint_and_spatial():
    task = _toy_task()
    random = list(folds(task, "random"))
    assert len(random) == 3 and all(
        len(te) == 400 and len(np.intersect1d(tr, te)) == 0 for _, tr, te in random
    )
    block = list(folds(task, "block"))
    assert len(block) == 5
    cover = np.concatenate([te for _, _, te in block])
    assert sorted(cover.tolist()) == list(range(2000)), "block folds partition the points"

    def cells(i):
        lon_cell = np.floor((task.lonlat[i, 0] + 180) / 10)
        return set(zip(lon_cell, np.floor((task.lonlat[i, 1] + 90) / 10), strict=True))

    for _, tr, te in block:
        assert not cells(tr) & cells(te)
    cont = list(folds(task, "continent"))
    assert [name for name, _, _ in cont] == ["Americas", "Asia", "EuropeAfrica"]
    for name, tr, te in cont:
        assert set(task.continent[te]) == {name} and name not in set(task.continent[tr])


def test_a_continent_with_a_constant_regression_target_is_not_scored():
    # R² is undefined there: scikit-learn scores any prediction 0.0 (population in Antarctica).
    task = _toy_task()
    y = task.y.copy()
    y[task.continent == "Asia"] = 0.0
    const = Task("toy", "regression", task.lonlat, y, task.continent)
    assert [name for name, _, _ in folds(const, "continent")] == ["Americas", "EuropeAfrica"]
    labels = Task("toy", "classification", task.lonlat, (y > 0).astype(int), task.continent)
    assert len(list(folds(labels, "continent"))) == 3  # accuracy is defined on one class


def test_population_is_not_scored_on_antarctica():
    task = load_task("population")
    assert "Antarctica" in set(task.continent)
    assert "Antarctica" not in [name for name, _, _ in folds(task, "continent")]


def test_unknown_encoder_lists_valid_ones():
    with pytest.raises(ValueError, match=r"sh<L>.*spherecplus.*geoclip"):
        resolve_encoder("sphere-c")
    assert resolve_encoder("sh10")(np.array([[0.0, 0.0]])).shape == (1, 100)


def test_suite_on_real_tasks(cache, tmp_path):
    rows = suite.run(
        ["direct", "sh10"],
        ["air_temp", "countries"],
        "linear",
        ["random", "block", "continent"],
        progress=False,
    )
    assert {r["split"] for r in rows} == {"random", "block", "continent"}
    # Country classes never cross continents: that split is skipped, not scored as zero.
    assert not [r for r in rows if r["task"] == "countries" and r["split"] == "continent"]
    summary = suite.summarise(rows)
    # Real structure: harmonics explain temperature far better than raw radians.
    assert summary[("random", "air_temp", "sh10")][0] > 0.8
    assert summary[("random", "air_temp", "sh10")][0] > summary[("random", "air_temp", "direct")][0]
    assert summary[("random", "countries", "sh10")][0] > 0.3
    out = suite.write_outputs(rows, tmp_path / "res")
    for name in ("results.csv", "results.md", "air_temp.png", "countries.png"):
        assert (out / name).exists()
    md = (out / "results.md").read_text()
    assert "### split: block" in md and "mean rank" in md
    ranks = suite.mean_ranks(summary)
    assert ranks[("random", "sh10")] == 1.0


def test_cli_evaluate(cache, tmp_path, capsys):
    argv = ["evaluate", "--models", "wrap,sh4", "--tasks", "air_temp", "--splits", "random", "-q"]
    assert main([*argv, "-o", str(tmp_path / "r")]) == 0
    assert "air_temp (r2)" in capsys.readouterr().out
    assert main(["evaluate", "--models", "wrap", "--tasks", "temps", "-o", str(tmp_path / "x")]) == 2
    assert "unknown task(s) ['temps']" in capsys.readouterr().err
    assert main(["evaluate", "--models", "nope", "--tasks", "air_temp", "-o", str(tmp_path / "x")]) == 2
    assert "unknown encoder 'nope'" in capsys.readouterr().err


def test_model_files_are_encoders(cache, tmp_path):
    import torch

    import satclip

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    path = satclip.save(
        satclip.LocationEncoder(sh, satclip.create_network("linear", dim_in=36, dim_out=8)),
        tmp_path / "m.safetensors",
    )
    task = load_task("air_temp")
    assert resolve_encoder(str(path))(task.lonlat[:10]).shape == (10, 8)


def test_geoclip_peer_takes_lon_lat_and_swaps_it():
    geoclip = pytest.importorskip("geoclip", reason="the optional geoclip extra")
    import torch

    feats = resolve_encoder("geoclip")
    pts = np.array([[2.35, 48.86], [-74.0, 40.71], [179.999, 10.0], [-179.999, 10.0]])
    out = feats(pts)
    assert out.shape == (4, 512)
    with torch.no_grad():
        direct = geoclip.LocationEncoder().eval()(torch.tensor([[48.86, 2.35]], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out[:1], direct, rtol=1e-4, atol=1e-5)
    # GeoCLIP's projected RFF encoding is not continuous across the dateline (a known limitation).
    cos = out[2] @ out[3] / np.linalg.norm(out[2]) / np.linalg.norm(out[3])
    assert cos < 0.9


def test_block_split_adapts_to_a_regional_task(cache):
    task = load_task("cal_housing")
    block = list(folds(task, "block"))
    assert len(block) == 5 and all(len(te) > 1000 for _, _, te in block)


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_fast_ridge_matches_scikit_learn(kind):
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV

    from satclip.evaluation.probes import ALPHAS, RidgeLOO

    x, y = _synthetic(n=400, kind=kind, seed=3)
    x = x + np.random.default_rng(4).normal(size=x.shape) * 3  # noisy enough that alpha matters
    ours = RidgeLOO(ALPHAS, classifier=kind == "classification").fit(x[:300], y[:300])
    ref = (RidgeCV if kind == "regression" else RidgeClassifierCV)(alphas=ALPHAS).fit(x[:300], y[:300])
    assert ours.alpha_ == ref.alpha_
    if kind == "regression":
        np.testing.assert_allclose(ours.predict(x[300:]), ref.predict(x[300:]), rtol=1e-6, atol=1e-8)
    else:
        np.testing.assert_array_equal(ours.predict(x[300:]), ref.predict(x[300:]))
