"""Sources and helpers shared by the tests."""

from cuda2npu.engine import Engine, SourceError


def outcome(engine: Engine, source: str):
    """What a run gives, errors included, for comparing two runs."""
    try:
        result = engine.migrate(source)
    except SourceError as exc:
        return "refused", type(exc).__name__, exc.message, exc.line
    return "migrated", result.code, result.edits, result.findings

SNIPPET = (
    "import torch\n"
    "\n"
    'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
    "model = Net().cuda()\n"
)
SNIPPET_NPU = (
    "import torch\n"
    "import torch_npu\n"
    "\n"
    'device = torch.device("npu" if torch.npu.is_available() else "cpu")\n'
    "model = Net().npu()\n"
)
