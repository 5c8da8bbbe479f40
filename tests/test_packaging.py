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
