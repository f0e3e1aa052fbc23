"""``satclip.dask.embed``: add embedding columns to a dask DataFrame of (lon, lat) rows.

    >>> import dask.dataframe as dd
    >>> import satclip.dask
    >>> ddf = dd.read_parquet("points/")                      # columns lon, lat, ...
    >>> satclip.dask.embed(ddf, "satclip-bluemarble-l10").to_parquet("embedded/")

The model goes into the task graph as one small key that every partition depends on: a name,
or a path and its sha256, or, for an in-memory encoder, its bytes in satclip's own safetensors
format. The scheduler sends that key to each worker once, and each worker process loads the
model once into a process-level cache keyed by content hash, then reuses it for every partition
it runs (docs/dask.md).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from satclip._optional import missing_extra

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd
    from dask.base import tokenize
except ImportError as e:  # dask is an optional extra, not a core dependency
    raise missing_extra("dask[dataframe]", "dask", "satclip.dask", e) from e

from satclip._compat import warn_renamed
from satclip._coords import LAT_NAMES, LON_NAMES, bad_row_message, coordinate_columns, first_bad_row
from satclip._time import column_times, time_column
from satclip.checkpoints import load_file, save
from satclip.embedder import Embedder, embed_at_times, require_seasonal
from satclip.encoder import LocationEncoder
from satclip.errors import InputError, InputTypeError, ModelFileError, ModelNotFoundError
from satclip.pretrained import PRETRAINED, ModelSpec, load, model_path, sha256_of

# A long-lived worker may embed with several models (or with an encoder whose weights change
# between calls, e.g. during training); keep the few most recent rather than all of them.
_CACHE_SIZE = 4


@dataclass(frozen=True)
class _ModelRef:
    """What a worker needs to find the model, and the sha256 that names its content."""

    kind: Literal["name", "path", "bytes", "spec"]
    sha256: str  # of the model file; for "bytes" and "spec", the model's fingerprint()
    where: str = ""  # the model name, the absolute path of the model file, or the spec
    data: bytes = field(default=b"", repr=False)  # the model file, for an in-memory encoder
    bf16_layers: tuple[int, ...] = ()  # of an in-memory encoder (a run-time choice, not in its file)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.where, self.sha256)


_cache: OrderedDict[tuple[str, str, str], Embedder] = OrderedDict()
_loads: Counter[tuple[str, str, str]] = Counter()  # loads per key in this process, for tests
# One lock for the cache: two threads of a worker that miss at once must not load twice.
_lock = threading.Lock()


def _model_ref(model: Embedder | ModelSpec) -> _ModelRef:
    if isinstance(model, LocationEncoder):
        with tempfile.TemporaryDirectory(prefix="satclip-dask-") as d:
            data = save(model, Path(d) / "model.safetensors").read_bytes()
        return _ModelRef("bytes", model.fingerprint(), data=data, bf16_layers=model.bf16_layers)
    if isinstance(model, Embedder):
        if model.spec is None:
            raise InputTypeError(
                f"a {type(model).__name__} built in memory cannot be sent to dask workers; pass "
                "what satclip.load takes (a name, a path every worker can read, 'geoclip', 'sh40')"
            )
        model = model.spec
    if not isinstance(model, str | os.PathLike):
        raise InputTypeError(
            "model must be a satclip model or what satclip.load takes (a name, a model file path), "
            f"got {type(model).__name__}"
        )
    key = os.fspath(model)
    if key in PRETRAINED:
        # Names are resolved on each worker (installs differ in where the files live); the
        # client's sha256 makes sure every worker embeds with the same weights.
        return _ModelRef("name", sha256_of(model_path(key)), where=key)
    path = Path(key).expanduser().resolve()
    if path.is_file():
        return _ModelRef("path", sha256_of(path), where=str(path))
    # Raw encodings, geoclip, hf://: built or fetched by each worker, checked by fingerprint.
    # The fingerprint needs the model here; it goes into this process's cache, so that embed()
    # does not build it a second time.
    loaded = load(key)
    ref = _ModelRef("spec", loaded.fingerprint(), where=key)
    _encoder(ref, loaded)
    return ref


def _load(ref: _ModelRef) -> Embedder:
    encoder: Embedder
    if ref.kind == "bytes":
        with tempfile.TemporaryDirectory(prefix="satclip-dask-") as d:
            tmp = Path(d) / "model.safetensors"
            tmp.write_bytes(ref.data)
            encoder = load_file(tmp)
        # The client's choice as it is, not measured again: every worker computes the same values.
        encoder._use_bf16(ref.bf16_layers)
    elif ref.kind == "spec":
        encoder = load(ref.where)
        if encoder.fingerprint() != ref.sha256:
            raise ModelFileError(
                ref.where,
                f"the model on host {socket.gethostname()} differs from the client's (another "
                "version of the package that provides it?)",
            )
    else:
        path = model_path(ref.where) if ref.kind == "name" else Path(ref.where)
        if not path.is_file():
            raise ModelNotFoundError(
                f"{path}: model file not found on worker host {socket.gethostname()}; a path must be "
                "readable by every worker (shared storage), or pass the loaded encoder instead"
            )
        actual = sha256_of(path)
        if actual != ref.sha256:
            raise ModelFileError(
                path,
                f"sha256 {actual[:16]}… on host {socket.gethostname()} differs from the client's "
                f"{ref.sha256[:16]}…: the file changed during the job, or workers see another copy",
            )
        encoder = load(path)
    # Eval mode once, here: embed_array restores the mode it found, so threads sharing a cached
    # encoder that was left in train mode could switch dropout back on under each other.
    return encoder.eval() if isinstance(encoder, LocationEncoder) else encoder


def _encoder(ref: _ModelRef, loaded: Embedder | None = None) -> Embedder:
    """The model of ``ref`` from this process's cache, loading it on the first use (or taking
    ``loaded``, the same model already loaded by the caller)."""
    with _lock:
        encoder = _cache.get(ref.key)
        if encoder is None:
            encoder = _load(ref) if loaded is None else loaded
            _loads[ref.key] += 1
            _cache[ref.key] = encoder
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(ref.key)
        return encoder


def _load_counts() -> dict[tuple[str, str, str], int]:
    """Model loads per cache key in this process (run on workers with ``client.run``)."""
    return dict(_loads)


def _clear_cache() -> None:
    with _lock:
        _cache.clear()
        _loads.clear()


def _with_embedding(part: pd.DataFrame, emb: np.ndarray, prefix: str) -> pd.DataFrame:
    names = [f"{prefix}{i}" for i in range(emb.shape[1])]
    # One 2-D block for all embedding columns; same index object, so concat does not realign.
    cols = pd.DataFrame(emb, index=part.index, columns=names, copy=False)
    return pd.concat([part, cols], axis=1)


def _embed_partition(
    part: pd.DataFrame,
    ref: _ModelRef,
    lon_col: str,
    lat_col: str,
    prefix: str,
    batch_size: int | None,
    n_partitions: int,
    time: tuple[str, str] | None = None,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    lonlat = np.stack(
        [part[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in (lon_col, lat_col)], axis=1
    ).reshape(-1, 2)
    row = first_bad_row(lonlat)
    if row is not None:
        # The encoder's message counts rows within this partition; add what finds the row in
        # the whole frame: the partition number and the row's index label.
        number = partition_info["number"] if partition_info else "?"
        raise InputError(
            f"partition {number} of {n_partitions}, row {row} of the partition "
            f"(index label {part.index[row]!r}): {bad_row_message(lonlat, row)}"
        )
    encoder = _encoder(ref)
    if time is None:
        return _with_embedding(part, encoder.embed_array(lonlat, batch_size), prefix)
    column, kind = time
    number = partition_info["number"] if partition_info else "?"
    label = f"partition {number} of {n_partitions}, {kind} column {column!r}"
    times = column_times(part[column].to_numpy(), column, kind, label=label)
    return _with_embedding(part, embed_at_times(encoder, lonlat, times, batch_size), prefix)


def embed(
    model: Embedder | ModelSpec,
    ddf: dd.DataFrame,
    lon_col: str | None = None,
    lat_col: str | None = None,
    prefix: str = "emb_",
    batch_size: int | None = None,
    month_col: str | None = None,
    date_col: str | None = None,
) -> dd.DataFrame:
    """``ddf`` with columns ``{prefix}0`` … ``{prefix}{dim-1}`` holding each row's embedding.

    ``model`` is what :func:`satclip.load` takes (a name, a model file path that every worker
    can read, ``sh40``, ``geoclip``, ...) or a loaded model: a
    :class:`~satclip.LocationEncoder` is sent to the workers, another model by its ``spec``.
    Columns have the model's output dtype (float32 for satclip's own models, float64 for
    published checkpoints). Lazy: nothing is computed here; the model is loaded once per worker
    process when the result is computed. ``batch_size`` defaults to the model's. (Before 0.2 the
    frame came first; that order still works, with a ``FutureWarning``.)
    ``lon_col``/``lat_col`` default to the columns found by name (``lon``, ``Longitude``,
    ``decimalLatitude``, ... in any case), as in ``satclip embed``. Missing or
    non-numeric columns raise ``ValueError`` now; a bad coordinate raises ``ValueError`` at
    compute time, naming its partition, its index label and its row within the partition.
    A seasonal model takes each row's time of year from ``month_col`` (month numbers 1-12) or
    ``date_col`` (dates); without them, its annual embedding.
    """
    if isinstance(model, dd.DataFrame) and not isinstance(ddf, dd.DataFrame):
        warn_renamed("satclip.dask.embed()", "embed(ddf, model)", "embed(model, ddf)")
        model, ddf = ddf, model
    if not isinstance(ddf, dd.DataFrame):
        raise InputTypeError(
            f"expected a dask DataFrame, got {type(ddf).__name__}; wrap pandas frames with "
            "dask.dataframe.from_pandas(df, npartitions=...)"
        )
    columns = list(ddf.columns)
    fix = "lon_col= / lat_col="
    lon_found, lat_found = coordinate_columns(columns, lon_col, lat_col, fix)
    lon_col, lat_col = lon_found or "lon", lat_found or "lat"  # missing: named in the error below
    missing = [c for c in (lon_col, lat_col) if c not in columns]
    if missing:
        raise InputError(
            f"no column(s) {missing}; columns are {columns}. Name them with {fix} (found by name "
            f"when not given: {', '.join(LON_NAMES + LAT_NAMES)}, any case)"
        )
    for c in (lon_col, lat_col):
        dtype = ddf._meta[c].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise InputError(f"column {c!r} has dtype {dtype}; convert it first: ddf[{c!r}].astype(float)")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be positive, got {batch_size}")
    time = time_column(month_col, date_col)
    if time is not None and time[0] not in columns:
        raise InputError(f"no {time[1]} column {time[0]!r}; columns are {columns}")
    ref = _model_ref(model)
    # Loading here checks the model and gives dim and dtype for the meta; it also fills this
    # process's cache, which the threaded and synchronous schedulers then reuse.
    encoder = _encoder(ref)
    if time is not None:
        require_seasonal(encoder, f"{time[1]}_col")
    clash = [c for c in (f"{prefix}{i}" for i in range(encoder.dim)) if c in columns]
    if clash:
        raise InputError(f"column(s) {clash[:5]} already exist; pass another prefix=")
    meta = _with_embedding(ddf._meta, np.empty((0, encoder.dim), dtype=encoder.output_dtype), prefix)
    # One graph key for the model, a dependency of every partition task: the scheduler ships it
    # to each worker once instead of embedding megabytes of weights in every task.
    model_key = dask.delayed(ref, pure=True, traverse=False, name=f"satclip-model-{tokenize(ref.key)}")
    return ddf.map_partitions(
        _embed_partition,
        model_key,
        lon_col=lon_col,
        lat_col=lat_col,
        prefix=prefix,
        batch_size=batch_size,
        n_partitions=ddf.npartitions,
        time=time,
        meta=meta,
    )
