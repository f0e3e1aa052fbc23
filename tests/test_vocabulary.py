"""One vocabulary over the public Python API (ARCHITECTURE.md, "Public vocabulary").

The model argument is ``model`` and comes first, outputs are ``out``, coordinate columns
``lon_col``/``lat_col``, ``batch_size`` defaults to the model's (None). An old spelling keeps
working for one minor version, with a FutureWarning that names the new one: a function that
drops an old spelling without that warning fails here.
"""

import contextlib
import importlib
import inspect

import pytest

# (module, function) -> the old keyword spellings it must still accept, with a warning.
PUBLIC: dict[tuple[str, str], set[str]] = {
    ("satclip", "load"): {"name_or_path"},
    ("satclip", "save"): {"encoder", "path"},
    ("satclip.io", "embed_file"): {"encoder", "dst"},
    ("satclip.io", "embed_geodataframe"): set(),
    ("satclip.raster", "embedding_raster"): {"encoder"},
    ("satclip.raster", "fit_pca"): {"encoder", "batch"},
    ("satclip.maps", "embedding_map"): {"encoder"},
    ("satclip.maps", "map_rgb"): set(),
    ("satclip.ood", "ood_flags"): {"encoder"},
    ("satclip.onnx_export", "export_onnx"): {"encoder", "path"},
    ("satclip.dask", "embed"): set(),
    ("satclip.sklearn", "SatCLIPFeatures"): {"lon", "lat"},
    ("satclip.evaluation", "evaluate"): {"encoders"},
    ("satclip.evaluation", "run"): {"encoders"},
    ("satclip.evaluation", "write_outputs"): {"out_dir"},
    ("satclip.hub", "model_card"): {"encoder"},
    ("satclip.hub", "push_to_hub"): {"encoder"},
}
# Spellings of the old vocabulary that no public signature may use any more.
OLD_NAMES = {"encoder", "encoders", "dst", "out_dir", "output", "name_or_path", "batch", "lon", "lat"}
# Functions whose first argument is not a model (they take the model's output or none).
NO_MODEL = {"load", "write_outputs"}
# Where lon/lat are coordinates, not column names.
COORDINATES = {"ood_flags"}


def _get(module: str, name: str):
    return getattr(importlib.import_module(module), name)


def _params(fn) -> list[str]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    return [p for p in inspect.signature(target).parameters if p != "self"]


@pytest.mark.parametrize(("module", "name"), list(PUBLIC), ids=[n for _, n in PUBLIC])
def test_signature_speaks_the_vocabulary(module, name):
    params = _params(_get(module, name))
    old = OLD_NAMES - ({"lon", "lat"} if name in COORDINATES else set())
    assert not old & set(params), f"{module}.{name} still has {sorted(old & set(params))}"
    if name not in NO_MODEL:
        # `models` where a call takes several (evaluation), `model` everywhere else.
        assert params[0] in ("model", "models"), f"{module}.{name}: the model comes first, as `model`"
    for output in ("path", "dst", "out_dir", "output"):
        assert output not in params
    if "batch_size" in params:
        target = _get(module, name)
        target = target.__init__ if inspect.isclass(target) else target
        assert inspect.signature(target).parameters["batch_size"].default is None


@pytest.mark.parametrize(("module", "name"), list(PUBLIC), ids=[n for _, n in PUBLIC])
def test_old_spellings_warn_and_name_the_new_one(module, name):
    fn = _get(module, name)
    target = fn.__init__ if inspect.isclass(fn) else fn
    renames = getattr(target, "__renamed__", {})
    assert set(renames) == PUBLIC[(module, name)], f"{module}.{name}: renames {renames}"
    for old, new in renames.items():
        assert new in _params(fn)
        warning = rf"{old}= is now {new}=; {old}= stops working in satclip 0\.3"
        # The call may fail later for want of other arguments: the warning comes first.
        with pytest.warns(FutureWarning, match=warning), contextlib.suppress(Exception):
            fn(**{old: None})


def test_an_old_and_a_new_spelling_together_are_refused():
    import satclip

    with pytest.raises(TypeError, match=r"got both name_or_path= and spec=; pass spec= only"):
        satclip.load(name_or_path="sh4", spec="sh4")


def test_the_old_argument_orders_still_work_with_a_warning(tmp_path):
    """The 0.1 orders (data before model; a map's output second) keep working for one version."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    import satclip.dask
    from satclip.maps import embedding_map

    frame = pd.DataFrame({"lon": [2.35, -74.0], "lat": [48.86, 40.71]})
    with pytest.warns(FutureWarning, match=r"embed\(model, ddf\)"):
        old = satclip.dask.embed(dd.from_pandas(frame, npartitions=1), "sh4").compute()
    new = satclip.dask.embed("sh4", dd.from_pandas(frame, npartitions=1)).compute()
    pd.testing.assert_frame_equal(old, new)
    with pytest.warns(FutureWarning, match=r"embedding_map\(model, out=\.\.\.\)"):
        out = embedding_map("sh4", tmp_path / "m.png", 30.0, coastlines=False, land_only=False)
    assert out == tmp_path / "m.png" and out.exists()
