"""Sources shared by the CLI and file tests."""

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
