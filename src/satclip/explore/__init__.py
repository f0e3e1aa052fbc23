"""``satclip explore``: an interactive map of an embedding in the browser, served from this
machine (Leaflet ships inside the package; nothing is fetched from the internet).

    from satclip.explore import create_app, serve
    serve(create_app("satclip-bluemarble-viirs-l40-v4"))

Needs the ``explore`` extra (Starlette, uvicorn) and ``data`` (the Blue Marble base layer).
"""

from satclip.explore.app import create_app
from satclip.explore.points import load_points
from satclip.explore.server import Server, bind, serve

__all__ = ["Server", "bind", "create_app", "load_points", "serve"]
