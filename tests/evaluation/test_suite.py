"""Probes, splits and the suite end to end on real tasks."""

import numpy as np
import pytest

from satclip.cli import main
from satclip.evaluation import suite
from satclip.evaluation.encoders import resolve_models
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


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ValueError, match=r"sh<L>.*spherecplus.*geoclip"):
        resolve_models(["sphere-c"])
    assert resolve_models(["sh10"])["sh10"](np.array([[0.0, 0.0]])).shape == (1, 100)


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
    assert "unknown model 'nope'" in capsys.readouterr().err


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
    assert resolve_models([path])[str(path)](task.lonlat[:10]).shape == (10, 8)


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


@pytest.mark.slow
def test_evaluate_scores_objects_files_and_names_in_one_call(cache, tmp_path):
    """One call mixes an encoder in memory, an ONNX file, raw harmonics and a shipped name."""
    pytest.importorskip("onnxruntime")
    import dataclasses

    import torch

    import satclip
    from satclip.evaluation import evaluate
    from satclip.onnx_export import export_onnx

    full = load_task("air_temp")
    keep = np.random.default_rng(0).choice(len(full.y), 1500, replace=False)
    task = dataclasses.replace(full, lonlat=full.lonlat[keep], y=full.y[keep], continent=full.continent[keep])
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    mine = satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=36, dim_out=16, dim_hidden=32))
    onnx_path = export_onnx("satclip-bluemarble-l10", tmp_path / "l10.onnx")
    df = evaluate([mine, onnx_path, "sh40", "satclip-bluemarble-l10"], task, splits=["random"])
    labels = ["LocationEncoder", str(onnx_path), "sh40", "satclip-bluemarble-l10"]
    assert list(dict.fromkeys(df["encoder"])) == labels
    means = df.groupby("encoder")["score"].mean()
    # The ONNX file is the shipped model: the same scores to float32 rounding.
    assert abs(means[str(onnx_path)] - means["satclip-bluemarble-l10"]) < 1e-3
    assert means["sh40"] > 0.8 and means["satclip-bluemarble-l10"] > 0.8
    # A dict names them; the 0.1 order (task first) still works, with a warning.
    named = evaluate({"mine": mine}, task, splits=["random"])
    assert set(named["encoder"]) == {"mine"}
    with pytest.warns(FutureWarning, match=r"evaluate\(models, task\)"):
        old = evaluate(task, ["sh40"], splits=["random"])
    np.testing.assert_allclose(old["score"], df[df["encoder"] == "sh40"]["score"])
    with pytest.raises(ValueError, match="both labelled 'sh40'"):
        evaluate(["sh40", "sh40"], task)


def test_idw_is_distance_weighted_nearest_neighbours_with_k_by_cv():
    from sklearn.neighbors import KNeighborsRegressor

    from satclip.evaluation.encoders import Coordinates
    from satclip.evaluation.probes import IDW_K, IDWCV

    rng = np.random.default_rng(0)
    lonlat = np.stack([rng.uniform(-180, 180, 900), rng.uniform(-80, 80, 900)], 1)
    x = Coordinates()(lonlat)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    y = np.sin(np.deg2rad(lonlat[:, 1]) * 3) + 0.05 * rng.normal(size=900)
    idw = IDWCV().fit(x[:800], y[:800])
    assert idw.k_ in IDW_K
    reference = KNeighborsRegressor(n_neighbors=idw.k_, weights="distance").fit(x[:800], y[:800])
    np.testing.assert_allclose(idw.predict(x[800:]), reference.predict(x[800:]))
    assert fit_score("idw", "regression", x[:800], y[:800], x[800:], y[800:]) > 0.9
    # Few labels: k never exceeds what a 3-fold CV training part holds.
    assert IDWCV().fit(x[:12], y[:12]).k_ <= 8


