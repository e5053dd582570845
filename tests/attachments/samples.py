"""Small files of each accepted type (and some that are not), made in code: no binary fixtures."""
from __future__ import annotations

import struct
import zlib


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of ``width`` × ``height`` red pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_like(size: int = 2048) -> bytes:
    """Bytes that start like a JPEG (SOI + APP0): what the type check looks at."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * max(0, size - 11)


def webp_like() -> bytes:
    return b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 20
HTML = b"<html><script>alert(1)</script></html>"
