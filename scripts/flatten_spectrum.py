"""Make a model whose embedding spectrum is flattened (satclip.training.spectrum), as
``satclip-bluemarble-viirs-l40-v4`` was made from ``-v3``:

    .venv/bin/python scripts/flatten_spectrum.py satclip-bluemarble-viirs-l40-v3 \
        -o src/satclip/weights/satclip-bluemarble-viirs-l40-v4.safetensors

``--reference``: fit the map on another model's embeddings (a seasonal model trained on top of
a static one takes that one's map, so that its annual embedding stays the static model's,
reshaped alike). Prints the spectrum before and after, how much float32's rounding moves 10 km
differences before and after (the flattened spectrum lifts it: try 117), and the new file's
sha256.
"""

from __future__ import annotations

import argparse

import numpy as np

from satclip._pca import fit_batches
from satclip.checkpoints import save
from satclip.encoder import LocationEncoder
from satclip.geography import sample_sphere_points
from satclip.pretrained import load, sha256_of
from satclip.training.spectrum import flatten_spectrum, rounding_error


def _shares(emb: np.ndarray) -> str:
    top = np.cumsum(fit_batches([emb], k=emb.shape[1]).explained_variance_ratio)
    return ", ".join(f"{int(np.searchsorted(top, q)) + 1} dims hold {q:.1%}" for q in (0.9, 0.99, 0.999))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a model name or file (satclip.load)")
    p.add_argument("-o", "--out", required=True, help="the new .safetensors file")
    p.add_argument("--exponent", type=float, default=0.5, help="variances λ → λ^exponent (default 0.5)")
    p.add_argument("--reference", help="fit the map on this model's embeddings instead")
    p.add_argument("--n", type=int, default=100_000, help="area-uniform points the map is fitted on")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    model = load(args.model)
    reference = load(args.reference) if args.reference else None
    flat, _ = flatten_spectrum(model, args.exponent, args.n, args.seed, reference)
    check = sample_sphere_points(20_000, args.seed + 1)  # other points than the fit's
    print("before:", _shares(model.embed_array(check)))
    print("after: ", _shares(flat.embed_array(check)))
    if isinstance(model, LocationEncoder):
        before, after = rounding_error(model), rounding_error(flat)
        print(f"float32 against float64, 10 km differences off by: {before:.3%} before, {after:.3%} after")
    out = save(flat, args.out)
    print(out, sha256_of(out))


if __name__ == "__main__":
    main()
