"""cuda2npu: migrate PyTorch code from CUDA to Ascend NPU (torch_npu), source to source."""

__version__ = "0.1.0"
__all__ = ["__version__", "migrate_source"]


def __getattr__(name: str):
    if name == "migrate_source":  # imported lazily: the CLI starts without LibCST
        from .engine import migrate_source

        return migrate_source
    raise AttributeError(name)
