"""Freehand line drawings of six imagined people, for trying models on
drawings unlike their training sketches (``test_input/freehand/``):

    python scripts/make_freehand_sketches.py --out test_input/freehand

Each face is a list of pen strokes placed by hand on the 512x512 canvas
(the component layout: eyes near (172, 221) and (320, 221), the mouth near
y = 375), drawn through a Catmull-Rom curve with a shaky hand (a slow
wobble across the line), a pen whose width swells and tapers, and ends that
overshoot a little, as a quick drawing with a felt pen looks. The people
are: a bald man with a full beard, a woman with long hair laughing (open
mouth, teeth), a man with glasses, a woman with a bob and a fringe, a man
with a moustache, and a girl with a ponytail. Deterministic: the same
strokes on every run.
"""

import argparse
import os
import sys

import cv2
import numpy as np

SIZE = 512


def curve(points, n=12):
    from data.synthetic.curves import spline
    return spline(np.asarray(points, np.float64), n)


def pen(img, points, rng, width=2.6, closed=False):
    """One stroke through ``points`` with a shaky hand and a varying width."""
    pts = curve(list(points) + ([points[0]] if closed else []))
    if len(pts) < 2:
        return
    d = np.gradient(pts, axis=0)
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) / np.maximum(np.hypot(*d.T), 1e-6)[:, None]
    t = np.linspace(0, 1, len(pts))
    shake = np.interp(t * 5, np.arange(6), rng.normal(0, 0.9, 6))
    pts = pts + nrm * shake[:, None]
    swell = 0.75 + 0.35 * np.sin(np.pi * t) + rng.normal(0, 0.05, len(t))
    for i in range(len(pts) - 1):
        w = max(1, int(round(width * swell[i])))
        a = tuple(int(v * 16) for v in pts[i])
        b = tuple(int(v * 16) for v in pts[i + 1])
        cv2.line(img, a, b, 0, w, cv2.LINE_AA, 4)


def eye(img, rng, cx, cy, w=30, h=11, iris=True):
    pen(img, [(cx - w, cy + 2), (cx - w / 2, cy - h), (cx + w / 2, cy - h), (cx + w, cy + 1)],
        rng, 2.4)
    pen(img, [(cx - w + 2, cy + 3), (cx, cy + h * 0.8), (cx + w - 2, cy + 2)], rng, 2.0)
    if iris:
        r = h * 0.95
        t = np.linspace(0.15, 2 * np.pi - 0.15, 10)
        pen(img, np.stack([cx + r * np.cos(t), cy - 1 + r * np.sin(t)], 1), rng, 1.8)
        cv2.circle(img, (int(cx), int(cy - 1)), int(r * 0.45), 0, -1, cv2.LINE_AA)


def brow(img, rng, cx, cy, w=38, arch=8, thick=6, sign=1):
    top = [(cx - sign * w, cy + 4), (cx - sign * w * 0.2, cy - arch), (cx + sign * w, cy - 1)]
    bottom = [(cx + sign * w, cy + 2), (cx - sign * w * 0.2, cy - arch + thick),
              (cx - sign * w, cy + 6)]
    pen(img, top + bottom, rng, 2.0)


def nose(img, rng, cx=246, tip=300, w=22):
    pen(img, [(cx - w, tip - 4), (cx - w - 4, tip + 6), (cx - w + 6, tip + 12), (cx - 6, tip + 9)],
        rng, 2.2)
    pen(img, [(cx + w, tip - 4), (cx + w + 4, tip + 6), (cx + w - 6, tip + 12), (cx + 6, tip + 9)],
        rng, 2.2)
    pen(img, [(cx - 8, tip - 70), (cx - 12, tip - 30), (cx - w + 2, tip - 6)], rng, 1.6)