def test_the_idw_row_and_few_label_regimes(cache):
    task = load_task("air_temp")
    rows = suite.run(["sh4", "idw"], [task], "linear", ["random"], progress=False, n_train=[50, "all"])
    assert {(r["encoder"], r["probe"]) for r in rows} == {("sh4", "linear"), ("idw", "idw")}
    few = [r for r in rows if r["labels"] == 50]
    assert len(few) == 2 * 3 * 3 and {r["n_train"] for r in few} == {50}  # models × folds × draws
    assert {r["fold"] for r in few} == {f"seed{i}/s{j}" for i in range(3) for j in range(3)}
    assert {r["n_test"] for r in few} == {r["n_test"] for r in rows if r["labels"] == "all"}
    summary = suite.summarise(rows)
    assert summary[("random, 50 labels", "air_temp", "idw")][2] == 9
    assert summary[("random", "air_temp", "idw")][0] > 0.95  # temperature is smooth: idw is strong
    assert summary[("random", "air_temp", "idw")][0] > summary[("random, 50 labels", "air_temp", "idw")][0]
    md = suite.markdown(rows)
    assert "### split: random, 50 labels" in md and "`idw`: the labels interpolated" in md


def test_label_draws_come_from_the_training_part():
    train = np.arange(100, 600)
    draws = suite._label_draws(train, 40)
    assert [s for s, _ in draws] == ["/s0", "/s1", "/s2"]
    for _, idx in draws:
        assert len(idx) == 40 == len(set(idx)) and set(idx) <= set(train)
    assert not np.array_equal(draws[0][1], draws[1][1])
    assert suite._label_draws(train, 500) == []  # no fewer labels than the whole part


@pytest.mark.parametrize("bad", [[], [1], ["some"], [0.5], ["-3"]])
def test_label_regimes_are_checked(bad):
    with pytest.raises(ValueError, match="n_train"):
        suite.parse_labels(bad)


def test_cli_evaluate_n_train(cache, capsys):
    argv = ["evaluate", "--models", "sh4,idw", "--tasks", "air_temp", "--splits", "random", "-q"]
    assert main([*argv, "--n-train", "100,all"]) == 0
    out = capsys.readouterr().out
    assert "### split: random, 100 labels" in out and "| idw |" in out
    assert main([*argv, "--n-train", "ten"]) == 2
    assert "n_train takes 'all' or label counts" in capsys.readouterr().err


