"""Embedding tables and vector files: CSV, (Geo)Parquet, GeoJSON & co., GeoDataFrames.

Needs the ``io`` extra (pyarrow, tqdm) and, for geometries, the ``geo`` extra (shapely, pyproj,
pyogrio, geopandas).
"""

from satclip.io.embed import embed_file
from satclip.io.geodataframe import embed_geodataframe

__all__ = ["embed_file", "embed_geodataframe"]