def lips(img, rng, cx=246, y=378, w=48, open_mouth=False):
    if open_mouth:
        pen(img, [(cx - w, y - 2), (cx - w / 2, y - 14), (cx, y - 10), (cx + w / 2, y - 14),
                  (cx + w, y - 2)], rng, 2.4)
        pen(img, [(cx - w, y - 2), (cx - w / 2, y + 36), (cx + w / 2, y + 36), (cx + w, y - 2)],
            rng, 2.4)
        pen(img, [(cx - w + 12, y + 8), (cx - w / 3, y + 26), (cx + w / 3, y + 26),
                  (cx + w - 12, y + 8)], rng, 1.6)                              # lower lip
        pen(img, [(cx - w + 8, y - 4), (cx, y - 2), (cx + w - 8, y - 4)], rng, 1.8)   # teeth
        pen(img, [(cx - w + 10, y + 4), (cx, y + 8), (cx + w - 10, y + 4)], rng, 1.6)
        for x in (-24, -8, 8, 24):
            pen(img, [(cx + x, y - 4), (cx + x, y + 6)], rng, 1.2)
        return
    pen(img, [(cx - w, y), (cx - w / 2, y - 10), (cx, y - 6), (cx + w / 2, y - 10), (cx + w, y)],
        rng, 2.4)
    pen(img, [(cx - w, y), (cx - w / 3, y + 3), (cx + w / 3, y + 3), (cx + w, y)], rng, 2.0)
    pen(img, [(cx - w + 6, y + 3), (cx - w / 2, y + 16), (cx + w / 2, y + 16), (cx + w - 6, y + 3)],
        rng, 2.2)


def ears(img, rng, x_left=118, x_right=374, y=250):
    pen(img, [(x_left + 6, y - 30), (x_left - 14, y - 34), (x_left - 16, y + 10),
              (x_left - 4, y + 40), (x_left + 8, y + 44)], rng, 2.4)
    pen(img, [(x_right - 6, y - 30), (x_right + 14, y - 34), (x_right + 16, y + 10),
              (x_right + 4, y + 40), (x_right - 8, y + 44)], rng, 2.4)


def jaw(img, rng, top=170, width=128, chin=465, cx=246):
    pen(img, [(cx - width, top), (cx - width + 4, 300), (cx - width * 0.72, 400),
              (cx - 40, chin - 6), (cx, chin), (cx + 40, chin - 6), (cx + width * 0.72, 400),
              (cx + width - 4, 300), (cx + width, top)], rng, 2.8)


def neck(img, rng, cx=246, top=440):
    pen(img, [(cx - 66, top), (cx - 70, 512)], rng, 2.6)
    pen(img, [(cx + 66, top), (cx + 70, 512)], rng, 2.6)
    pen(img, [(0, 500), (90, 484), (cx - 70, 490)], rng, 2.4)
    pen(img, [(cx + 70, 490), (400, 484), (511, 500)], rng, 2.4)


def features(img, rng, open_mouth=False, brow_y=185, iris=True):
    eye(img, rng, 172, 221, iris=iris)
    eye(img, rng, 320, 221, iris=iris)
    brow(img, rng, 172, brow_y, sign=1)
    brow(img, rng, 320, brow_y, sign=-1)
    nose(img, rng)
    lips(img, rng, open_mouth=open_mouth)


def bald_bearded(img, rng):
    pen(img, [(120, 220), (118, 130), (160, 60), (246, 38), (332, 60), (374, 130), (372, 220)],
        rng, 2.8)
    ears(img, rng)
    pen(img, [(120, 220), (124, 310), (150, 400), (200, 470), (246, 486), (292, 470),
              (342, 400), (368, 310), (372, 220)], rng, 2.8)
    pen(img, [(130, 300), (160, 350), (196, 345), (246, 340), (296, 345), (332, 350),
              (362, 300)], rng, 2.2)                                     # the beard's top
    pen(img, [(200, 352), (246, 344), (292, 352)], rng, 2.0)             # moustache
    k = np.random.default_rng(5)
    for _ in range(26):
        x, y = k.uniform(150, 342), k.uniform(360, 460)
        if abs(x - 246) < 50 and y < 400:
            continue
        pen(img, [(x, y), (x + k.normal(0, 2), y + 9)], rng, 1.4)
    features(img, rng)
    neck(img, rng, top=470)


def long_hair_laughing(img, rng):
    pen(img, [(246, 40), (160, 56), (104, 130), (92, 260), (84, 400), (70, 505)], rng, 2.8)
    pen(img, [(246, 40), (332, 56), (388, 130), (400, 260), (408, 400), (422, 505)], rng, 2.8)
    pen(img, [(130, 190), (170, 110), (246, 92), (300, 100), (362, 170)], rng, 2.4)   # hairline
    for x in (110, 382):
        pen(img, [(x, 200), (x + (8 if x < 200 else -8), 330), (x + (14 if x < 200 else -14), 460)],
            rng, 1.4)
    jaw(img, rng, top=180, width=122, chin=458)
    features(img, rng, open_mouth=True)
    pen(img, [(186, 480), (184, 512)], rng, 2.4)
    pen(img, [(306, 480), (308, 512)], rng, 2.4)


