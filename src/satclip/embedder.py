"""The one interface every location encoder offers at inference, and its shared batching.

:class:`Embedder` is what the rest of the package types against (``satclip embed``, rasters,
maps, out-of-distribution flags, dask): the torch :class:`~satclip.encoder.LocationEncoder` and
the onnxruntime :class:`~satclip.onnx_runtime.OnnxEncoder` both satisfy it.
:class:`BatchEmbedder` writes ``embed``/``embed_array`` once, over a per-batch method: input
checks, longitude wrapping and batching are the same whatever runs the network.
:class:`LocationEncoderConfig` is the config every embedder reports (and what rebuilds a torch
encoder), so it lives here, below the encoders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from satclip._coords import (
    as_lonlat_array,
    check_lonlat_array,
    float_array,
    frame_coordinates,
    is_frame,
    wrap_longitude,
)
from satclip._registry import build_config, config_to_dict
from satclip._threads import each_on_cores
from satclip.encodings import ENCODINGS
from satclip.errors import InputError
from satclip.networks import NETWORKS

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


@dataclass(frozen=True)
class LocationEncoderConfig:
    """Everything needed to rebuild a :class:`~satclip.encoder.LocationEncoder` (weights aside):
    what every :class:`Embedder` reports as its ``config``."""

    encoding: Any
    network: Any
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        if self.network.dim_in != self.encoding.dim:
            raise InputError(
                f"network dim_in {self.network.dim_in} does not match the {self.encoding.name} "
                f"encoding's dimension {self.encoding.dim}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": config_to_dict(self.encoding),
            "network": config_to_dict(self.network),
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LocationEncoderConfig:
        try:
            enc, net = d["encoding"], d["network"]
            return cls(
                encoding=build_config(ENCODINGS, "encoding", enc["name"], enc["params"]),
                network=build_config(NETWORKS, "network", net["name"], net["params"]),
                dtype=d.get("dtype", "float32"),
            )
        except (KeyError, TypeError) as e:
            raise InputError(f"malformed location-encoder config ({e!r}): {d!r}") from e


BatchFn = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class Embedder(Protocol):
    """(lon, lat) degrees → embeddings as numpy arrays."""

    training_index: np.ndarray | None
    """(K, 2) lon/lat the model was pretrained on, when known (see :mod:`satclip.ood`)."""

    spec: str | None
    """What :func:`satclip.load` was given for this model (None when it was built in memory)."""

    @property
    def config(self) -> LocationEncoderConfig | None:
        """What rebuilds the model; None for encoders satclip did not build (GeoCLIP)."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def output_dtype(self) -> np.dtype: ...

    @property
    def default_batch_size(self) -> int:
        """Rows per batch when ``batch_size`` is None: the fastest on CPU for this model."""
        ...

    def embed(self, lon: Any, lat: Any = None, batch_size: int | None = None) -> np.ndarray: ...

    def embed_array(self, lonlat: np.ndarray, batch_size: int | None = None) -> np.ndarray: ...

    def embed_grid(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray: ...

    def fingerprint(self) -> str:
        """sha256 of what the model computes with: equal fingerprints, equal embeddings."""
        ...


class BatchEmbedder:
    """``embed`` and ``embed_array`` over a per-batch method, for :class:`Embedder` classes.

    A subclass provides ``dim``, ``output_dtype``, ``default_batch_size`` and either
    :meth:`_embed_batch` or, when a call needs set-up shared by its batches, :meth:`_batches`.
    """

    spec: str | None = None

    @property
    def dim(self) -> int:
        raise NotImplementedError

    @property
    def output_dtype(self) -> np.dtype:
        raise NotImplementedError

    @property
    def default_batch_size(self) -> int:
        """Rows per batch when ``batch_size`` is None."""
        raise NotImplementedError

    def embed(self, lon: Any, lat: Any = None, batch_size: int | None = None) -> np.ndarray:
        """Embeddings of points given as scalars, lists or 1-D arrays of lon and lat (degrees);
        or passed alone, one (N, 2) array of (lon, lat) rows (as :meth:`embed_array`); a frame
        (pandas, a pyarrow Table, a dict of columns, anything with ``columns`` and ``[]``) whose
        coordinate columns are found by name (``lon``/``lat``, ``Longitude``, ``decimalLatitude``,
        ... in any case; never by position); or a GeoDataFrame or GeoSeries of points in any CRS.

        Returns an (N, dim) numpy array of :attr:`output_dtype`; lon and lat given as N-D arrays
        of one shape (``np.meshgrid``'s, a 2-D coordinate field) give an array of that shape
        plus ``(dim,)``. Raises ``ValueError`` naming the first bad point (non-finite, latitude
        outside [-90, 90], masked, mismatched shapes).
        Longitudes are wrapped (190 ≡ -170). ``batch_size`` defaults to
        :attr:`default_batch_size`, the fastest on CPU.
        """
        if lat is None:
            if not is_frame(lon):
                return self.embed_array(lon, batch_size)
            lon, lat = frame_coordinates(lon)
        emb = self._embed_rows(as_lonlat_array(lon, lat, any_shape=True), batch_size)
        shape = np.shape(lon)
        return emb.reshape(*shape, self.dim) if len(shape) > 1 else emb

    def embed_array(self, lonlat: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Like :meth:`embed` for an (N, 2) array of (lon, lat) rows."""
        arr = float_array(lonlat, "lonlat")
        check_lonlat_array(arr)
        return self._embed_rows(arr, batch_size)

    def embed_grid(self, lons: Any, lats: Any) -> np.ndarray:
        """Embeddings of every pixel of the grid ``lons`` x ``lats`` (1-D, degrees): an array of
        shape (len(lats), len(lons), dim), rows following ``lats``. Same checks and wrapping as
        :meth:`embed`; encoders that can factor a grid do it faster than point by point."""
        lon, lat = grid_axes(lons, lats)
        lon_g, lat_g = np.meshgrid(lon, lat)
        emb = self._embed_rows(np.stack([lon_g.ravel(), lat_g.ravel()], axis=1), None)
        return emb.reshape(len(lat), len(lon), self.dim)

    def _embed_rows(self, lonlat: np.ndarray, batch_size: int | None) -> np.ndarray:
        size = self.default_batch_size if batch_size is None else batch_size
        if size < 1:
            raise InputError(f"batch_size must be positive, got {size}")
        n = lonlat.shape[0]
        lonlat = np.ascontiguousarray(lonlat, dtype=np.float64)
        if n and np.abs(lonlat[:, 0]).max() > 180:
            # Wrapped in float64 before any rounding, so that 190 and -170 agree exactly; once
            # for the whole call, and only when needed (a copy and a pass per batch otherwise).
            lon = wrap_longitude(torch.from_numpy(lonlat[:, 0].copy())).numpy()
            lonlat = np.stack([lon, lonlat[:, 1]], axis=1)
        elif not lonlat.flags.writeable:  # torch.from_numpy warns on read-only memory (np.load mmaps)
            lonlat = lonlat.copy()
        out = np.empty((n, self.dim), dtype=self.output_dtype)

        @contextmanager
        def worker() -> Iterator[Callable[[int], None]]:
            with self._batches(min(size, n)) as run:

                def apply(i: int) -> None:
                    out[i : i + size] = run(lonlat[i : i + size])

                yield apply

        each_on_cores(range(0, n, size), worker, min(self._batch_threads(), -(-n // size)))
        return out

    def _batch_threads(self) -> int:
        """How many threads run whole batches side by side (1: in turn, in the calling thread,
        each batch free to use every core)."""
        return 1

    @contextmanager
    def _batches(self, rows: int) -> Iterator[BatchFn]:
        """The function that embeds one batch of at most ``rows`` valid, wrapped (lon, lat)
        float64 rows, for the duration of one ``embed`` call."""
        yield self._embed_batch

    def _embed_batch(self, lonlat: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _embed_batch or _batches")


def grid_axes(lons: Any, lats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked 1-D float64 axes of a grid, longitudes wrapped into [-180, 180]."""
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    if lon.ndim != 1 or lat.ndim != 1:
        raise InputError(f"grid axes must be 1-D arrays of degrees, got shapes {lon.shape} and {lat.shape}")
    check_lonlat_array(np.stack([lon, np.zeros_like(lon)], axis=1))  # names the first bad longitude
    check_lonlat_array(np.stack([np.zeros_like(lat), lat], axis=1))
    return wrap_longitude(torch.from_numpy(lon.copy())).numpy(), lat
