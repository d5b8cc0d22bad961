#!/usr/bin/env python3
"""A seam region of a tiled boost, side by side with the same region boosted whole, and their difference.

    python3 scripts/seam-grid.py TILED.png WHOLE.png OUT.png --x X --y Y [--size S] [--zoom Z] [--gain G]

Crops S×S pixels at (X, Y) from both images (put X, Y on a tile seam: with --tile T --overlap O the second column
of tiles starts at LR x = T − O, so HR x = 4·(T − O)), and writes one PNG: tiled | whole | |tiled − whole|·G, each
zoomed Z× by pixel repetition. Prints the PSNR of the crop and of the whole image. Standard library only (8-bit
RGB/RGBA PNGs, as `boost` writes them).
"""
import argparse
import math
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"error: {path} is not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                sys.exit(f"error: {path}: only 8-bit RGB/RGBA non-interlaced PNGs are read (depth {depth}, color {color})")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if filt == 1: line[i] = (line[i] + a) & 255
            elif filt == 2: line[i] = (line[i] + b) & 255
            elif filt == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def write_png(path, rows):
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path + ".tmp", "wb") as f:
        f.write(png)
    import os
    os.replace(path + ".tmp", path)


def psnr(a, b):
    se = n = 0
    for ra, rb in zip(a, b):
        for pa, pb in zip(ra, rb):
            se += sum((x - y) ** 2 for x, y in zip(pa, pb))
            n += 3
    return float("inf") if se == 0 else 10 * math.log10(255 ** 2 * n / se)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tiled"); ap.add_argument("whole"); ap.add_argument("out")
    ap.add_argument("--x", type=int, required=True); ap.add_argument("--y", type=int, required=True)
    ap.add_argument("--size", type=int, default=96); ap.add_argument("--zoom", type=int, default=3)
    ap.add_argument("--gain", type=float, default=4)
    a = ap.parse_args()
    wt, ht, t = read_png(a.tiled)
    ww, hw, w = read_png(a.whole)
    if (wt, ht) != (ww, hw):
        sys.exit(f"error: {a.tiled} is {wt}x{ht}, {a.whole} is {ww}x{hw}")
    x0, y0 = max(0, min(a.x, wt - a.size)), max(0, min(a.y, ht - a.size))
    ct = [row[x0:x0 + a.size] for row in t[y0:y0 + a.size]]
    cw = [row[x0:x0 + a.size] for row in w[y0:y0 + a.size]]
    cd = [[tuple(min(255, int(abs(p - q) * a.gain)) for p, q in zip(pt, pw)) for pt, pw in zip(rt, rw)] for rt, rw in zip(ct, cw)]
    gap = [(255, 255, 255)] * (4 * a.zoom)
    out = []
    for rt, rw, rd in zip(ct, cw, cd):
        row = [px for px in rt for _ in range(a.zoom)] + gap + [px for px in rw for _ in range(a.zoom)] + gap + [px for px in rd for _ in range(a.zoom)]
        out.extend([row] * a.zoom)
    write_png(a.out, out)
    print(f"crop {a.size}x{a.size} at ({x0}, {y0}): PSNR tiled vs whole {psnr(ct, cw):.2f} dB; whole image {psnr(t, w):.2f} dB; wrote {a.out}")


if __name__ == "__main__":
    main()
