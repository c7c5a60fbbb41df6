"""Drawing one procedural, photo-like rose or daisy in red, pink or white (numpy + PIL only).

Each image has its own generator seeded with (seed, index): the same bytes with any number of
workers. Type lives in the shape (cupped petals spiralling into a dark heart vs thin rays round a
yellow disc), colour in the petals; background, light, white balance, pose and occluders vary so
that neither shows in a plain statistic such as the mean colour."""
from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter


SS = 2  # the foreground is drawn at SS x the size, then reduced: anti-aliased edges
COMBOS = [(t, c) for t in range(2) for c in range(3)]  # (type, colour), balanced by index % 6
PETAL_HSV = {  # hue range in degrees, saturation range, value range
    0: ((-10.0, 6.0), (0.72, 0.95), (0.48, 0.82)),  # red
    1: ((322.0, 350.0), (0.26, 0.50), (0.86, 1.0)),  # pink
    2: ((0.0, 360.0), (0.0, 0.07), (0.86, 1.0)),  # white
}
FOLIAGE, SOIL = ((70, 150), (0.35, 0.9), (0.12, 0.6)), ((15, 40), (0.25, 0.65), (0.15, 0.5))
SKY, DARK_GREEN = ((190, 225), (0.15, 0.6), (0.6, 0.95)), ((60, 160), (0.3, 0.8), (0.08, 0.4))
CLOUD = ((0, 360), (0, 0.06), (0.85, 1.0))
LIGHTS = [(h, (0.3, 0.9), (0.3, 0.9)) for h in ((40, 60), (70, 160), (200, 280))]  # bokeh
BACKGROUNDS = [(FOLIAGE, [FOLIAGE]), (SOIL, [SOIL]), (SKY, [CLOUD, CLOUD, SKY]),
               (DARK_GREEN, LIGHTS)]  # base and blobs of each BACKGROUND_CLASSES entry
BACKGROUND_CLASSES = ("foliage", "soil", "sky", "garden")  # the optional third head's classes
NAME = "{:05d}.jpg"  # image file name of an index
T = np.linspace(0.0, 1.0, 14)  # parameter along a petal or leaf


def hsv(rng, h, s, v) -> np.ndarray:
    """RGB in 0..1 from ranges (lo, hi) of hue in degrees, saturation and value."""
    return np.array(colorsys.hsv_to_rgb((rng.uniform(*h) % 360) / 360, rng.uniform(*s),
                                        rng.uniform(*v)))


def tones(rgb, k) -> list[tuple[int, ...]]:
    """Darken (k < 1) or lighten towards white (k > 1), one PIL colour per k; never pure
    black, which means "nothing drawn" in the foreground layer."""
    k = np.atleast_1d(np.asarray(k, float))[:, None]
    out = np.where(k <= 1, rgb * k, rgb + (1 - rgb) * np.minimum(k - 1, 1))
    return [tuple(c) for c in np.clip(out * 255 + 0.5, 1, 255).astype(int).tolist()]


def rot(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def polar(rad, ang) -> np.ndarray:
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], -1)


class Canvas:
    """The foreground, drawn at SS x the output size on black; what is not black is covered."""

    def __init__(self, size: int):
        self.img = Image.new("RGB", (size * SS, size * SS))
        self.draw = ImageDraw.Draw(self.img)

    def poly(self, pts, fill, outline=None, width=1):
        self.draw.polygon(pts.ravel().tolist(), fill=fill, outline=outline, width=width)

    def line(self, pts, fill, width):
        self.draw.line(pts.ravel().tolist(), fill=fill, width=max(1, int(width)), joint="curve")

    def done(self) -> tuple[np.ndarray, np.ndarray]:
        r, g, b = self.img.split()
        mask = ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 * (v > 0))
        rgb = np.asarray(self.img.reduce(SS), np.float32) / 255
        return rgb, np.asarray(mask.reduce(SS), np.float32)[..., None] / 255


