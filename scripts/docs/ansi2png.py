#!/usr/bin/env python3
"""Render a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Usage: ansi2png.py CAPTURE.txt OUT.png [--cols N] [--rows N] [--font-size PX]

Needs Pillow and the DejaVu Sans Mono font:
    python3 -m venv /tmp/dps-shots-venv && /tmp/dps-shots-venv/bin/pip install pillow
    apt-get install fonts-dejavu-core   # /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf

Text is drawn with the font; block elements, box-drawing lines and braille dots are drawn as
shapes so that charts and borders join up without gaps between cells.
"""

import argparse
import re
import sys
import unicodedata

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:
    sys.exit(
        "ansi2png.py needs Pillow. Fix: python3 -m venv /tmp/dps-shots-venv && "
        "/tmp/dps-shots-venv/bin/pip install pillow, then run it with /tmp/dps-shots-venv/bin/python"
    )

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
DEFAULT_FG = (208, 212, 220)
DEFAULT_BG = (16, 20, 28)

# The 16 ANSI colours (a dark scheme), then the xterm 256-colour cube and grey ramp.
BASE16 = [
    (30, 33, 40), (224, 108, 117), (152, 195, 121), (229, 192, 123),
    (97, 175, 239), (198, 120, 221), (86, 182, 194), (200, 204, 212),
    (110, 118, 133), (240, 128, 138), (172, 215, 141), (245, 212, 143),
    (117, 195, 255), (218, 140, 241), (106, 202, 214), (255, 255, 255),
]


