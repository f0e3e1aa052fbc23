"""The ``imagery`` reference row: the pretraining imagery read at each point."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from satclip.evaluation import suite
from satclip.evaluation.encoders import resolve_models
from satclip.evaluation.imagery import SOURCES, WINDOWS, Imagery, window_means
from satclip.evaluation.tasks import load_task


@pytest.mark.parametrize("side", [1, 3, 9])
def test_window_means_match_scipys_box_filter_with_wrapped_columns_and_clamped_rows(side):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(18, 36, 3), dtype=np.uint8)  # 10° pixels
    # Pixel centres, the poles' rows and the dateline's columns included.
    rows = np.array([0, 0, 17, 17, 5, 9, 12])
    cols = np.array([0, 35, 0, 35, 17, 1, 34])
    lon, lat = -180 + 10 * cols + 5.0, 90 - 10 * rows - 5.0
    reference = uniform_filter(
        image.astype(np.float64), size=(side, side, 1), mode=("nearest", "wrap", "nearest")
    )[rows, cols]
    np.testing.assert_allclose(window_means(image, lon, lat, side), reference, rtol=1e-6)


@pytest.mark.parametrize("side", [0, 2, -3])
def test_window_sides_are_odd_and_positive(side):
    with pytest.raises(ValueError, match="odd"):
        window_means(np.zeros((4, 8, 3), np.uint8), np.zeros(1), np.zeros(1), side)


def test_imagery_features_read_the_sources_at_the_points(cache):
    paris, sahara, amazon = (2.35, 48.86), (12.0, 23.0), (-62.0, -4.0)
    x = Imagery().embed_array(np.array([paris, sahara, amazon]))
    per_source = 3 * len(WINDOWS)
    assert x.shape == (3, per_source * (len(SOURCES) + 1)) and x.dtype == np.float64
    true_colour, lights = x[:, :3], x[:, per_source : per_source + 3]
    assert true_colour[1].mean() > true_colour[2].mean()  # bright sand, dark forest
    assert lights[0].mean() > 2 * lights[1].mean()  # a city at night against the desert
    # The log columns are log1p of the light columns.
    np.testing.assert_allclose(x[:, 2 * per_source :], np.log1p(x[:, per_source : 2 * per_source]), rtol=1e-6)


def test_the_imagery_row_is_scored_with_the_suites_probe(cache):
    task = load_task("population")
    rows = suite.run(["sh4", "imagery"], [task], "linear", ["random"], progress=False)
    assert {(r["encoder"], r["probe"]) for r in rows} == {("sh4", "linear"), ("imagery", "linear")}
    summary = suite.summarise(rows)
    # Night lights see where people are: a linear probe on them beats degree-4 harmonics.
    assert summary[("random", "population", "imagery")][0] > summary[("random", "population", "sh4")][0] + 0.1
    assert "`imagery`: the pretraining imagery read at the point" in suite.markdown(rows)


def test_the_imagery_row_gets_the_month_like_a_static_model(cache):
    task = load_task("air_temp_monthly")
    fn = resolve_models(["imagery"])["imagery"]
    x = fn(task.lonlat[:5], task.time[:5])
    assert x.shape == (5, 27 + 14)