def flower_pose(rng, cx, cy, radius) -> tuple[np.ndarray, np.ndarray, float]:
    """Affine map from flower units (radius 1) to canvas pixels (spin, tilt, scale, move),
    and the canvas pixels per flower unit."""
    d, tilt = rng.uniform(0, np.pi), np.diag([1.0, rng.uniform(0.55, 1.0)])
    a = radius * SS * rot(d) @ tilt @ rot(-d) @ rot(rng.uniform(0, 2 * np.pi))
    return a, np.array([cx, cy]) * SS, float(np.abs(np.linalg.det(a)) ** 0.5)


def place(pts, pose) -> np.ndarray:
    return pts @ pose[0].T + pose[1]


def blades(r0, r1, w, a, bend, power=0.45) -> np.ndarray:
    """Thin blades (daisy rays, leaves) from r0 to r1 along angles a: one per row of the arrays."""
    x = r0 + (r1 - r0)[:, None] * T
    hw = w[:, None] * np.sin(np.pi * (0.08 + 0.92 * T)) ** power
    y = bend[:, None] * T ** 2
    pts = np.concatenate([np.stack([x, y + hw], -1), np.stack([x, y - hw], -1)[:, ::-1]], 1)
    c, s = np.cos(a)[:, None], np.sin(a)[:, None]
    return np.stack([pts[..., 0] * c - pts[..., 1] * s, pts[..., 0] * s + pts[..., 1] * c], -1)


def cups(r, depth, span, a) -> np.ndarray:
    """Cupped rose petals seen from above: crescents, thick in the middle, rounded rims."""
    phi = (T - 0.5) * span[:, None]
    outer = r[:, None] * (1 - 0.1 * (2 * T - 1) ** 2)
    inner = outer - depth[:, None] * np.cos((T - 0.5) * np.pi) ** 0.7
    return polar(np.concatenate([outer, inner[:, ::-1]], 1),
                 np.concatenate([phi, phi[:, ::-1]], 1) + a[:, None])


def daisy(cv: Canvas, rng, pose, rgb) -> None:
    n, disc, px = int(rng.integers(18, 38)), rng.uniform(0.2, 0.3), pose[2]
    rows = ((0.72, np.pi / n), (1.0, 0.0)) if rng.random() < 0.5 else ((1.0, 0.0),)
    for k, offset in rows:  # a darker back row half a petal round, then the front row
        a = rng.uniform(0, 2 * np.pi) + offset + np.arange(n) * 2 * np.pi / n
        pts = place(blades(disc * 0.7, rng.uniform(0.78, 1.0, n), rng.uniform(0.4, 0.7, n)
                           * np.pi / n, a + rng.normal(0, 0.05, n), rng.normal(0, 0.04, n)), pose)
        k = k * rng.uniform(0.82, 1.05, n)
        for p, fill, edge, vein in zip(pts, tones(rgb, k), tones(rgb, k * 0.72),
                                       tones(rgb, k * 0.86)):
            cv.poly(p, fill, edge)
            cv.line((p[3:11] + p[-4:-12:-1]) / 2, vein, px * 0.012)  # the midline
    yellow = hsv(rng, (38, 52), (0.8, 1.0), (0.72, 0.95))
    ring = tones(yellow, [0.95, 0.6])
    cv.poly(place(polar(disc, np.linspace(0, 2 * np.pi, 33)), pose), *ring, int(px * 0.02) + 1)
    dots = rng.normal(0, disc * 0.45, (int(30 + 300 * disc ** 2), 2))
    dots = place(dots[np.hypot(*dots.T) < disc * 0.9], pose)
    radii = px * rng.uniform(0.012, 0.025, len(dots))
    for (x, y), r, fill in zip(dots, radii, tones(yellow, rng.uniform(0.55, 1.25, len(dots)))):
        cv.draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def rose(cv: Canvas, rng, pose, rgb) -> None:
    px, n, a, radius = pose[2], int(rng.integers(5, 8)), rng.uniform(0, 2 * np.pi), 0.76
    petals = [(r, 0.75, 2 * np.pi / n * w, a + 2 * np.pi * i / n, k)  # broad outer guard petals
              for i, (r, w, k) in enumerate(rng.uniform((0.86, 1.2, 0.85), (1, 1.5, 1), (n, 3)))]
    for j in range(int(rng.integers(4, 7))):  # cupped petals spiralling inwards, deeper = darker
        for _ in range(int(rng.integers(3, 5))):
            a += 2.4 + rng.normal(0, 0.2)  # about the golden angle: a spiral, not rings
            petals.append((radius, radius * rng.uniform(0.35, 0.55), rng.uniform(1.7, 2.6), a,
                           rng.uniform(0.88, 1.0) * (0.97 - 0.07 * j)))
        radius *= rng.uniform(0.68, 0.76)
    r, depth, span, ang, k = map(np.array, zip(*petals))
    cv.poly(place(polar(0.75, np.linspace(0, 2 * np.pi, 25)), pose), tones(rgb, 0.4)[0])
    base = place(cups(r, depth, span, ang), pose)
    lit = place(cups(r, depth * 0.55, span * 0.97, ang), pose)
    rim = tones(rgb, 1.1)[0]
    for b, l, dark, edge, fill in zip(base, lit, tones(rgb, k * 0.72), tones(rgb, k * 0.55),
                                      tones(rgb, k)):
        cv.poly(b, dark, edge, int(px * 0.01) + 1)  # shadowed base, lit rim, bright edge
        cv.poly(l, fill)
        cv.line(l[:len(T)], rim, px * 0.012)
    theta = np.linspace(0, 2 * np.pi * rng.uniform(1.5, 2.5), 40)
    spiral = polar(radius * 1.3 * theta / theta[-1], theta + a)
    cv.line(place(spiral, pose), tones(rgb, 0.45)[0], px * 0.025)


