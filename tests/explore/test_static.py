"""The page's files: Leaflet as npm publishes it, with its licence, and nothing that loads from
another server."""

import hashlib
import re
from importlib import resources

import pytest

STATIC = resources.files("satclip.explore") / "static"
# dist/leaflet.js, dist/leaflet.css and LICENSE of leaflet-1.9.4.tgz (`npm pack leaflet@1.9.4`,
# sha256 84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77), unchanged.
LEAFLET = {
    "leaflet.js": "db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a",
    "leaflet.css": "a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6",
    "LICENSE-leaflet.txt": "53e8dc25862014e4324741ca18fbe3611e11d42ef69f59f86ea8c5389647d4cb",
}


@pytest.mark.parametrize("name", sorted(LEAFLET))
def test_vendored_leaflet_is_the_published_release(name):
    assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == LEAFLET[name]


def test_licence_ships_with_it():
    assert "BSD 2-Clause License" in (STATIC / "LICENSE-leaflet.txt").read_text()


@pytest.mark.parametrize("name", ["index.html", "explore.js", "explore.css"])
def test_our_files_name_no_other_server(name):
    text = (STATIC / name).read_text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), name
