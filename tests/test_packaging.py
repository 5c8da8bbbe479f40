"""A plain (non-editable) install ships the rules and the API snapshot inside the package."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_rules_and_snapshot(tmp_path):
    pytest.importorskip("hatchling")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel, = tmp_path.glob("cuda2npu-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {f"cuda2npu/rules/{p.name}" for p in (ROOT / "rules").glob("*.yaml")}
    assert rules and rules <= names
    assert "cuda2npu/data/api_snapshot.json" in names
    assert not any(n.startswith(("tests/", "fixtures/")) for n in names)


def test_wheel_and_sdist_carry_license_types_version_and_benchmarks(tmp_path):
    pytest.importorskip("hatchling")
    import tarfile

    from cuda2npu import __version__

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel, = tmp_path.glob("cuda2npu-*.whl")
    assert wheel.name.startswith(f"cuda2npu-{__version__}-")  # one version, in cuda2npu/__init__.py
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cuda2npu/py.typed" in names and f"cuda2npu-{__version__}.dist-info/licenses/LICENSE" in names
    sdist_dir = tmp_path / "sdist"
    subprocess.run([sys.executable, "-c", "import sys; from hatchling.build import build_sdist; "
                    "print(build_sdist(sys.argv[1]))", str(sdist_dir)], cwd=ROOT, check=True, capture_output=True)
    sdist, = sdist_dir.glob("cuda2npu-*.tar.gz")
    members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
    assert {"LICENSE", "benchmarks/bench.py", "scripts/sync_api.py", "README.md"} <= members
