"""Distillation from a location encoder learned from imagery (GeoCLIP), beside the CLIP loss."""

import numpy as np
import pytest
import torch

import satclip
from satclip.cli import main
from satclip.geography import grid_lookup, land_mask
from satclip.peers import TEACHERS
from satclip.training.config import load_config
from satclip.training.distill import Distiller, extra_pool, lit_points, night_light
from tests.training.test_train import TINY, _metrics


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("distill.weight=-1", "distill.weight must be a number >= 0"),
        ("distill.weight=true", "distill.weight must be a number"),
        ("distill.weight=0.5", "distill.teacher must name an encoder learned from imagery: geoclip"),
        ("distill.teacher=elevation", "distill.teacher must name an encoder learned from imagery"),
        ("distill.points=-5", "distill.points must be a whole number >= 0"),
        ("distill.points=2.5", "distill.points must be a whole number"),
        ("distill.lights=1.5", "distill.lights must be a share between 0 and 1"),
    ],
)
def test_a_teacher_must_be_one_learned_from_imagery(override, message):
    overrides = [override] if "teacher" not in override else [override, "distill.weight=1"]
    with pytest.raises(ValueError, match=message):
        load_config("bluemarble-quick", overrides)


def test_every_teacher_says_what_it_learned_from_and_its_licence():
    for teacher in TEACHERS.values():
        assert "photos" in teacher.learned_from or "imagery" in teacher.learned_from
        assert teacher.licence and teacher.attribution


def test_the_head_learns_to_reproduce_the_teacher():
    torch.manual_seed(0)
    lonlat = torch.tensor(np.random.default_rng(0).uniform([-180, -60], [180, 75], (256, 2)))
    distiller = Distiller("geoclip", student_dim=64)
    target = distiller.teacher_embedding(lonlat)
    np.testing.assert_allclose(
        target.numpy(), satclip.load("geoclip").embed_array(lonlat.numpy()), rtol=1e-6, atol=1e-6
    )
    assert [n for n, _ in distiller.named_parameters()] == [
        "head.weight",
        "head.bias",
    ]  # teacher frozen, unsaved
    student = torch.randn(256, 64)
    opt = torch.optim.Adam(distiller.parameters(), lr=1e-2)
    first = distiller(student, lonlat).item()
    for _ in range(100):
        opt.zero_grad()
        loss = distiller(student, lonlat)
        loss.backward()
        opt.step()
    assert 0 <= loss.item() < first / 2


def test_a_distilled_run_trains_logs_and_exports_the_location_encoder_alone(bluemarble_tiny, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={bluemarble_tiny}", "epochs=1"]
    assert main([*argv, "distill.teacher=geoclip", "distill.weight=0.5", "-q", "--out", str(run)]) == 0
    rows = _metrics(run)
    assert any(r.get("train_distill_epoch") for r in rows) and any(r.get("val_distill") for r in rows)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert "distill.head.weight" in ckpt["state_dict"]
    assert not [k for k in ckpt["state_dict"] if "_teacher" in k]
    model = satclip.load(run / "model.safetensors")
    assert model.embed([2.35], [48.86]).shape == (1, 256)
    assert satclip.load(run / "checkpoints" / "best.ckpt").embed([2.35], [48.86]).shape == (1, 256)


def _light(lonlat: np.ndarray) -> np.ndarray:
    return grid_lookup(night_light(), lonlat[:, 0], lonlat[:, 1])


def test_lit_points_lie_where_the_night_light_image_is_bright():
    rng = np.random.default_rng(0)
    lit = lit_points(4000, rng)
    assert lit.shape == (4000, 2)
    assert (np.abs(lit[:, 0]) <= 180).all() and (np.abs(lit[:, 1]) <= 90).all()
    assert (_light(lit) > 0).all()  # never a dark pixel
    uniform = extra_pool(4000, 0.0, seed=0)
    assert land_mask()(uniform[:, 0], uniform[:, 1]).all()
    # Drawn by brightness: far brighter on average than points spread over the land.
    assert _light(lit).mean() > 10 * _light(uniform).mean()
    mixed = extra_pool(1000, 0.25, seed=1)
    assert 200 <= int((_light(mixed) > 0).sum()) <= 1000 and len(np.unique(mixed, axis=0)) == 1000


def _count_taught(monkeypatch) -> list[int]:
    """The number of points of every batch the teacher is asked about, as training goes."""
    seen: list[int] = []
    forward = Distiller.forward

    def counting(self, student, lonlat):
        seen.append(len(lonlat))
        return forward(self, student, lonlat)

    monkeypatch.setattr(Distiller, "forward", counting)
    return seen


def test_extra_points_are_taught_by_the_teacher_in_training_only(bluemarble_tiny, tmp_path, monkeypatch):
    monkeypatch.setattr("satclip.training.distill.POOL", 5000)
    seen = _count_taught(monkeypatch)
    run = tmp_path / "run"
    argv = ["train", "--config", "bluemarble-quick", *TINY, f"data.root={bluemarble_tiny}", "epochs=1"]
    extra = ["distill.teacher=geoclip", "distill.weight=0.5", "distill.points=48", "distill.lights=0.5"]
    assert main([*argv, *extra, "-q", "--out", str(run)]) == 0
    batch = int(next(a for a in TINY if a.startswith("data.batch_size=")).split("=")[1])
    # Training batches carry 48 extra points; validation batches only their own.
    assert batch + 48 in seen and all(n <= batch for n in seen if n != batch + 48)


def test_a_seasonal_run_can_teach_only_its_annual_views(cache, tmp_path, monkeypatch):
    from tests.training.test_train import SEASONAL

    seen = _count_taught(monkeypatch)
    argv = [
        "train",
        "--config",
        "bluemarble-seasonal",
        *SEASONAL,
        f"data.root={tmp_path / 'seasons'}",
        "epochs=1",
    ]
    extra = ["distill.weight=1", "distill.annual_only=true", "data.season_pairs=true"]
    assert main([*argv, *extra, "-q", "--out", str(tmp_path / "run")]) == 0
    # Pairs of 32 places: 64 views a batch, of which the annual ones (about a third of the pairs
    # hold one) are taught; never all of them.
    assert seen and max(seen) < 64 and sum(seen) > 0
    with pytest.raises(ValueError, match="distill.annual_only must be true or false"):
        load_config("bluemarble-seasonal", ["distill.annual_only=maybe"])
