"""A non-editable install (`pip install .` into a fresh virtual environment), used as a newcomer would.

`heads add-evidence` and `heads new` must never write into the data installed inside the package: inside a
checkout they edit the checkout, elsewhere they refuse and say to pass --data.
"""

from __future__ import annotations

import hashlib
import os
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, write_data


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a fresh venv holding a wheel-style install of this checkout (dependencies are this
    environment's, reached through a .pth file, so nothing else is downloaded)."""
    root = tmp_path_factory.mktemp("install")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.skip(f"pip could not build and install the checkout (no build backend reachable?): {done.stderr[-500:]}")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    yield python


def _package_data(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import catalogue, pathlib; print(pathlib.Path(catalogue.__file__).parent / '_data')"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    data = Path(out.stdout.strip())
    assert (data / "heads").is_dir(), "the wheel ships the data as catalogue/_data"
    assert (data.parent / "index.sql").is_file(), "the wheel ships the index's DDL (catalogue/index.sql)"
    assert ROOT not in data.parents, "the installed package must not be this checkout"
    return data


def _heads(python: Path, cwd: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HEADS_DATA_DIR", "PYTHONPATH")}
    env["HEADS_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [str(python), "-m", "catalogue", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


EVIDENCE = [
    *("--cite", "olsson2022incontext", "--method", "scoring", "--source", "Table 9 (install test)"),
    *("--source-kind", "body"),
]
NEW = [
    *("--id", "install-test-head", "--name", "Install test head", "--stage", "LR"),
    *("--summary", "A head type written by the install test.", "--cite", "olsson2022incontext"),
    *("--method", "scoring", "--source", "Section 9 (install test)", "--source-kind", "body"),
]


def test_outside_a_checkout_the_installed_data_is_never_edited(installed: Path, tmp_path: Path) -> None:
    data = _package_data(installed)
    before = _tree_digest(data)
    for args in (["add-evidence", "induction-head", *EVIDENCE], ["new", *NEW]):
        done = _heads(installed, tmp_path, tmp_path / "cache", *args)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "pass --data" in done.stderr and "Traceback" not in done.stderr
    assert _tree_digest(data) == before


def test_inside_a_checkout_the_checkout_is_edited(installed: Path, tmp_path: Path) -> None:
    package_data = _package_data(installed)
    before = _tree_digest(package_data)
    checkout = tmp_path / "clone"
    write_data(checkout / "data")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    (checkout / "docs").mkdir()
    done = _heads(installed, checkout / "docs", tmp_path / "cache", "add-evidence", "induction-head", *EVIDENCE)
    assert done.returncode == 0, done.stdout + done.stderr
    target = checkout / "data" / "heads" / "induction-head.yaml"
    assert f"wrote {target}" in done.stdout
    assert "Table 9 (install test)" in target.read_text(encoding="utf-8")
    done = _heads(installed, checkout, tmp_path / "cache", "new", *NEW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wrote {checkout / 'data' / 'heads' / 'install-test-head.yaml'}" in done.stdout
    assert _tree_digest(package_data) == before