def glasses_man(img, rng):
    pen(img, [(116, 200), (120, 120), (170, 66), (246, 52), (322, 66), (372, 120), (376, 200)],
        rng, 2.8)
    pen(img, [(128, 170), (150, 110), (210, 100), (246, 96), (300, 96), (350, 112), (366, 170)],
        rng, 2.2)
    k = np.random.default_rng(3)
    for _ in range(8):
        x = k.uniform(150, 340)
        pen(img, [(x, 64 + k.uniform(0, 10)), (x + k.normal(0, 8), 96 + k.uniform(0, 10))], rng, 1.3)
    ears(img, rng)
    jaw(img, rng, top=190, width=130, chin=470)
    features(img, rng)
    for cx in (172, 320):
        pen(img, [(cx - 44, 200), (cx, 196), (cx + 44, 200), (cx + 42, 240), (cx, 248),
                  (cx - 42, 240)], rng, 2.6, closed=True)
    pen(img, [(216, 208), (246, 202), (276, 208)], rng, 2.4)
    pen(img, [(128, 204), (116, 212)], rng, 2.4)
    pen(img, [(364, 204), (376, 212)], rng, 2.4)
    neck(img, rng)


def bob_fringe(img, rng):
    pen(img, [(100, 420), (92, 300), (100, 170), (150, 80), (246, 52), (342, 80), (392, 170),
              (400, 300), (392, 420)], rng, 2.8)
    pen(img, [(100, 420), (150, 426), (176, 410)], rng, 2.6)
    pen(img, [(392, 420), (342, 426), (316, 410)], rng, 2.6)
    pen(img, [(128, 176), (168, 168), (210, 172), (246, 166), (290, 172), (330, 168), (366, 176)],
        rng, 2.6)                                                          # the fringe's edge
    for x in (170, 220, 270, 320):
        pen(img, [(x, 90), (x + 4, 168)], rng, 1.4)
    jaw(img, rng, top=190, width=120, chin=456)
    features(img, rng, brow_y=190)
    pen(img, [(196, 470), (192, 512)], rng, 2.4)
    pen(img, [(296, 470), (300, 512)], rng, 2.4)


def moustache_man(img, rng):
    pen(img, [(118, 210), (116, 140), (150, 86), (210, 64), (280, 62), (340, 84), (376, 140),
              (374, 210)], rng, 2.8)
    pen(img, [(124, 190), (160, 132), (246, 120), (332, 132), (368, 190)], rng, 2.2)
    pen(img, [(246, 120), (236, 72)], rng, 1.6)                            # a parting
    ears(img, rng)
    jaw(img, rng, top=200, width=128, chin=468)
    features(img, rng)
    pen(img, [(194, 372), (210, 350), (246, 344), (282, 350), (298, 372)], rng, 2.4)
    for x in np.linspace(204, 288, 12):                                    # its hairs
        y = 352 - 8 * np.cos((x - 246) / 50)
        pen(img, [(x, y), (x + (x - 246) * 0.08, y + 12)], rng, 1.6)
    neck(img, rng)


def ponytail_girl(img, rng):
    pen(img, [(112, 240), (110, 150), (160, 78), (246, 58), (332, 78), (382, 150), (380, 240)],
        rng, 2.8)
    pen(img, [(124, 196), (176, 126), (246, 112), (316, 126), (368, 196)], rng, 2.2)
    pen(img, [(246, 58), (300, 30), (350, 24)], rng, 2.4)
    pen(img, [(330, 40), (392, 20), (430, 60), (420, 140), (400, 90)], rng, 2.4)
    ears(img, rng, 120, 372)
    jaw(img, rng, top=196, width=124, chin=452)
    features(img, rng, open_mouth=False)
    pen(img, [(196, 462), (192, 512)], rng, 2.4)
    pen(img, [(296, 462), (300, 512)], rng, 2.4)


FACES = {"bald_bearded": bald_bearded, "long_hair_laughing": long_hair_laughing,
         "glasses_man": glasses_man, "bob_fringe": bob_fringe,
         "moustache_man": moustache_man, "ponytail_girl": ponytail_girl}


def draw(name):
    img = np.full((SIZE, SIZE), 255, np.uint8)
    FACES[name](img, np.random.default_rng(sorted(FACES).index(name)))
    return img


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", default=os.path.join("test_input", "freehand"),
                        help="where the PNGs go")
    opt = parser.parse_args(argv)
    from util.png import save_png
    for name in FACES:
        save_png(os.path.join(opt.out, f"{name}.png"), draw(name))
    print(f"wrote {len(FACES)} drawings to {opt.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
