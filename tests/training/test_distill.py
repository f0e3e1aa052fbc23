"""Distillation from a location encoder learned from imagery (GeoCLIP), beside the CLIP loss."""

import numpy as np
import pytest
import torch

import satclip
from satclip.cli import main
from satclip.peers import TEACHERS
from satclip.training.config import load_config
from satclip.training.distill import Distiller
from tests.training.test_train import TINY, _metrics


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("distill.weight=-1", "distill.weight must be a number >= 0"),
        ("distill.weight=true", "distill.weight must be a number"),
        ("distill.weight=0.5", "distill.teacher must name an encoder learned from imagery: geoclip"),
        ("distill.teacher=elevation", "distill.teacher must name an encoder learned from imagery"),
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
