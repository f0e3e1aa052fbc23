"""The layers of ARCHITECTURE.md, checked on the source: imports point down, never up.

Every ``satclip`` import in every module counts, lazy ones inside functions included: a lazy
import of a higher layer is still a dependency that runs the wrong way.
"""

import ast
from pathlib import Path

import pytest

import satclip

SRC = Path(satclip.__file__).parent

# Module (dotted, without the "satclip." prefix) or package prefix → layer, as in ARCHITECTURE.md.
LAYERS: dict[str, int] = {
    "_coords": 1,
    "_registry": 1,
    "_files": 1,
    "errors": 1,
    "_compat": 1,
    "_optional": 1,
    "_pca": 1,
    "_threads": 1,
    "_version": 1,
    "_http": 1,
    "_registries": 1,
    "_time": 1,
    "_precision": 1,
    "_fold": 3,
    "sources": 1,
    "encodings": 2,
    "networks": 2,
    "geography": 2,
    "coastlines": 2,
    "embedder": 3,
    "_grid": 3,
    "encoder": 3,
    "checkpoints": 3,
    "pretrained": 3,
    "onnx_runtime": 3,
    "peers": 3,
    "hub": 3,
    "data": 4,
    "io": 5,
    "ood": 5,
    "raster": 5,
    "maps": 5,
    "onnx_export": 5,
    "_onnx_precision": 5,
    "dask": 5,
    "sklearn": 5,
    "evaluation": 5,
    "explore": 5,
    "training": 6,
    "cli": 7,
}
# Using a trained model must not pull in the pretraining-data package.
INFERENCE = ("io", "ood", "raster", "maps", "onnx_export", "onnx_runtime", "dask", "sklearn", "explore")


def _name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    top = module.split(".")[0]
    if top not in LAYERS:
        raise AssertionError(f"satclip.{module} has no layer: add it to ARCHITECTURE.md and LAYERS")
    return LAYERS[top]


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _satclip_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module without "satclip.") of every satclip import; "" is the top level."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "satclip" or alias.name.startswith("satclip."):
                    out.append((node.lineno, alias.name.removeprefix("satclip").lstrip(".")))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "satclip":
                # ``from satclip import sources`` imports a module; ``from satclip import load``
                # imports from the top-level package.
                for alias in node.names:
                    out.append((node.lineno, alias.name if _is_module(alias.name) else ""))
            elif node.module.startswith("satclip."):
                out.append((node.lineno, node.module.removeprefix("satclip.")))
    return out


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


def _violations(path: Path, name: str) -> list[str]:
    layer, found = _layer(name), []
    for line, imported in _satclip_imports(path):
        where = f"{path.name}:{line}"
        if not imported:
            found.append(f"{where} imports the top-level satclip package; import the module it needs")
        elif _layer(imported) > layer:
            found.append(
                f"{where}: satclip.{name} (layer {layer}) imports satclip.{imported} (layer {_layer(imported)})"
            )
        elif name.split(".")[0] in INFERENCE and imported.split(".")[0] == "data":
            found.append(f"{where}: satclip.{name} (inference) imports the pretraining-data package")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_imports_point_down_the_layers(path):
    assert _violations(path, _name(path)) == []


def test_the_check_finds_each_kind_of_violation(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import satclip\n\ndef f():\n    from satclip.training import loss\n    import satclip.data.s2\n"
    )
    assert _satclip_imports(probe) == [(1, ""), (4, "training"), (5, "data.s2")]
    assert len(_violations(probe, "encodings.spherical_harmonics")) == 3  # top level, training, data
    assert len(_violations(probe, "ood")) == 3  # top level, training (6 > 5), data in inference
    assert len(_violations(probe, "cli.use")) == 1  # only the top-level import
