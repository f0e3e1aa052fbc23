"""Optional dependencies: one error that names the extra, and the version from the metadata."""

from importlib.metadata import version

import pytest

import satclip
from satclip._optional import require


def test_require_returns_the_module_or_names_the_extra_that_installs_it():
    import json

    assert require("json", "io") is json
    with pytest.raises(
        ImportError, match=r"writing Zarr needs no_such_pkg_xyz: pip install 'satclip\[raster\]'"
    ):
        require("no_such_pkg_xyz.sub", "raster", "writing Zarr")


def test_require_refuses_an_old_major_version():
    import numpy

    major = int(numpy.__version__.split(".")[0])
    assert require("numpy", "io", min_major=major) is numpy
    with pytest.raises(ImportError, match=rf"numpy>={major + 1}.*this is {numpy.__version__}"):
        require("numpy", "io", "this test", min_major=major + 1)


def test_the_version_comes_from_the_package_metadata():
    assert satclip.__version__ == version("satclip")
