"""SatCLIPFeatures: a scikit-learn transformer over satclip models, on a real task."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from satclip.pretrained import load
from satclip.sklearn import SatCLIPFeatures

# Checks that feed arrays of 3+ features, or numbers that are not coordinates (latitudes beyond
# ±90): a transformer of (lon, lat) pairs rightly refuses them.
NOT_COORDINATES = "feeds data that are not (lon, lat) pairs"
INAPPLICABLE = {
    name: NOT_COORDINATES
    for name in (
        "check_fit_score_takes_y",
        "check_dont_overwrite_parameters",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_dtype_object",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1sample",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit2d_predict1d",
        # fit embeds its points (to standardise them), so these refuse latitudes beyond ±90 too.
        "check_fit_check_is_fitted",
        "check_n_features_in",
    )
}


@parametrize_with_checks(
    [SatCLIPFeatures("satclip-bluemarble-l10")], expected_failed_checks=lambda e: INAPPLICABLE
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def houses(california):
    """3 000 California block groups: lon, lat and y, the log median house value."""
    return california.sample(3000, random_state=0).rename(columns={"value": "y"}).reset_index(drop=True)


def test_pipeline_on_house_values_beats_the_mean_and_equals_the_model(houses):
    train, test = train_test_split(houses, test_size=0.25, random_state=0)
    model = make_pipeline(SatCLIPFeatures("satclip-bluemarble-l10"), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    model.fit(train[["lon", "lat"]], train["y"])
    assert model.score(test[["lon", "lat"]], test["y"]) > 0.2
    feats = model[0].transform(test)  # other columns are ignored
    enc = load("satclip-bluemarble-l10")
    ref = enc.embed(test["lon"], test["lat"])
    # Standardised on the training points, not the test points.
    scaler = StandardScaler().fit(enc.embed(train["lon"], train["lat"]))
    np.testing.assert_allclose(feats, scaler.transform(ref), rtol=1e-5, atol=1e-5)
    assert feats.dtype == np.float32
    raw = SatCLIPFeatures("satclip-bluemarble-l10", standardize=False).fit(train)
    np.testing.assert_array_equal(raw.transform(test), ref)
    names = model[0].get_feature_names_out()
    assert len(names) == ref.shape[1] and names[0] == "emb_0"


def test_standardized_features_suit_estimators_at_their_defaults(houses):
    """The recommended model's raw embeddings spread ~0.005 per column, so RidgeCV's default alphas (0.1-10) flatten
    them; standardised, the README's pipeline fits (R² 0.45 against 0.29 on all of
    cal_housing when this was written)."""
    train, test = train_test_split(houses, test_size=0.25, random_state=0)
    scores = {}
    for standardize in (False, True):
        model = make_pipeline(SatCLIPFeatures(standardize=standardize), RidgeCV())
        model.fit(train[["lon", "lat"]], train["y"])
        scores[standardize] = model.score(test[["lon", "lat"]], test["y"])
    assert scores[True] > scores[False] + 0.05, scores
    feats = SatCLIPFeatures().fit_transform(train[["lon", "lat"]])
    np.testing.assert_allclose(feats.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(feats.std(axis=0), 1, rtol=1e-3)
    np.testing.assert_allclose(feats, SatCLIPFeatures().fit(train).transform(train), atol=1e-6)


def test_column_transformer_pandas_output_and_renamed_columns(houses):
    frame = houses.rename(columns={"lon": "x", "lat": "y_deg"}).assign(other=1.0)
    features = ColumnTransformer(
        [("loc", SatCLIPFeatures("satclip-bluemarble-l10", lon_col="x", lat_col="y_deg"), ["x", "y_deg"])],
        remainder=StandardScaler(),
    ).set_output(transform="pandas")
    out = features.fit_transform(frame.drop(columns="y"))
    assert isinstance(out, pd.DataFrame) and "loc__emb_0" in out.columns and "remainder__other" in out.columns
    with pytest.raises(ValueError, match=r"no column\(s\) \['lon', 'lat'\]"):
        SatCLIPFeatures("satclip-bluemarble-l10").fit(frame)
    with pytest.raises(ValueError, match=r"no column\(s\) \['x2'\]"):
        SatCLIPFeatures("satclip-bluemarble-l10", lon_col="x2", lat_col="y_deg").fit(frame)
    with pytest.raises(ValueError, match=r"no column\(s\) \['Y_deg'\] \(did you mean 'y_deg'\?\)"):
        SatCLIPFeatures("satclip-bluemarble-l10", lon_col="x", lat_col="Y_deg").fit(frame)


def test_coordinate_columns_are_found_by_name_when_not_given(houses):
    frame = houses.rename(columns={"lon": "Longitude", "lat": "decimalLatitude"})[
        ["y", "decimalLatitude", "Longitude"]
    ]
    feats = SatCLIPFeatures("satclip-bluemarble-l10", standardize=False).fit(frame).transform(frame)
    np.testing.assert_array_equal(feats, load("satclip-bluemarble-l10").embed(houses["lon"], houses["lat"]))
    with pytest.raises(
        ValueError, match=r"columns \['Longitude', 'lng'\] could each be the lon.*SatCLIPFeatures\(lon_col="
    ):
        SatCLIPFeatures("satclip-bluemarble-l10").fit(frame.assign(lng=0.0))


def test_a_geodataframe_gives_its_points(houses):
    gpd = pytest.importorskip("geopandas")
    points = gpd.points_from_xy(houses["lon"], houses["lat"], crs="EPSG:4326")
    geo = gpd.GeoDataFrame(houses[["y"]], geometry=points).to_crs("EPSG:3857")
    feats = SatCLIPFeatures("satclip-bluemarble-l10", standardize=False).fit(geo).transform(geo)
    expected = load("satclip-bluemarble-l10").embed(houses["lon"], houses["lat"])
    np.testing.assert_allclose(feats, expected, atol=1e-5)


def test_grid_search_over_the_model_clone_and_pickle(houses, tmp_path):
    small = houses.iloc[:600]
    search = GridSearchCV(
        make_pipeline(SatCLIPFeatures(), RidgeCV()),
        {"satclipfeatures__model": ["satclip-bluemarble-l10", "satclip-bluemarble-l40"]},
        cv=2,
    ).fit(small[["lon", "lat"]], small["y"])
    assert search.best_params_["satclipfeatures__model"] in (
        "satclip-bluemarble-l10",
        "satclip-bluemarble-l40",
    )
    fitted = SatCLIPFeatures("satclip-bluemarble-l10").fit(small)
    blob = pickle.dumps(fitted)
    assert len(blob) < 10_000, "the model is named in the pickle, not stored"
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.transform(small), fitted.transform(small))
    assert clone(fitted).get_params() == fitted.get_params()


def test_bad_coordinates_are_named(houses):
    enc = SatCLIPFeatures("satclip-bluemarble-l10").fit(houses[["lon", "lat"]].to_numpy())
    with pytest.raises(ValueError, match="latitude out of range"):
        enc.transform(np.array([[0.0, 95.0]]))
    with pytest.raises(ValueError, match="X has 3 features, but SatCLIPFeatures is expecting 2"):
        enc.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="got 3 feature"):
        SatCLIPFeatures("satclip-bluemarble-l10").fit(np.zeros((2, 3)))


def test_a_month_or_date_column_embeds_each_row_at_its_time():
    import torch

    import satclip
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    net = satclip.create_network("siren", dim_in=sh.dim + 2, dim_out=8, dim_hidden=16)
    seasonal = satclip.LocationEncoder(sh, net, time=TimeConfig(1))
    frame = pd.DataFrame(
        {"lon": [10.0, -70.0, 120.0], "lat": [45.0, -30.0, 5.0], "month": [1, 7, 12]}
    ).assign(date=pd.to_datetime(["2023-01-16", "2023-07-16", "2023-12-16"]))
    by_month = SatCLIPFeatures(seasonal, month_col="month", standardize=False).fit_transform(frame)
    np.testing.assert_array_equal(
        by_month, seasonal.embed(frame[["lon", "lat"]].to_numpy(), month=[1, 7, 12])
    )
    by_date = SatCLIPFeatures(seasonal, date_col="date", standardize=False).fit(frame).transform(frame)
    np.testing.assert_allclose(by_date, by_month, atol=0.05)
    with pytest.raises(ValueError, match="month_col='date' holds dates"):
        SatCLIPFeatures(seasonal, month_col="date").fit(frame)
    with pytest.raises(ValueError, match="needs a DataFrame"):
        SatCLIPFeatures(seasonal, month_col="month").fit(frame[["lon", "lat"]].to_numpy())
    with pytest.raises(ValueError, match="static model"):
        SatCLIPFeatures("sh4", month_col="month").fit(frame)