def xterm(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def copy(self):
        s = Style()
        for k in Style.__slots__:
            setattr(s, k, getattr(self, k))
        return s

    def apply(self, params):
        ps = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(ps):
            p = ps[i]
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 2:
                self.dim = True
            elif p == 3:
                self.italic = True
            elif p == 4:
                self.underline = True
            elif p == 7:
                self.reverse = True
            elif p == 22:
                self.bold = self.dim = False
            elif p == 23:
                self.italic = False
            elif p == 24:
                self.underline = False
            elif p == 27:
                self.reverse = False
            elif 30 <= p <= 37:
                self.fg = BASE16[p - 30]
            elif 90 <= p <= 97:
                self.fg = BASE16[p - 90 + 8]
            elif p == 39:
                self.fg = None
            elif 40 <= p <= 47:
                self.bg = BASE16[p - 40]
            elif 100 <= p <= 107:
                self.bg = BASE16[p - 100 + 8]
            elif p == 49:
                self.bg = None
            elif p in (38, 48) and i + 1 < len(ps):
                if ps[i + 1] == 5 and i + 2 < len(ps):
                    c = xterm(ps[i + 2])
                    i += 2
                elif ps[i + 1] == 2 and i + 4 < len(ps):
                    c = tuple(ps[i + 2 : i + 5])
                    i += 4
                else:
                    c = None
                if p == 38:
                    self.fg = c
                else:
                    self.bg = c
            i += 1


SGR = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")


def parse(text, cols, rows):
    """A rows × cols grid of (char, Style); wide characters take two cells."""
    grid = [[(" ", Style()) for _ in range(cols)] for _ in range(rows)]
    style = Style()
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        pos = 0
        for m in SGR.finditer(line):
            x = put(grid[y], x, line[pos : m.start()], style, cols)
            if m.group(1) is not None:
                style.apply(m.group(1))
            pos = m.end()
        put(grid[y], x, line[pos:], style, cols)
    return grid


def put(row, x, chunk, style, cols):
    for ch in chunk:
        if unicodedata.combining(ch):
            continue
        w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if x + w > cols:
            break
        row[x] = (ch, style.copy())
        if w == 2:
            row[x + 1] = ("", style.copy())
        x += w
    return x


# Box drawing: char -> weights of the (up, down, left, right) arms: 1 light, 2 heavy, 3 double.
BOX = {}


def _box(chars, arms):
    for ch in chars:
        BOX[ch] = arms


_box("─", (0, 0, 1, 1)); _box("━", (0, 0, 2, 2)); _box("═", (0, 0, 3, 3))
_box("│", (1, 1, 0, 0)); _box("┃", (2, 2, 0, 0)); _box("║", (3, 3, 0, 0))
_box("┌╭", (0, 1, 0, 1)); _box("┐╮", (0, 1, 1, 0)); _box("└╰", (1, 0, 0, 1)); _box("┘╯", (1, 0, 1, 0))
_box("┏", (0, 2, 0, 2)); _box("┓", (0, 2, 2, 0)); _box("┗", (2, 0, 0, 2)); _box("┛", (2, 0, 2, 0))
_box("╔", (0, 3, 0, 3)); _box("╗", (0, 3, 3, 0)); _box("╚", (3, 0, 0, 3)); _box("╝", (3, 0, 3, 0))
_box("├", (1, 1, 0, 1)); _box("┤", (1, 1, 1, 0)); _box("┬", (0, 1, 1, 1)); _box("┴", (1, 0, 1, 1))
_box("┼", (1, 1, 1, 1)); _box("┣", (2, 2, 0, 2)); _box("┫", (2, 2, 2, 0)); _box("┳", (0, 2, 2, 2))
_box("┻", (2, 0, 2, 2)); _box("╋", (2, 2, 2, 2)); _box("╠", (3, 3, 0, 3)); _box("╣", (3, 3, 3, 0))
_box("╦", (0, 3, 3, 3)); _box("╩", (3, 0, 3, 3)); _box("╬", (3, 3, 3, 3))


def draw_box(d, x0, y0, cw, ch, arms, color):
    cx, cy = x0 + cw // 2, y0 + ch // 2
    t = max(1, cw // 9)

    def seg(weight, horizontal, a, b):
        if weight == 0:
            return
        if weight == 3:  # double: two thin lines
            off = max(2, t + 1)
            for o in (-off, off):
                if horizontal:
                    d.rectangle([a, cy + o - t // 2, b, cy + o - t // 2 + t - 1], fill=color)
                else:
                    d.rectangle([cx + o - t // 2, a, cx + o - t // 2 + t - 1, b], fill=color)
            return
        w = t if weight == 1 else 2 * t + 1
        if horizontal:
            d.rectangle([a, cy - w // 2, b, cy - w // 2 + w - 1], fill=color)
        else:
            d.rectangle([cx - w // 2, a, cx - w // 2 + w - 1, b], fill=color)

    up, down, left, right = arms
    # Extend each arm to the centre line's far edge so that corners close.
    pad = t + 2 if 3 in arms else t
    seg(up, False, y0, cy + (pad if (left or right) else 0))
    seg(down, False, cy - (pad if (left or right) else 0), y0 + ch - 1)
    seg(left, True, x0, cx + (pad if (up or down) else 0))
    seg(right, True, cx - (pad if (up or down) else 0), x0 + cw - 1)


def draw_block(d, ch, x0, y0, cw, chh, color):
    """Block elements U+2580..U+259F that fill part of the cell; returns False if not one."""
    o = ord(ch)
    x1, y1 = x0 + cw - 1, y0 + chh - 1
    if o == 0x2588:
        d.rectangle([x0, y0, x1, y1], fill=color)
    elif o == 0x2580:
        d.rectangle([x0, y0, x1, y0 + chh // 2 - 1], fill=color)
    elif 0x2581 <= o <= 0x2587:  # lower eighths
        h = round(chh * (o - 0x2580) / 8)
        d.rectangle([x0, y1 - h + 1, x1, y1], fill=color)
    elif 0x2589 <= o <= 0x258F:  # left eighths
        w = round(cw * (0x2590 - o) / 8)
        d.rectangle([x0, y0, x0 + w - 1, y1], fill=color)
    elif o == 0x2590:
        d.rectangle([x0 + cw // 2, y0, x1, y1], fill=color)
    elif o == 0x2594:
        d.rectangle([x0, y0, x1, y0 + max(1, chh // 8) - 1], fill=color)
    elif o == 0x2595:
        d.rectangle([x1 - max(1, cw // 8) + 1, y0, x1, y1], fill=color)
    elif 0x2591 <= o <= 0x2593:  # shades: draw as a blend handled by the caller
        return False
    elif 0x2596 <= o <= 0x259F:  # quadrants
        quads = {
            0x2596: "3", 0x2597: "4", 0x2598: "1", 0x2599: "134", 0x259A: "14",
            0x259B: "123", 0x259C: "124", 0x259D: "2", 0x259E: "23", 0x259F: "234",
        }[o]
        hx, hy = cw // 2, chh // 2
        for q in quads:
            qx = x0 if q in "13" else x0 + hx
            qy = y0 if q in "12" else y0 + hy
            qw = hx if q in "13" else cw - hx
            qh = hy if q in "12" else chh - hy
            d.rectangle([qx, qy, qx + qw - 1, qy + qh - 1], fill=color)
    else:
        return False
    return True


def draw_braille(d, ch, x0, y0, cw, chh, color):
    bits = ord(ch) - 0x2800
    dots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    r = max(1.0, min(cw / 2, chh / 4) * 0.32)
    for i, (dx, dy) in enumerate(dots):
        if bits & (1 << i):
            cx = x0 + (dx + 0.5) * cw / 2
            cy = y0 + (dy + 0.5) * chh / 4
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)


def mix(a, b, t):
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def render(grid, font_size):
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", font_size)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", font_size)
    cw = round(regular.getlength("M"))
    asc, desc = regular.getmetrics()
    chh = asc + desc
    rows, cols = len(grid), len(grid[0])
    img = Image.new("RGB", (cols * cw, rows * chh), DEFAULT_BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(grid):
        for x, (ch, s) in enumerate(row):
            fg = s.fg or DEFAULT_FG
            bg = s.bg or DEFAULT_BG
            if s.reverse:
                fg, bg = bg, fg
            if s.dim:
                fg = mix(fg, bg, 0.45)
            x0, y0 = x * cw, y * chh
            if bg != DEFAULT_BG:
                d.rectangle([x0, y0, x0 + cw - 1, y0 + chh - 1], fill=bg)
            if ch in ("", " "):
                continue
            o = ord(ch)
            if ch in BOX:
                draw_box(d, x0, y0, cw, chh, BOX[ch], fg)
            elif 0x2580 <= o <= 0x259F and draw_block(d, ch, x0, y0, cw, chh, fg):
                pass
            elif 0x2591 <= o <= 0x2593:
                shade = {0x2591: 0.25, 0x2592: 0.5, 0x2593: 0.75}[o]
                d.rectangle([x0, y0, x0 + cw - 1, y0 + chh - 1], fill=mix(bg, fg, shade))
            elif 0x2800 <= o <= 0x28FF:
                draw_braille(d, ch, x0, y0, cw, chh, fg)
            else:
                d.text((x0, y0), ch, font=bold if s.bold else regular, fill=fg)
            if s.underline:
                d.line([x0, y0 + chh - 2, x0 + cw - 1, y0 + chh - 2], fill=fg)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--cols", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--font-size", type=int, default=14)
    a = ap.parse_args()
    with open(a.capture, encoding="utf-8", errors="replace") as f:
        text = f.read().rstrip("\n")
    lines = text.split("\n")
    visible = [SGR.sub("", l) for l in lines]
    cols = a.cols or max(len(l) for l in visible)
    rows = a.rows or len(lines)
    render(parse(text, cols, rows), a.font_size).save(a.out, optimize=True)


if __name__ == "__main__":
    main()
