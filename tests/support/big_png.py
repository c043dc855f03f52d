"""Huge, tiny-on-disk RGBA PNGs (a product cut out on transparency), written row by row so
building one costs no memory: decoding it is what the tests and benchmarks measure."""

from __future__ import annotations

import struct
import zlib

SIDE_36MP = 6000

_CLEAR = bytes(4)
_BODY = bytes((30, 80, 200, 255))  # opaque blue product
_BAND = bytes((200, 40, 40, 128))  # half-transparent red band across it


def big_rgba_png(width: int = SIDE_36MP, height: int = SIDE_36MP) -> bytes:
    """A width x height RGBA PNG: an opaque ellipse with a translucent band, on transparency."""
    compressor = zlib.compressobj(9)
    chunks = []
    for y in range(height):
        chunks.append(compressor.compress(b"\x00" + _row(y, width, height)))  # filter: none
    chunks.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(chunks))
        + _chunk(b"IEND", b"")
    )


def _row(y: int, width: int, height: int) -> bytes:
    # Ellipse centred in the image, half its width and height across.
    dy = (y - height / 2) / (height / 4)
    if abs(dy) >= 1:
        return _CLEAR * width
    half = int(width / 4 * (1 - dy * dy) ** 0.5)
    left = width // 2 - half
    fill = _BAND if abs(dy) < 0.25 else _BODY
    return _CLEAR * left + fill * (2 * half) + _CLEAR * (width - left - 2 * half)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
