"""Named models: the registry, the cache, and downloading from a hub served on loopback."""

import base64
import hashlib
import http.server
import json
import re
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

import satclip
from satclip import ModelFileError
from satclip.hub import HubFile
from satclip.pretrained import PRETRAINED, download, model_path
from tests.references import published_checkpoint


def test_list_pretrained_names_the_published_models():
    names = satclip.list_pretrained()
    for backbone in ("resnet18", "resnet50", "vit16"):
        for L in (10, 40):
            assert f"satclip-{backbone}-l{L}" in names


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="satclip-resnet50-l40"):
        satclip.load("satclip-resnet51-l40")


def test_the_recommended_model_ships_in_the_package():
    from satclip.pretrained import RECOMMENDED

    assert PRETRAINED[RECOMMENDED].bundled, "the default of embed/raster/map/evaluate must work offline"
    assert satclip.load(RECOMMENDED).dim == 256
    # `satclip.load()` with no name is that model, as the command line's default is.
    assert satclip.load().fingerprint() == satclip.load(RECOMMENDED).fingerprint()


def test_a_device_that_is_not_here_is_refused_by_name():
    with pytest.raises(ValueError, match="device 'gpu' is not a torch device; use e.g. 'cpu', 'cuda'"):
        satclip.load("satclip-bluemarble-l10", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(
            ValueError, match=r"device 'cuda' is not available here: .* no CUDA GPU; use device='cpu'"
        ):
            satclip.load("satclip-bluemarble-l10", device="cuda")
    assert satclip.load("satclip-bluemarble-l10", device=torch.device("cpu")).device.type == "cpu"


def test_uncached_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="satclip download --model satclip-resnet18-l10"):
        satclip.load("satclip-resnet18-l10")


COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubHandler(http.server.BaseHTTPRequestHandler):
    """The Hugging Face Hub's file endpoint as huggingface_hub reads it: HEAD and GET of
    /OWNER/REPO/resolve/REVISION/PATH, with the commit and an ETag in the headers."""

    files: ClassVar[dict[tuple[str, str], bytes]] = {}  # (repo, path) -> bytes, at main and COMMIT
    requests: ClassVar[list[str]] = []

    def _send(self, body: bool) -> None:
        self.requests.append(f"{self.command} {self.path}")
        parts = self.path.lstrip("/").split("/")
        key = ("/".join(parts[:2]), "/".join(parts[4:]))
        if (
            len(parts) < 5
            or parts[2] != "resolve"
            or parts[3] not in ("main", COMMIT)
            or key not in self.files
        ):
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        data = self.files[key]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):
        self._send(body=False)

    def do_GET(self):
        self._send(body=True)

    def do_POST(self):
        # The write API as huggingface_hub's create_repo and create_commit use it: small files
        # are sent inline ("regular" upload mode), base64 in an NDJSON commit.
        self.requests.append(f"POST {self.path} auth={self.headers.get('Authorization')}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/api/repos/create":
            req = json.loads(body)
            out = {"url": f"{base}/{req['organization']}/{req['name']}"}
        elif self.path == "/api/validate-yaml":  # the model card's metadata is checked first
            out = {"errors": [], "warnings": []}
        elif "/preupload/" in self.path:
            files = json.loads(body)["files"]
            out = {
                "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            }
        elif "/commit/" in self.path:
            repo = self.path.split("/api/models/")[1].split("/commit/")[0]
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    self.files[(repo, item["value"]["path"])] = base64.b64decode(item["value"]["content"])
            out = {"commitUrl": f"{base}/{repo}/commit/{COMMIT}", "commitOid": COMMIT, "pullRequestUrl": None}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A hub on 127.0.0.1 serving the published ResNet18 L=10 checkpoint (a real-format stand-in
    built by tests.references) and the shipped L=10 model as a satclip file of another repo."""
    ckpt = tmp_path / "satclip-resnet18-l10.ckpt"
    torch.save(published_checkpoint(10), ckpt)
    HubHandler.files = {
        ("microsoft/SatCLIP-ResNet18-L10", "satclip-resnet18-l10.ckpt"): ckpt.read_bytes(),
        ("someone/satclip-l10", "models/l10.safetensors"): model_path("satclip-bluemarble-l10").read_bytes(),
    }
    HubHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SATCLIP_HUB_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SATCLIP_OFFLINE", raising=False)  # this hub is on loopback: tests download from it
    yield ckpt
    server.shutdown()
    server.server_close()


def test_download_then_load_by_name(hub):
    path = download("satclip-resnet18-l10", progress=False)
    assert path.read_bytes() == hub.read_bytes()
    assert Path(str(path) + ".sha256").exists()
    assert not list(path.parent.glob("*.part"))
    enc = satclip.load("satclip-resnet18-l10")
    direct = satclip.load(hub)
    pts = np.array([[10.0, 10.0], [-60.0, -3.0]])
    np.testing.assert_array_equal(enc.embed_array(pts), direct.embed_array(pts))
    # A second call is a no-op.
    mtime = path.stat().st_mtime_ns
    download("satclip-resnet18-l10", progress=False)
    assert path.stat().st_mtime_ns == mtime


def test_corrupted_cache_file_fails_its_checksum(hub):
    path = download("satclip-resnet18-l10", progress=False)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"sha256 .* does not match"):
        satclip.load("satclip-resnet18-l10")


def test_missing_file_on_the_hub_is_a_clear_error(hub):
    with pytest.raises(OSError, match="could not download satclip-vit16-l40"):
        download("satclip-vit16-l40", progress=False)
    assert not list((hub.parent / "cache" / "models").glob("satclip-vit16-l40*"))


def test_download_refuses_names_that_are_not_downloadable():
    with pytest.raises(ValueError, match="not a downloadable model"):
        download("wrap")


def test_bundled_model_is_checksum_verified(tmp_path, monkeypatch):
    import satclip.pretrained as pretrained
    from satclip.pretrained import PretrainedModel, sha256_of

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=4)
    enc = satclip.LocationEncoder(sh, satclip.create_network("linear", dim_in=sh.dim, dim_out=3))
    path = satclip.save(enc, tmp_path / "tiny.safetensors")
    model = PretrainedModel("tiny", "tiny.safetensors", "test model", sha256=sha256_of(path))
    monkeypatch.setitem(pretrained.PRETRAINED, "tiny", model)
    monkeypatch.setattr(pretrained, "_bundled_path", lambda m: tmp_path / m.filename)
    assert "tiny" in satclip.list_pretrained()
    np.testing.assert_array_equal(satclip.load("tiny").embed(1.0, 2.0), enc.embed(1.0, 2.0))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ModelFileError, match=r"tiny.safetensors: sha256 .* does not match"):
        satclip.load("tiny")


BUNDLED = [m.name for m in PRETRAINED.values() if m.bundled]


def test_nine_models_ship_old_names_included():
    assert BUNDLED == [
        "satclip-bluemarble-viirs-l40-v4",
        "satclip-bluemarble-viirs-l40-v3",
        "satclip-bluemarble-seasonal-l40-v3",
        "satclip-bluemarble-seasonal-l40-v2",
        "satclip-bluemarble-seasonal-l40",
        "satclip-bluemarble-viirs-l40-v2",
        "satclip-bluemarble-viirs-l40",
        "satclip-bluemarble-l40",
        "satclip-bluemarble-l10",
    ]


def test_a_retrained_model_gets_a_new_name_and_its_own_weights():
    v1, v2 = PRETRAINED["satclip-bluemarble-viirs-l40"], PRETRAINED["satclip-bluemarble-viirs-l40-v2"]
    assert v2.filename == "satclip-bluemarble-viirs-l40-v2.safetensors" and v1.sha256 != v2.sha256
    assert v1.data == v2.data == ("bluemarble", "night-viirs", "landmask")
    assert "temperature fixed at 0.1" in v2.description and "temperature" not in v1.description
    pts = np.array([[2.35, 48.86], [-60.0, -3.1]])
    assert not np.allclose(satclip.load(v1.name).embed_array(pts), satclip.load(v2.name).embed_array(pts))


def test_a_distilled_model_names_its_teacher_for_the_model_card():
    from satclip.hub import model_card
    from satclip.peers import TEACHERS

    v2, v3 = PRETRAINED["satclip-bluemarble-viirs-l40-v2"], PRETRAINED["satclip-bluemarble-viirs-l40-v3"]
    assert v3.teachers == ("geoclip",) and v2.teachers == () and v3.data == v2.data
    assert "distilled from GeoCLIP" in v3.description and v3.sha256 != v2.sha256
    card = model_card(satclip.load(v3.name), v3.name, v3.filename, v3.data, teachers=v3.teachers)
    assert TEACHERS["geoclip"].attribution in card and TEACHERS["geoclip"].licence in card
    # -v4 is -v3 reshaped (training/spectrum.py): the same teacher, data and card.
    v4 = PRETRAINED["satclip-bluemarble-viirs-l40-v4"]
    assert v4.teachers == v3.teachers and v4.data == v3.data and "spectrum flattened" in v4.description


@pytest.mark.parametrize("name", BUNDLED)
def test_shipped_models_load_offline(name, tmp_path, monkeypatch):
    L = int(re.search(r"-l(\d+)(-v\d+)?$", name).group(1))
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))  # nothing cached: bundled in the package
    enc = satclip.load(name)
    assert enc.config.encoding.legendre_polys == L and enc.config.encoding.convention == "satclip"
    emb = enc.embed([2.35, -60.0, 0.0], [48.86, -3.1, -90.0])
    assert emb.shape == (3, 256) and np.isfinite(emb).all()
    # Trained: nearby places are more alike than places on other continents.
    near = enc.embed([2.35, 2.6], [48.86, 48.9])
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(near[0], near[1]) > cos(emb[0], emb[1])


def test_load_any_satclip_file_on_the_hub_by_uri(hub):
    ref = satclip.load("satclip-bluemarble-l10")
    pts = np.array([[10.0, 10.0], [-60.0, -3.0]])
    for uri in (
        "hf://someone/satclip-l10/models/l10.safetensors",
        f"hf://someone/satclip-l10/models/l10.safetensors@{COMMIT}",
    ):
        enc = satclip.load(uri)
        np.testing.assert_array_equal(enc.embed_array(pts), ref.embed_array(pts))
    published = satclip.load("hf://microsoft/SatCLIP-ResNet18-L10/satclip-resnet18-l10.ckpt")
    np.testing.assert_array_equal(published.embed_array(pts), satclip.load(hub).embed_array(pts))
    # A pinned commit is served from the cache without asking the hub again.
    before = len(HubHandler.requests)
    satclip.load(f"hf://someone/satclip-l10/models/l10.safetensors@{COMMIT}")
    assert len(HubHandler.requests) == before


def test_hub_uris_are_checked_and_failures_are_clear(hub):
    assert HubFile.parse("hf://a/b/c/d.safetensors@v1") == HubFile("a/b", "c/d.safetensors", "v1")
    for bad in ("hf://a/b", "hf://a//c", "hf://a/b/c@", "a/b/c"):
        with pytest.raises(ValueError):
            HubFile.parse(bad)
    with pytest.raises(OSError, match=r"could not download hf://someone/satclip-l10/nope.safetensors@main"):
        satclip.load("hf://someone/satclip-l10/nope.safetensors")
    with pytest.raises(OSError, match="could not download"):
        satclip.load("hf://someone/satclip-l10/models/l10.safetensors@v9")


def test_push_to_hub_uploads_the_model_and_its_card_then_loads_back(hub, tmp_path, monkeypatch, capsys):
    from satclip.cli import main

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    scores = tmp_path / "results.md"
    scores.write_text("| encoder | elevation (r2) |\n|---|---|\n| satclip-bluemarble-l10 | 0.500 |\n")
    assert (
        main(["push-to-hub", "--model", "satclip-bluemarble-l10", "me/my-l10", "--scores", str(scores)]) == 0
    )
    assert f"/me/my-l10/commit/{COMMIT}" in capsys.readouterr().out
    assert any("auth=Bearer hf_test_token" in r for r in HubHandler.requests)
    card = HubHandler.files[("me/my-l10", "README.md")].decode()
    assert card.startswith("---\nlibrary_name: satclip")
    assert '"legendre_polys": 10' in card and "| satclip-bluemarble-l10 | 0.500 |" in card
    assert "public domain (NASA imagery)" in card and "GLOBE" in card  # data sources and licences
    enc = satclip.load("hf://me/my-l10/satclip-bluemarble-l10.safetensors")
    pts = np.array([[10.0, 10.0], [-60.0, -3.0]])
    np.testing.assert_array_equal(
        enc.embed_array(pts), satclip.load("satclip-bluemarble-l10").embed_array(pts)
    )


def test_a_distilled_models_card_names_its_teacher_with_licence_and_attribution():
    from satclip.hub import model_card

    model = satclip.load("satclip-bluemarble-l10")
    card = model_card(
        model, "distilled", "distilled.safetensors", data_sources=["bluemarble"], teachers=["geoclip"]
    )
    section = card.split("## Distilled from", 1)[1]
    assert "**geoclip**, learned from about 4.7 million geotagged Flickr photos" in section
    assert "Licence: MIT" in section and "GeoCLIP" in section and "NeurIPS 2023" in section
    assert "## Distilled from" not in model_card(model, "plain", "plain.safetensors")


# satclip.load: one resolver for every kind of spec (issue 34).


def test_raw_encodings_load_as_models_of_their_features(tmp_path):
    from satclip.encodings.spherical_harmonics import spherical_harmonics

    pts = np.array([[2.35, 48.86], [-74.0, 40.71], [180.0, -90.0]])
    sh = satclip.load("sh10")
    assert isinstance(sh, satclip.LocationEncoder) and sh.spec == "sh10" and sh.dim == 100
    # The published convention, in float64: exactly the encoding's own features.
    want = spherical_harmonics(torch.from_numpy(pts), 10, "satclip").numpy()
    got = sh.embed_array(pts)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    wrap = satclip.load("wrap")
    with torch.no_grad():
        direct = satclip.create_encoding("wrap")(torch.from_numpy(pts)).numpy()
    np.testing.assert_array_equal(wrap.embed_array(pts), direct)
    # A raw model is a model like any other: saved and loaded back, it embeds the same.
    again = satclip.load(satclip.save(sh, tmp_path / "sh10.safetensors"))
    np.testing.assert_array_equal(again.embed_array(pts), got)


def test_onnx_files_load_through_the_same_door(tmp_path):
    pytest.importorskip("onnxruntime")
    from satclip.onnx_export import export_onnx
    from satclip.onnx_runtime import OnnxEncoder

    path = export_onnx("sh4", tmp_path / "sh4.onnx")
    enc = satclip.load(path)
    assert isinstance(enc, OnnxEncoder) and enc.spec == str(path)
    pts = np.array([[2.35, 48.86], [-74.0, 40.71]])
    np.testing.assert_allclose(
        enc.embed_array(pts), satclip.load("sh4").embed_array(pts), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="runs on onnxruntime"):
        satclip.load(path, device="meta")


def test_bad_specs_raise_the_family_errors(tmp_path):
    with pytest.raises(satclip.InputError, match=r"unknown model 'sh-40'.*sh<L>.*geoclip"):
        satclip.load("sh-40")
    # A missing model is the same error whether it was named by path or by name.
    with pytest.raises(satclip.ModelNotFoundError, match="no such model file"):
        satclip.load(tmp_path / "absent.ckpt")
    with pytest.raises(satclip.SatCLIPError):
        satclip.load(tmp_path / "absent.onnx")
    with pytest.raises(TypeError, match="already loaded: pass it as it is"):
        satclip.load(satclip.load("sh4"))  # type: ignore[arg-type]


def test_resolve_passes_models_through_and_names_what_a_stand_in_lacks():
    from satclip.pretrained import resolve

    sh = satclip.load("sh4")
    assert resolve(sh) is sh
    assert resolve("sh4").fingerprint() == sh.fingerprint()

    class Partial:
        def embed_array(self, lonlat):
            return lonlat

    with pytest.raises(TypeError, match=r"lacks .*default_batch_size.*spec"):
        resolve(Partial())


def test_offline_mode_loads_from_the_cache_and_never_asks_the_hub(hub, monkeypatch):
    uri = "hf://someone/satclip-l10/models/l10.safetensors"
    monkeypatch.setenv("SATCLIP_OFFLINE", "1")
    with pytest.raises(satclip.SatCLIPError, match="not in the cache and SATCLIP_OFFLINE is set"):
        satclip.load(uri)
    assert HubHandler.requests == []  # nothing was asked of the hub
    monkeypatch.setenv("SATCLIP_OFFLINE", "0")
    online = satclip.load(uri)
    asked = len(HubHandler.requests)
    monkeypatch.setenv("SATCLIP_OFFLINE", "yes")
    offline = satclip.load(uri)  # from the cache
    assert len(HubHandler.requests) == asked
    assert offline.fingerprint() == online.fingerprint()
