"""Draws the app icon: a rounded tile with a rising training curve.

Pure Python (zlib + struct), so it runs anywhere:
  python3 icons/make_icon.py              writes icons/mlconsole.png (256x256, the source)
  python3 icons/make_icon.py SIZE OUT.png draws the same design at SIZE x SIZE (what the
                                          Debian package's hicolor icons are), each pixel
                                          averaged over 4x4 samples of the design
"""
import math
import struct
import sys
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


def design(x, y):
    """The colour of the 256x256 design at (x, y), or None outside the tile."""
    if not inside_rounded(x, y):
        return None
    color = BG
    if 36 <= x <= SIZE - 36 and (int(y) - 48) % 40 == 0 and y < SIZE - 40:
        color = GRID
    if 36 <= x <= SIZE - 36 and abs(y - curve_y(x)) < 7:
        color = CURVE
    return color


def draw(size):
    pixels = bytearray()
    if size == SIZE:
        for y in range(SIZE):
            pixels.append(0)  # filter: none
            for x in range(SIZE):
                color = design(x, y)
                pixels += bytes((0, 0, 0, 0)) if color is None else bytes((*color, 255))
        return pixels
    scale = SIZE / size
    n = 4
    for y in range(size):
        pixels.append(0)
        for x in range(size):
            total = [0, 0, 0]
            covered = 0
            for j in range(n):
                for i in range(n):
                    color = design((x + (i + 0.5) / n) * scale, (y + (j + 0.5) / n) * scale)
                    if color is not None:
                        covered += 1
                        for k in range(3):
                            total[k] += color[k]
            if covered == 0:
                pixels += bytes((0, 0, 0, 0))
            else:
                rgb = tuple(round(t / covered) for t in total)
                pixels += bytes((*rgb, round(255 * covered / (n * n))))
    return pixels


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(size):
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    out += chunk(b"IDAT", zlib.compress(bytes(draw(size)), 9))
    out += chunk(b"IEND", b"")
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3:
        size, target = int(sys.argv[1]), sys.argv[2]
        if not 8 <= size <= 1024:
            sys.exit("SIZE must be between 8 and 1024")
    else:
        size, target = SIZE, __file__.replace("make_icon.py", "mlconsole.png")
    with open(target, "wb") as f:
        f.write(png(size))
