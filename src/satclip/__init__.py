"""satclip: location embeddings learned from satellite imagery.

    >>> import satclip
    >>> enc = satclip.load("satclip-bluemarble-l10")   # shipped; or a file, or a published .ckpt
    >>> enc.embed(lon=[2.35, -74.0], lat=[48.86, 40.71]).shape
    (2, 256)

Coordinates are always (longitude, latitude) in degrees, in that order.
"""

from satclip._version import package_version
from satclip.checkpoints import save
from satclip.embedder import LocationEncoderConfig
from satclip.encoder import LocationEncoder
from satclip.encodings import create_encoding, list_encodings
from satclip.errors import (
    InputError,
    MissingDependencyError,
    ModelFileError,
    ModelNotFoundError,
    SatCLIPError,
)
from satclip.networks import create_network, list_networks
from satclip.pretrained import list_pretrained, load

__version__ = package_version()


# Subpackages and modules with optional dependencies, imported on first use as attributes
# (``satclip.ood.ood_flags(...)`` after ``import satclip``), so that ``import satclip`` needs
# torch and numpy only.
_LAZY_MODULES = (
    "coastlines",
    "dask",
    "data",
    "evaluation",
    "geography",
    "io",
    "maps",
    "onnx_export",
    "onnx_runtime",
    "peers",
    "ood",
    "raster",
    "sklearn",
    "sources",
    "training",
)


def __getattr__(name: str) -> object:
    import importlib

    if name == "embed_geodataframe":
        from satclip.io import embed_geodataframe

        return embed_geodataframe
    if name in _LAZY_MODULES:
        return importlib.import_module(f"satclip.{name}")
    raise AttributeError(f"module 'satclip' has no attribute {name!r}")


__all__ = [
    "InputError",
    "LocationEncoder",
    "LocationEncoderConfig",
    "MissingDependencyError",
    "ModelFileError",
    "ModelNotFoundError",
    "SatCLIPError",
    "create_encoding",
    "create_network",
    "embed_geodataframe",
    "list_encodings",
    "list_networks",
    "list_pretrained",
    "load",
    "save",
]
