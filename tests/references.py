"""Independent references shared by the tests: scipy and sympy harmonics, a numpy SIREN, haversine
distances, published checkpoints."""

from __future__ import annotations

import functools

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def great_circle_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Haversine distance in km between points in degrees, on a sphere of the mean Earth radius."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dl = np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def scipy_real_harmonics(lon: np.ndarray, lat: np.ndarray, L: int, convention: str) -> np.ndarray:
    """(N, L²) real harmonics from scipy's complex ``sph_harm_y`` (which has the CS phase)."""
    from scipy.special import sph_harm_y

    if convention == "satclip":
        theta, phi = np.radians(lat + 90), np.radians(lon + 180)
    else:
        theta, phi = np.radians(90 - lat), np.radians(lon)
    ls = np.concatenate([np.full(2 * l + 1, l) for l in range(L)])
    ms = np.concatenate([np.arange(-l, l + 1) for l in range(L)])
    y = sph_harm_y(ls[:, None], np.abs(ms)[:, None], theta[None, :], phi[None, :])
    cs = (-1.0) ** np.abs(ms)[:, None]  # undo Condon–Shortley
    out = np.where(ms[:, None] > 0, np.sqrt(2) * cs * y.real, np.sqrt(2) * cs * y.imag)
    m0 = ms == 0
    out[m0] = y[m0].real * (np.pi if convention == "satclip" else 1.0)
    return out.T


@functools.cache
def published_closed_form(L: int, points: tuple[tuple[float, float], ...], digits: int = 40) -> np.ndarray:
    """(len(points), L²) real harmonics from the published generator's formula, evaluated exactly
    with sympy at ``digits`` significant digits, at (lon, lat) ``points`` in degrees.

    Reproduces the bracket slip ``sqrt((2l+1)/4*pi)`` for m = 0 and no Condon–Shortley phase.
    Slow (seconds per point), so cached: one evaluation per test run for a given set of points.
    The result is read-only, as every caller shares it.
    """
    import sympy

    x = sympy.Symbol("x")
    # sympy's assoc_legendre includes (-1)^m; the published harmonics do not.
    plm = {(l, m): (-1) ** m * sympy.assoc_legendre(l, m, x) for l in range(L) for m in range(l + 1)}
    rows = []
    for lon, lat in points:
        lon_r, lat_r = sympy.Rational(str(lon)), sympy.Rational(str(lat))
        theta = (lat_r + 90) * sympy.pi / 180
        phi = (lon_r + 180) * sympy.pi / 180
        values = []
        for l in range(L):
            for m in range(-l, l + 1):
                am = abs(m)
                p = plm[l, am].subs(x, sympy.cos(theta))
                if m == 0:
                    y = sympy.sqrt(sympy.Rational(2 * l + 1) / 4 * sympy.pi) * p
                else:
                    n = sympy.sqrt(
                        sympy.Rational(2 * l + 1)
                        / (4 * sympy.pi)
                        * sympy.factorial(l - am)
                        / sympy.factorial(l + am)
                    )
                    trig = sympy.cos(am * phi) if m > 0 else sympy.sin(am * phi)
                    y = sympy.sqrt(2) * n * p * trig
                values.append(float(sympy.N(y, digits)))
        rows.append(values)
    out = np.array(rows, dtype=np.float64)
    out.setflags(write=False)
    return out


def numpy_siren(x: np.ndarray, weights: dict[str, np.ndarray], num_layers: int) -> np.ndarray:
    """The published SirenNet forward in eval mode: sin(w0 (x Wᵀ + b)) layers, linear last."""
    for i in range(num_layers):
        w0 = 30.0 if i == 0 else 1.0
        x = np.sin(w0 * (x @ weights[f"layers.{i}.weight"].T + weights[f"layers.{i}.bias"]))
    return x @ weights["last_layer.weight"].T + weights["last_layer.bias"]