def leaf(cv: Canvas, rng, base, length, angle, shade=1.0) -> None:
    """A pointed leaf with a lighter midrib; base and length in output pixels."""
    green = hsv(rng, (75, 140), (0.4, 0.85), (0.22, 0.6)) * shade
    bend = length * rng.normal(0, 0.08)
    pts = blades(0, np.array([length]), np.array([length * rng.uniform(0.18, 0.3)]),
                 np.array([angle]), np.array([bend]), 0.8)[0]
    fill, edge, rib = tones(green, [1.0, 0.6, 1.35])
    cv.poly(pts * SS + np.asarray(base) * SS, fill, edge, SS)
    rib_pts = np.stack([T * length, bend * T ** 2], 1) @ rot(angle).T
    cv.line((rib_pts + base) * SS, rib, SS * length * 0.02)


def stem(cv: Canvas, rng, top, size, width) -> None:
    green = hsv(rng, (70, 120), (0.4, 0.8), (0.25, 0.5))
    top, end = np.asarray(top), np.array([top[0] + rng.normal(0, size * 0.2), size * 1.1])
    mid = (top + end) / 2 + rng.normal(0, size * 0.05, 2)
    t = T[:, None]  # a quadratic Bezier from the flower down out of the frame
    pts = (1 - t) ** 2 * top + 2 * (1 - t) * t * mid + t ** 2 * end
    cv.line(pts * SS, tones(green, 1.0)[0], width * SS)


def background(rng, size) -> tuple[np.ndarray, int]:
    """Foliage, soil, sky or a blurred garden (BACKGROUNDS), as floats 0..1, and which."""
    kind = int(rng.choice(4, p=[0.4, 0.2, 0.15, 0.25]))
    palette, blobs = BACKGROUNDS[kind]
    cells = int(rng.integers(3, 9))  # coarse colour blotches, upsampled smoothly
    colours = np.array([hsv(rng, *palette) for _ in range(4)])
    small = colours[rng.integers(0, 4, (cells, cells))] * rng.uniform(0.85, 1.15, (cells, cells, 1))
    img = Image.fromarray((np.clip(small, 0, 1) * 255).astype(np.uint8)).resize(
        (size, size), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(8, 30))):  # leaves, pebbles, clouds or out-of-focus lights
        x, y, r = rng.uniform(0, size), rng.uniform(0, size), size * rng.uniform(0.02, 0.12)
        colour = tones(hsv(rng, *blobs[rng.integers(len(blobs))]), 1.0)[0]
        draw.ellipse([x - r, y - r * rng.uniform(0.3, 1), x + r, y + r], fill=colour)
    blur = rng.uniform(1.5, 6) if kind != 1 else rng.uniform(0.3, 1.5)
    out = np.asarray(img.filter(ImageFilter.GaussianBlur(blur * size / 224)), np.float32) / 255
    grain = 0.06 if kind == 1 else 0.015
    return out * (1 + rng.normal(0, grain, (size, size, 1)).astype(np.float32)), kind


