"""The time features of a seasonal model."""

import math

import pytest
import torch

from satclip.encodings.time import TimeConfig, time_features


def test_features_are_the_cyclic_pairs_and_zero_without_a_time():
    t = torch.tensor([0.0, 0.25, float("nan")], dtype=torch.float64)
    f = time_features(t, 2)
    expected = torch.tensor(
        [[1, 0, 1, 0], [0, 1, -1, 0], [0, 0, 0, 0]], dtype=torch.float64
    )  # cos 2πt, sin 2πt, cos 4πt, sin 4πt
    torch.testing.assert_close(f, expected, atol=1e-12, rtol=0)


def test_no_time_is_the_mean_of_the_features_over_the_year():
    t = (torch.arange(365, dtype=torch.float64) + 0.5) / 365
    mean = time_features(t, 3).mean(dim=0)
    torch.testing.assert_close(mean, time_features(torch.tensor([math.nan], dtype=torch.float64), 3)[0])


def test_config_checks_and_dim():
    assert TimeConfig(3).dim == 6
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="whole number >= 1"):
            TimeConfig(bad)
