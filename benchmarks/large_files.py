"""Wall time of ``cuda2npu migrate`` on large generated files (speed lives here, not in tests).

    python benchmarks/large_files.py

Each case is written to a temporary folder and migrated once in a fresh process; the output is
checked for the expected edits, or the refusal for its message. Targets (issue #15): the 5 MB file
with three sites in <= 3 s on the project's 2-core machine; every pathological case refused in a
few seconds, never minutes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def five_megabytes() -> str:
    filler = "".join(f"def helper_{i}(a, b):\n    return a + b * {i}\n\n\n" for i in range(97_500))
    return "import torch\n\n\n" + filler + "def main():\n    model = Net().cuda()\n    torch.cuda.synchronize()\n"


def long_class() -> str:
    body = "".join(f"    def m{i}(self, x):\n        return x * {i}\n\n" for i in range(40_000))
    return "import torch\n\n\nclass Big:\n" + body + "\n\nx = t.cuda()\n"


def long_chain() -> str:
    return "import torch\nx = t.cuda()\ny = z" + "".join(f".m{i}()" for i in range(20_000)) + "\n"


def one_line_literal() -> str:
    return "import torch\nx = t.cuda()\nTABLE = ['cuda', " + ", ".join(f"'{i:07d}'" for i in range(900_000)) + "]\n"


# name -> (source, whether it is migrated; else refused with a message, in bounded time)
CASES = {"5 MB module, three sites at the end": (five_megabytes, True),
         "class of 40,000 methods, one site": (long_class, True),
         "chain of 20,000 calls (refused: LibCST is quadratic in it)": (long_chain, False),
         "9 MB one-line literal holding a site (refused: memory)": (one_line_literal, False)}


def main() -> None:
    env = {"PYTHONPATH": str(REPO), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    print("| case | size MB | wall s | exit |\n|---|--:|--:|--:|")
    for name, (make, migrated) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.py"
            path.write_text(make(), encoding="utf-8")
            start = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "cuda2npu", "migrate", str(path)], env=env,
                                  capture_output=True, timeout=600)
            elapsed = time.monotonic() - start
            if migrated:
                assert "torch_npu" in path.read_text(encoding="utf-8")[:200], done.stderr.decode()[-500:]
            else:
                assert done.returncode == 1 and b"error:" in done.stderr, done.stderr.decode()[-500:]
            print(f"| {name} | {path.stat().st_size / 1e6:.1f} | {elapsed:.2f} | {done.returncode} |")


if __name__ == "__main__":
    main()
