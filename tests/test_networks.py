import math

import pytest
import torch

from satclip import create_network, list_networks
from satclip.networks import network_from_config


def _dims(name):
    """(dim_in, dim_out) for the contract: the identity network keeps the width."""
    return (7, 7) if name == "identity" else (7, 5)


@pytest.mark.parametrize("name", list_networks())
def test_contract(name):
    torch.manual_seed(0)
    dim_in, dim_out = _dims(name)
    net = create_network(name, dim_in=dim_in, dim_out=dim_out)
    x = torch.randn(11, dim_in, requires_grad=True)
    net.eval()
    y = net(x)
    assert y.shape == (11, dim_out) and torch.isfinite(y).all()
    rebuilt = network_from_config(net.config)
    rebuilt.load_state_dict(net.state_dict())
    rebuilt.eval()
    torch.testing.assert_close(rebuilt(x), y)
    y.sum().backward()
    assert x.grad is not None
    assert all(p.grad is not None for p in net.parameters())


def test_identity_needs_equal_dims():
    with pytest.raises(ValueError, match="dim_out must equal dim_in"):
        create_network("identity", dim_in=4, dim_out=3)


@pytest.mark.parametrize("name", list_networks())
def test_typo_and_missing_dims_are_errors(name):
    with pytest.raises(ValueError, match="no parameter"):
        create_network(name, dim_in=3, dim_out=3, hiden=4)
    with pytest.raises(ValueError, match="dim_out"):
        create_network(name, dim_in=3, dim_out=0)


def test_unknown_network_lists_valid_ones():
    with pytest.raises(ValueError, match="siren"):
        create_network("sirennet", dim_in=3, dim_out=2)


def test_siren_published_layout_and_init():
    torch.manual_seed(0)
    net = create_network("siren", dim_in=1600, dim_out=256)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "layers.0.weight": (512, 1600),
        "layers.0.bias": (512,),
        "layers.1.weight": (512, 512),
        "layers.1.bias": (512,),
        "last_layer.weight": (256, 512),
        "last_layer.bias": (256,),
    }
    assert sum(v.numel() for v in net.parameters()) == 1_213_696  # ≈1.21 M as published
    first = net.state_dict()["layers.0.weight"]
    assert first.abs().max() <= 1 / 1600 and first.abs().max() > 0.9 / 1600
    hidden = net.state_dict()["layers.1.weight"]
    bound = math.sqrt(6 / 512)
    assert hidden.abs().max() <= bound and hidden.abs().max() > 0.9 * bound
    # First layer uses w0 = 30; the last layer is affine.
    x = torch.randn(4, 1600)
    expected = torch.sin(30 * (x @ first.T + net.layers[0].bias))
    torch.testing.assert_close(net.layers[0](x), expected)


def test_siren_dropout_only_while_training():
    torch.manual_seed(0)
    net = create_network("siren", dim_in=4, dim_out=3, dropout=0.5)
    x = torch.randn(64, 4)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_mlp_layers_have_independent_weights():
    net = create_network("mlp", dim_in=3, dim_out=2, dim_hidden=8, num_layers=3)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4
    assert len({id(m.weight) for m in linears}) == 4
    assert not torch.equal(linears[1].weight, linears[2].weight)


def test_resmlp_blocks_are_residual():
    net = create_network("resmlp", dim_in=3, dim_out=2, dim_hidden=8, num_layers=2, dropout=0.0)
    block = net.blocks[0]
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(5, 8)
    torch.testing.assert_close(block(x), x)


def test_siren_inference_in_place_equals_the_autograd_path():
    torch.manual_seed(0)
    net = create_network("siren", dim_in=16, dim_out=8, dim_hidden=32, num_layers=2, w0_initial=30.0)
    x = torch.randn(64, 16)
    y_grad = net(x)  # parameters require gradients: sin(w0 * z) out of place
    assert y_grad.requires_grad
    y_grad.sum().backward()  # the autograd path is intact
    with torch.inference_mode():
        torch.testing.assert_close(net(x), y_grad.detach(), rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(net(x), y_grad.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("num_layers", [0, 1, 3])
def test_siren_from_its_first_affine_map_is_the_forward(num_layers):
    # What the grid path runs after forming the first layer's affine map its own way.
    torch.manual_seed(0)
    net = create_network("siren", dim_in=9, dim_out=5, dim_hidden=16, num_layers=num_layers).eval()
    x = torch.randn(7, 9)
    first = net.first_layer
    assert first is (net.layers[0] if num_layers else net.last_layer)
    with torch.no_grad():
        z = torch.nn.functional.linear(x, first.weight, first.bias)
        torch.testing.assert_close(net.from_first_affine(z), net(x), rtol=0, atol=0)
