"""The CLIP loss, alone and with negatives gathered over two processes (gloo on CPU)."""

import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from satclip.training.loss import ClipLoss


def _reference(img, loc, scale):
    img, loc = F.normalize(img, dim=-1), F.normalize(loc, dim=-1)
    logits = scale * img @ loc.T
    labels = torch.arange(len(img))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def test_single_process_loss_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    img, loc = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    loss = ClipLoss()
    assert loss.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    torch.testing.assert_close(loss(img, loc), _reference(img, loc, 1 / 0.07))
    with torch.no_grad():
        loss.logit_scale.fill_(10.0)  # exp(10) ≫ 100: clamped
    torch.testing.assert_close(loss(img, loc), _reference(img, loc, 100.0))


def test_fixed_temperature_gets_no_gradient_and_bad_ones_are_refused():
    g = torch.Generator().manual_seed(2)
    img = torch.randn(8, 4, generator=g, requires_grad=True)
    loc = torch.randn(8, 4, generator=g)
    loss = ClipLoss(temperature=0.5, learn=False)
    value = loss(img, loc)
    torch.testing.assert_close(value, _reference(img, loc, 2.0))
    value.backward()
    assert loss.logit_scale.grad is None and img.grad is not None
    assert set(loss.state_dict()) == set(ClipLoss().state_dict())  # same checkpoint keys
    for bad in (0.0, 0.005, -1.0, float("inf"), "hot"):
        with pytest.raises(ValueError, match="temperature must be a number >= 0.01"):
            ClipLoss(temperature=bad)


def _worker(rank: int, world: int, port: int, img, loc, out) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    n = len(img) // world
    x_img = img[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    x_loc = loc[rank * n : (rank + 1) * n].clone().requires_grad_(True)
    loss_fn = ClipLoss()
    loss = loss_fn(x_img, x_loc)
    loss.backward()
    out[rank] = {
        "loss": loss.item(),
        "img_grad": x_img.grad.clone(),
        "scale_grad": loss_fn.logit_scale.grad.item(),
    }
    dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_negatives_equal_one_process_with_the_whole_batch():
    g = torch.Generator().manual_seed(1)
    img, loc = torch.randn(12, 6, generator=g), torch.randn(12, 6, generator=g)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, port, img, loc, out), nprocs=2, join=True)
    # DDP averages over processes: the mean of the two local losses and gradients.
    x_img = img.clone().requires_grad_(True)
    full_fn = ClipLoss()
    full = full_fn(x_img, loc)
    full.backward()
    assert (out[0]["loss"] + out[1]["loss"]) / 2 == pytest.approx(full.item(), rel=1e-6)
    # all_gather's backward sums every process's gradient into the local rows.
    grads = torch.cat([out[0]["img_grad"], out[1]["img_grad"]]) / 2
    torch.testing.assert_close(grads, x_img.grad, rtol=1e-5, atol=1e-7)
    assert (out[0]["scale_grad"] + out[1]["scale_grad"]) / 2 == pytest.approx(
        full_fn.logit_scale.grad.item(), rel=1e-5
    )