def published_checkpoint(legendre_polys: int, seed: int = 0) -> dict:
    """A checkpoint dict in the layout of the released SatCLIP ``.ckpt`` files (facts §1).

    Location weights are float64 and stored twice (``model.nnet.*`` and
    ``model.location.nnet.*``, the same tensors), next to image-encoder keys, the logit scale,
    optimizer state and Lightning's bookkeeping. Weights are drawn like the published SIREN init.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    d_in = legendre_polys**2

    def uniform(shape: tuple[int, ...], bound: float) -> torch.Tensor:
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound

    nnet = {
        "layers.0.weight": uniform((512, d_in), 1 / d_in),
        "layers.0.bias": uniform((512,), 1 / d_in),
        "layers.1.weight": uniform((512, 512), (6 / 512) ** 0.5),
        "layers.1.bias": uniform((512,), (6 / 512) ** 0.5),
        "last_layer.weight": uniform((256, 512), (6 / 512) ** 0.5),
        "last_layer.bias": uniform((256,), (6 / 512) ** 0.5),
    }
    state = {f"model.nnet.{k}": v for k, v in nnet.items()}
    state |= {f"model.location.nnet.{k}": v for k, v in nnet.items()}
    state["model.logit_scale"] = torch.tensor(2.6592600369262695)
    state |= {
        "model.visual.conv1.weight": torch.randn(64, 13, 7, 7, generator=gen),
        "model.visual.bn1.weight": torch.ones(64),
        "model.visual.bn1.bias": torch.zeros(64),
        "model.visual.bn1.running_mean": torch.zeros(64),
        "model.visual.bn1.running_var": torch.ones(64),
        "model.visual.bn1.num_batches_tracked": torch.tensor(0),
        "model.visual.layer1.0.conv1.weight": torch.randn(64, 64, 3, 3, generator=gen),
        "model.visual.fc.weight": torch.randn(256, 512, generator=gen),
        "model.visual.fc.bias": torch.zeros(256),
    }
    hyper = {
        "embed_dim": 256,
        "image_resolution": 256,
        "vision_layers": "moco_resnet18",
        "vision_width": 768,
        "vision_patch_size": 32,
        "in_channels": 13,
        "le_type": "sphericalharmonics",
        "pe_type": "siren",
        "frequency_num": 16,
        "max_radius": 260,
        "min_radius": 1,
        "legendre_polys": legendre_polys,
        "harmonics_calculation": "analytic",
        "sh_embedding_dims": 32,
        "learning_rate": 1e-4,
        "weight_decay": 0.01,
        "num_hidden_layers": 2,
        "capacity": 512,
        "eval_downstream": False,
        "air_temp_data_path": None,
        "election_data_path": None,
    }
    exp_avg = {
        i: {"step": torch.tensor(1000.0), "exp_avg": torch.zeros(8), "exp_avg_sq": torch.zeros(8)}
        for i in range(3)
    }
    return {
        "epoch": 499,
        "global_step": 97000,
        "pytorch-lightning_version": "2.0.2",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 500}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                "best_model_score": torch.tensor(5.31),
                "best_model_path": "/home/user/satclip/checkpoints/last.ckpt",
                "dirpath": "/home/user/satclip/checkpoints",
            }
        },
        "optimizer_states": [
            {"state": exp_avg, "param_groups": [{"lr": 1e-4, "weight_decay": 0.01, "params": [0, 1, 2]}]}
        ],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": hyper,
    }


def reference_published_forward(ckpt: dict, lonlat: np.ndarray) -> np.ndarray:
    """Independent forward pass of a published checkpoint: scipy harmonics + numpy SIREN."""
    L = ckpt["hyper_parameters"]["legendre_polys"]
    sd = ckpt["state_dict"]
    weights = {
        k[len("model.location.nnet.") :]: v.numpy() for k, v in sd.items() if k.startswith("model.location.")
    }
    feats = scipy_real_harmonics(lonlat[:, 0], lonlat[:, 1], L, "satclip")
    return numpy_siren(feats, weights, ckpt["hyper_parameters"]["num_hidden_layers"])
