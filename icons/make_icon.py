"""Draws icons/mlconsole.png (256x256): a rounded tile with a rising training curve.

Pure Python (zlib + struct), so it runs anywhere: python3 icons/make_icon.py
"""
import math
import struct
import zlib

SIZE = 256
BG = (28, 42, 74)
CURVE = (255, 167, 38)
GRID = (60, 80, 120)


def inside_rounded(x, y, r=48):
    cx = min(max(x, r), SIZE - 1 - r)
    cy = min(max(y, r), SIZE - 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def curve_y(x):
    # A loss-like curve flipped into an accuracy-like rise.
    t = (x - 36) / (SIZE - 72)
    return SIZE - 48 - (SIZE - 110) * (1 - math.exp(-4 * t))


pixels = bytearray()
for y in range(SIZE):
    pixels.append(0)  # filter: none
    for x in range(SIZE):
        if not inside_rounded(x, y):
            pixels += bytes((0, 0, 0, 0))
            continue
        color = BG
        if 36 <= x <= SIZE - 36 and (y - 48) % 40 == 0 and y < SIZE - 40:
            color = GRID
        if 36 <= x <= SIZE - 36 and abs(y - curve_y(x)) < 7:
            color = CURVE
        pixels += bytes((*color, 255))


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n"
png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(bytes(pixels), 9))
png += chunk(b"IEND", b"")
with open(__file__.replace("make_icon.py", "mlconsole.png"), "wb") as f:
    f.write(png)
