"""Bytes <-> text for Python files, keeping encoding (PEP 263), BOM and line endings."""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass

from .results import SourceError


@dataclass(frozen=True)
class Decoded:
    """A decoded file and how to encode it back byte for byte."""

    text: str
    encoding: str  # "utf-8-sig" keeps a BOM

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)


def decode(data: bytes) -> Decoded:
    """Decode Python source as the interpreter would; a clear error with its line otherwise."""
    if b"\0" in data:
        raise SourceError("binary file (contains a NUL byte)", data[: data.index(b"\0")].count(b"\n") + 1)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}", 1) from None
    try:
        return Decoded(decode_as(data, encoding), encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} in the coding cookie", 1) from None


def decode_as(data: bytes, encoding: str) -> str:
    """``data`` decoded; an undecodable byte is an error with its line."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"cannot decode as {encoding}: invalid byte 0x{data[exc.start]:02x}", line) from None