def foreground(rng, size, ftype, rgb) -> tuple[np.ndarray, np.ndarray]:
    """Leaves and smaller flowers behind, the main flower on its stem, leaves in front."""
    cv, draw_flower = Canvas(size), (rose if ftype == 0 else daisy)
    radius = size * rng.uniform(0.22, 0.38) * (1.0 if ftype == 0 else 1.1)
    cx, cy = size * rng.uniform(0.3, 0.7, 2)
    for _ in range(int(rng.integers(0, 3))):
        leaf(cv, rng, (cx, cy) + rng.normal(0, radius * 0.6, 2), radius * rng.uniform(0.8, 1.6),
             rng.uniform(0, 2 * np.pi), 0.8)
    for _ in range(int(rng.integers(0, 3))):
        x, y = size * rng.uniform(-0.05, 1.05, 2)
        r = radius * rng.uniform(0.35, 0.7)
        stem(cv, rng, (x, y), size, r * 0.1)
        draw_flower(cv, rng, flower_pose(rng, x, y, r), rgb * rng.uniform(0.85, 1.0))
    if rng.random() < 0.7:
        stem(cv, rng, (cx, cy), size, radius * rng.uniform(0.08, 0.14))
    draw_flower(cv, rng, flower_pose(rng, cx, cy, radius), rgb)
    for _ in range(int(rng.integers(1, 3)) if rng.random() < 0.45 else 0):  # over the edge
        a = rng.uniform(0, 2 * np.pi)
        base = np.array([cx, cy]) + polar(radius * rng.uniform(0.9, 1.4), a)
        leaf(cv, rng, base, radius * rng.uniform(0.6, 1.1), a + np.pi + rng.normal(0, 0.5))
    return cv.done()


def finish(rng, img: np.ndarray) -> Image.Image:
    """Defocus, light gradient, vignette, exposure, white balance and sensor noise."""
    if rng.random() < 0.3:
        blurred = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * img.shape[0] / 224))
        img = np.asarray(blurred, np.float32) / 255
    yy, xx = np.mgrid[-1:1:img.shape[0] * 1j, -1:1:img.shape[1] * 1j].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    gain = (1 + rng.uniform(0, 0.3) * (xx * np.cos(a) + yy * np.sin(a))) * (
        rng.uniform(0.75, 1.2) * 255 * (1 - rng.uniform(0, 0.15) * (xx ** 2 + yy ** 2)))
    out = img * gain[..., None]
    out *= (1 + rng.uniform(-0.07, 0.07, 3)).astype(np.float32)  # white balance
    out += rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(1, 6) + 0.5
    return Image.fromarray(np.clip(out, 0, 255, out=out).astype(np.uint8))


def render(seed: int, index: int, size: int) -> tuple[Image.Image, tuple[int, int, int], int]:
    """Image `index` of the data set `seed`: (image, (type, colour, background), JPEG quality)."""
    rng = np.random.default_rng([seed, index])
    ftype, colour = COMBOS[index % len(COMBOS)]
    rgb = hsv(rng, *PETAL_HSV[colour])
    bg, kind = background(rng, size)
    fg, alpha = foreground(rng, size, ftype, rgb)
    dx, dy = (rng.uniform(0.01, 0.05, 2) * size).astype(int)  # a soft shadow, down-right
    shadow = Image.fromarray((np.roll(alpha, (dy, dx), (0, 1))[..., 0] * 255).astype(np.uint8))
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(size * 0.02)), np.float32)
    bg *= 1 - (rng.uniform(0.2, 0.5) / 255) * shadow[..., None]
    img = finish(rng, bg + (fg - bg) * alpha)
    return img, (ftype, colour, kind), int(rng.integers(60, 96))
