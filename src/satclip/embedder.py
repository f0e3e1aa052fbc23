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
from satclip._time import broadcast_times, year_fractions
from satclip.encodings import ENCODINGS
from satclip.encodings.time import TimeConfig
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
    what every :class:`Embedder` reports as its ``config``.

    ``time``: a seasonal model's time input (:class:`~satclip.encodings.time.TimeConfig`), whose
    features the network reads after the encoding's (``network.dim_in`` is the sum); None for a
    static model, whose saved config has no ``time`` key at all (as before seasons existed)."""

    encoding: Any
    network: Any
    dtype: str = "float32"
    time: TimeConfig | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        extra = self.time.dim if self.time is not None else 0
        if self.time is not None and self.time.place_degree:
            degree = getattr(self.encoding, "legendre_polys", None)
            if degree is None or self.time.place_degree > degree:
                raise InputError(
                    f"time place_degree {self.time.place_degree} multiplies the spherical harmonics of "
                    f"lower degree: it needs a harmonics encoding of at least that many degrees, got "
                    f"{self.encoding.name} ({degree or 'no degrees'})"
                )
        if self.network.dim_in != self.encoding.dim + extra:
            plus = f" plus the time input's {extra}" if extra else ""
            raise InputError(
                f"network dim_in {self.network.dim_in} does not match the {self.encoding.name} "
                f"encoding's dimension {self.encoding.dim}{plus}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = {
            "encoding": config_to_dict(self.encoding),
            "network": config_to_dict(self.network),
            "dtype": self.dtype,
        }
        if self.time is not None:
            time = config_to_dict(self.time)
            if not self.time.place_degree:  # as saved before place products existed
                del time["params"]["place_degree"]
            d["time"] = time
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LocationEncoderConfig:
        try:
            enc, net, time = d["encoding"], d["network"], d.get("time")
            return cls(
                encoding=build_config(ENCODINGS, "encoding", enc["name"], enc["params"]),
                network=build_config(NETWORKS, "network", net["name"], net["params"]),
                dtype=d.get("dtype", "float32"),
                time=None
                if time is None
                else build_config(TIMES, "time input", time["name"], time["params"]),
            )
        except (KeyError, TypeError) as e:
            raise InputError(f"malformed location-encoder config ({e!r}): {d!r}") from e


# Time inputs by name (one so far), as encodings and networks are registered.
TIMES: dict[str, tuple[type[Any], Any]] = {TimeConfig.name: (TimeConfig, None)}

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

    # A model may also have ``seasonal`` (True: it takes ``month=`` / ``day_of_year=``); it is
    # not required, so that an Embedder written before seasons existed still is one: callers
    # read it with ``is_seasonal``.

    def embed(
        self,
        lon: Any,
        lat: Any = None,
        batch_size: int | None = None,
        *,
        month: Any = None,
        day_of_year: Any = None,
    ) -> np.ndarray: ...

    def embed_array(
        self, lonlat: np.ndarray, batch_size: int | None = None, *, month: Any = None, day_of_year: Any = None
    ) -> np.ndarray: ...

    def embed_grid(
        self, lons: np.ndarray, lats: np.ndarray, *, month: Any = None, day_of_year: Any = None
    ) -> np.ndarray: ...

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

    @property
    def seasonal(self) -> bool:
        """Whether the model takes a time of year (``month=`` / ``day_of_year=``): a seasonal
        model, whose config has a ``time`` input."""
        return getattr(getattr(self, "config", None), "time", None) is not None

    def embed(
        self,
        lon: Any,
        lat: Any = None,
        batch_size: int | None = None,
        *,
        month: Any = None,
        day_of_year: Any = None,
    ) -> np.ndarray:
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

        A :attr:`seasonal` model takes the time of year: ``month`` (1-12, or dates: numpy
        ``datetime64``, ``datetime.date``, pandas timestamps, ISO strings) or ``day_of_year``
        (1-366), one for all points or one per point. Given neither, it returns its annual
        embedding (trained on the annual composite; MODELS.md). A static model refuses a time.
        """
        if lat is None:
            if not is_frame(lon):
                return self.embed_array(lon, batch_size, month=month, day_of_year=day_of_year)
            lon, lat = frame_coordinates(lon)
        t = year_fractions(month, day_of_year)
        rows = as_lonlat_array(lon, lat, any_shape=True)
        shape = np.shape(lon)
        emb = self._embed_rows(rows, batch_size, self._times(t, rows, shape))
        return emb.reshape(*shape, self.dim) if len(shape) > 1 else emb

    def embed_array(
        self, lonlat: np.ndarray, batch_size: int | None = None, *, month: Any = None, day_of_year: Any = None
    ) -> np.ndarray:
        """Like :meth:`embed` for an (N, 2) array of (lon, lat) rows."""
        arr = self._checked_rows(lonlat)
        return self._embed_rows(arr, batch_size, self._times(year_fractions(month, day_of_year), arr))

    @staticmethod
    def _checked_rows(lonlat: Any) -> np.ndarray:
        arr = float_array(lonlat, "lonlat")
        check_lonlat_array(arr)
        return arr

    def _times(
        self, t: np.ndarray | None, rows: Any, shape: tuple[int, ...] | None = None
    ) -> np.ndarray | None:
        """(N,) year fractions of the N points in ``rows``, or None (no time given)."""
        if t is None:
            return None
        require_seasonal(self, "month=/day_of_year=")
        n = len(rows)
        return broadcast_times(t, n, shape if shape is not None else (n,))

    def embed_grid(self, lons: Any, lats: Any, *, month: Any = None, day_of_year: Any = None) -> np.ndarray:
        """Embeddings of every pixel of the grid ``lons`` x ``lats`` (1-D, degrees): an array of
        shape (len(lats), len(lons), dim), rows following ``lats``. Same checks and wrapping as
        :meth:`embed`; encoders that can factor a grid do it faster than point by point. A
        seasonal model takes one ``month`` (or ``day_of_year``) for the whole grid."""
        t = self._grid_time(month, day_of_year)
        lon, lat = grid_axes(lons, lats)
        return self._embed_grid_at(lon, lat, t)

    def _embed_grid_at(self, lon: np.ndarray, lat: np.ndarray, t: float | None) -> np.ndarray:
        """:meth:`embed_grid` on checked axes at year fraction ``t`` (None: no time)."""
        lon_g, lat_g = np.meshgrid(lon, lat)
        rows = np.stack([lon_g.ravel(), lat_g.ravel()], axis=1)
        emb = self._embed_rows(rows, None, None if t is None else np.full(len(rows), t))
        return emb.reshape(len(lat), len(lon), self.dim)

    def _grid_time(self, month: Any, day_of_year: Any) -> float | None:
        """The one year fraction of a grid, or None."""
        t = year_fractions(month, day_of_year)
        if t is None:
            return None
        if t.ndim != 0:
            raise InputError(f"a grid takes one month or day_of_year for all its pixels, got shape {t.shape}")
        self._times(t, [])
        return float(t)

    def _embed_rows(
        self, lonlat: np.ndarray, batch_size: int | None, times: np.ndarray | None = None
    ) -> np.ndarray:
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
        if times is not None:  # the batches get (lon, lat, year fraction) rows
            lonlat = np.column_stack([lonlat, np.asarray(times, dtype=np.float64)])
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
        float64 rows (a third column, the year fraction, for a seasonal model given a time), for
        the duration of one ``embed`` call."""
        yield self._embed_batch

    def _embed_batch(self, lonlat: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define _embed_batch or _batches")


def is_seasonal(model: Any) -> bool:
    """Whether ``model`` takes a time of year (its ``seasonal``; False where it has none)."""
    return bool(getattr(model, "seasonal", False))


def require_seasonal(model: Any, what: str) -> None:
    """The one error for a time given to a static model; ``what`` names what was given (a
    keyword, a column, a month)."""
    if not is_seasonal(model):
        name = getattr(model, "spec", None) or "this model"
        raise InputError(
            f"{name} is a static model: it has no time input, so {what} cannot be used with it; "
            "drop it, or use a seasonal model such as satclip-bluemarble-seasonal-l40-v3"
        )


def embed_at_times(
    model: Any, lonlat: np.ndarray, time: np.ndarray, batch_size: int | None = None
) -> np.ndarray:
    """A seasonal model's embeddings of (N, 2) lon/lat rows at (N,) year fractions in [0, 1)
    (what ``month=`` and ``day_of_year=`` become; the evaluation suite's tasks store these)."""
    rows = model._checked_rows(lonlat)
    t = np.asarray(time, dtype=np.float64)
    if t.shape != (len(rows),) or not (np.isfinite(t).all() and (t >= 0).all() and (t < 1).all()):
        raise InputError(f"time must be {len(rows)} year fractions in [0, 1), got shape {t.shape}")
    return model._embed_rows(rows, batch_size, model._times(t, rows))


def grid_axes(lons: Any, lats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked 1-D float64 axes of a grid, longitudes wrapped into [-180, 180]."""
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    if lon.ndim != 1 or lat.ndim != 1:
        raise InputError(f"grid axes must be 1-D arrays of degrees, got shapes {lon.shape} and {lat.shape}")
    check_lonlat_array(np.stack([lon, np.zeros_like(lon)], axis=1))  # names the first bad longitude
    check_lonlat_array(np.stack([np.zeros_like(lat), lat], axis=1))
    return wrap_longitude(torch.from_numpy(lon.copy())).numpy(), lat


class FixedTime(BatchEmbedder):
    """A seasonal model seen at one time of year: an :class:`Embedder` whose ``embed``,
    ``embed_array`` and ``embed_grid`` (those of :class:`BatchEmbedder`) use that time for every
    point (what a raster or a map of one month draws). Its fingerprint is the model's and the
    time's."""

    def __init__(self, model: Any, t: float) -> None:
        self.model, self.time = model, t
        self.training_index = model.training_index
        self.spec = model.spec

    @property
    def config(self) -> LocationEncoderConfig | None:
        return self.model.config

    @property
    def seasonal(self) -> bool:
        return False  # its time is fixed: it takes no other

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.model.output_dtype)

    @property
    def default_batch_size(self) -> int:
        return int(self.model.default_batch_size)

    def fingerprint(self) -> str:
        import hashlib

        return hashlib.sha256(f"{self.model.fingerprint()}@{self.time!r}".encode()).hexdigest()

    def _times(
        self, t: np.ndarray | None, rows: Any, shape: tuple[int, ...] | None = None
    ) -> np.ndarray | None:
        if t is not None:
            raise InputError(
                "this model is already set to one time of year; embed with the seasonal model itself"
            )
        return None

    def _embed_rows(
        self, lonlat: np.ndarray, batch_size: int | None, times: np.ndarray | None = None
    ) -> np.ndarray:
        return self.model._embed_rows(lonlat, batch_size, np.full(len(lonlat), self.time))

    def _embed_grid_at(self, lon: np.ndarray, lat: np.ndarray, t: float | None) -> np.ndarray:
        return self.model._embed_grid_at(lon, lat, self.time)


def at_time(model: Any, month: Any = None, day_of_year: Any = None) -> Any:
    """``model`` itself when no time is given; else the seasonal model at that one time (a
    :class:`FixedTime`). A static model given a time refuses, as its ``embed`` does."""
    t = year_fractions(month, day_of_year)
    if t is None:
        return model
    require_seasonal(model, "a month")
    if t.ndim != 0:
        raise InputError(f"one month or day of year is expected here, got shape {t.shape}")
    return FixedTime(model, float(t))