def test_ridge_falls_back_on_gesvd_where_gesdd_does_not_converge(monkeypatch):
    """LAPACK's gesdd failed on one few-label fold of the suite (population, North America held
    out, 1 000 labels); gesvd factors the same matrix. Both give the same fit."""
    from satclip.evaluation.probes import RidgeLOO

    x, y = _synthetic(n=300)
    expected = RidgeLOO().fit(x, y)
    real_svd = np.linalg.svd

    def failing(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(np.linalg, "svd", failing)
    fallback = RidgeLOO().fit(x, y)
    monkeypatch.setattr(np.linalg, "svd", real_svd)
    assert fallback.alpha_ == expected.alpha_
    np.testing.assert_allclose(fallback.predict(x), expected.predict(x), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="NaN or infinite"):
        RidgeLOO().fit(np.where(x > 2, np.nan, x), y)


def _monthly_subset(n_places=400):
    """The real air_temp_monthly task, cut to its first ``n_places`` places (both months)."""
    task = load_task("air_temp_monthly")
    half = len(task.y) // 2
    rows = np.r_[0:n_places, half : half + n_places]
    return Task(
        task.name, task.kind, task.lonlat[rows], task.y[rows], task.continent[rows], time=task.time[rows]
    )


def test_monthly_splits_keep_every_month_of_a_place_on_one_side(cache):
    task = _monthly_subset()
    for split in ("random", "block"):
        for _, train, test in folds(task, split):
            assert not set(map(tuple, task.lonlat[train])) & set(map(tuple, task.lonlat[test]))
            assert len(train) + len(test) == len(task.y)


def test_monthly_task_gives_every_model_the_month_and_a_seasonal_model_its_embedding(cache):
    from satclip.evaluation.encoders import month_features, resolve_models

    task = _monthly_subset()
    t = task.time
    f = month_features(t)
    assert f.shape == (len(t), 14) and (f[:, :12].sum(axis=1) == 1).all()
    assert f[0, 6] == 1 and f[-1, 11] == 1  # July, December
    static = resolve_models(["sh4"])["sh4"]
    x = static(task.lonlat, t)
    np.testing.assert_array_equal(
        x[:, :16], static(task.lonlat, None)
    )  # the annual embedding, then the month
    np.testing.assert_array_equal(x[:, 16:], f)
    idw = resolve_models(["idw"])["idw"](task.lonlat, t)
    assert idw.shape == (len(t), 5)
    # idw's neighbours are of the same month: the months are farther apart than any two places.
    assert np.linalg.norm(idw[0] - idw[len(t) // 2]) > 2
    seasonal = _tiny_seasonal()
    x = resolve_models({"s": seasonal})["s"](task.lonlat, t)
    np.testing.assert_allclose(x[0, :8], seasonal.embed(task.lonlat[:1], month=7)[0], atol=1e-6)
    np.testing.assert_allclose(x[-1, :8], seasonal.embed(task.lonlat[-1:], month=12)[0], atol=1e-6)
    np.testing.assert_array_equal(x[:, 8:], f)
    rows = suite.run(["sh4", "idw"], [task], "linear", ["random"], progress=False)
    summary = suite.summarise(rows)
    # With the month as features a linear probe on harmonics still cannot flip the seasons
    # between hemispheres; interpolating within each month can, and so can the ×month row
    # (the harmonics times the annual cycle: sin(lat)·cos(2πt) is "summer here, winter there").
    score = {name: summary[("random", "air_temp_monthly", name)][0] for name in ("sh4", "sh4 ×month", "idw")}
    assert score["idw"] > score["sh4"] and score["sh4 ×month"] > score["sh4"] + 0.1
    assert {r["encoder"] for r in rows} == {"sh4", "sh4 ×month", "idw"}  # idw has no ×month row


def test_the_month_interaction_row_multiplies_the_embedding_by_the_annual_cycle(cache):
    from satclip.evaluation.encoders import interact_month, month_features, resolve_models

    task = _monthly_subset(50)
    static = resolve_models(["sh4"])["sh4"]
    x, emb = interact_month(static)(task.lonlat, task.time), static(task.lonlat, None)
    angle = 2 * np.pi * task.time[:, None]
    np.testing.assert_allclose(
        x, np.column_stack([emb, emb * np.cos(angle), emb * np.sin(angle), month_features(task.time)])
    )
    with pytest.raises(ValueError, match="for monthly tasks"):
        interact_month(static)(task.lonlat, None)
    # Too wide for three copies in one ridge per fold: no ×month row (raw L = 40 harmonics).
    assert interact_month(resolve_models(["sh40"])["sh40"])(task.lonlat, task.time) is None
    rows = suite.run(["sh40"], [task], "linear", ["random"], progress=False)
    assert {r["encoder"] for r in rows} == {"sh40"}
    # On an annual task the ×month rows are not made.
    rows = suite.run(["sh4"], ["elevation"], "linear", ["random"], progress=False)
    assert {r["encoder"] for r in rows} == {"sh4"}


def _tiny_seasonal():
    import torch

    from satclip import LocationEncoder, LocationEncoderConfig
    from satclip.encodings.spherical_harmonics import SphericalHarmonicsConfig
    from satclip.encodings.time import TimeConfig
    from satclip.networks import SirenConfig

    torch.manual_seed(0)
    sh = SphericalHarmonicsConfig(legendre_polys=4)
    config = LocationEncoderConfig(
        sh, SirenConfig(dim_in=sh.dim + 2, dim_out=8, dim_hidden=16), time=TimeConfig(1)
    )
    return LocationEncoder.from_config(config).eval()


def test_cli_monthly_tasks_are_their_own_group(cache, capsys):
    argv = ["evaluate", "--models", "sh4", "--tasks", "monthly", "--splits", "block", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "air_temp_monthly (r2)" in out and "precip_monthly (r2)" in out and "| countries" not in out
