"""Hair geometry: outline, hairline, fringe, long-hair sides, bun, strands."""

import numpy as np

from .curves import lerp_curve, resample, spline


def side_x(side, y):
    """x of a head half at height y."""
    return np.interp(y, side[:, 1], side[:, 0])



LONG_STYLES = ("bob", "long", "wavy")


def has_legs(p):
    """Whether the hair hangs down the sides of the face."""
    return p.hair_style in LONG_STYLES or (p.hair_style == "curly" and p.hair_len > 0)


def hair_geometry(p, sides):
    """Hair as outer/inner boundary curves (left to right) plus extras:
    ``front`` polygons, ``back`` (long hair behind the head), ``tail``
    (ponytail), ``bun``, ``strands``, ``curls`` (curly texture loops),
    ``loops`` (the curly outline as a looping scribble) and ``part_line``."""
    rng = np.random.default_rng(p.detail_seed)
    style = p.hair_style
    ey = (p.eye1[1] + p.eye2[1]) / 2
    out = dict(front=[], edges=[], back=None, tail=None, bun=None, strands=[], curls=[],
               loops=None, tint=1.0, part_line=None)
    if style == "bald":
        if rng.random() < 0.6:
            out["front"] = [_side_patch(p, sides, s, ey) for s in (-1, 1)]
            for poly in out["front"]:                     # outer side, face side, ends
                out["edges"] += [(poly[:14], "outer"),
                                 (np.vstack([poly[13:], poly[:1]]), "inner")]
        return out
    legs = has_legs(p)
    y_sb = ey + (8 if style in ("short", "fringe", "parted", "curly") else -6)
    if legs:
        y_sb = ey - 40
    outer = _hair_outer(p, sides, y_sb, ey, rng)
    inner = _hair_inner(p, sides, y_sb, ey, rng)
    if legs:
        amp = {"bob": rng.uniform(2, 9) * (rng.random() < 0.5), "long": 0.0,
               "wavy": rng.uniform(6, 12), "curly": 0.0}[style]
        wave = (amp, rng.uniform(70, 130), rng.uniform(0, 2 * np.pi))
        legs_o = [_hair_leg(p, sides, s, ey, y_sb, True, wave) for s in (-1, 1)]
        legs_i = [_hair_leg(p, sides, s, ey, y_sb, False, wave) for s in (-1, 1)]
        outer = np.vstack([legs_o[0][::-1], outer, legs_o[1]])
        inner = np.vstack([legs_i[0][::-1], inner, legs_i[1]])
    n = 240
    o, i = resample(outer, n), resample(inner, n)
    if style == "curly":
        o = _scallop(o, p.curl, rng, 1.0)
        i = _scallop(i, p.curl * 0.5, rng, -1.0)
        out["loops"] = _loops(o, p.curl, rng)
        out["curls"] = _curls(o, i, p.curl, rng, 420)
    if legs:
        out["back"] = np.vstack([o, [[p.cx, p.hair_len]]])
    out["front"] = [np.vstack([o, i[::-1]])]
    out["outer"], out["inner"] = o, i
    end = "outer" if legs else "inner"              # where the two curves meet
    out["edges"] = [(o, "outer"), (i, "inner"), (np.array([o[-1], i[-1]]), end),
                    (np.array([i[0], o[0]]), end)]
    part_t = 0.5
    if style == "parted" or (style in LONG_STYLES + ("bun",) and abs(p.part) > 0.3):
        out["part_line"], part_t = _part_line(p, o, i)
    elif p.part != 0:
        part_t = 0.5 + 0.25 * p.part
    if style == "ponytail":
        out["strands"] = _swept_back(o, i, rng)
        out["tail"] = _tail(p, sides, ey, rng)
    elif style == "curly":
        out["strands"] = _strands(o, i, part_t, rng)[:0]
    else:
        out["strands"] = _strands(o, i, part_t, rng)
    if style == "bun":
        r = rng.uniform(34, 50)
        cy = max(p.skull_top - p.hair_vol - r * 0.3, r * 0.55)
        out["bun"] = dict(c=(p.cx + rng.uniform(-18, 18), cy), r=r)
    if style == "buzz":
        out["tint"] = 0.55
    return out


def _outward(pts, sign):
    """Unit normals of a left-to-right hair curve; ``sign`` +1 away from the head."""
    d = np.gradient(pts, axis=0)
    n = np.stack([d[:, 1], -d[:, 0]], 1) * sign
    return n / np.maximum(np.hypot(n[:, 0], n[:, 1]), 1e-9)[:, None]


def _arclen(pts):
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])


def _scallop(pts, r, rng, sign):
    """Bumps of about ``r`` along a curve (curly hair), outwards for
    ``sign`` +1."""
    u = _arclen(pts)
    lam = 2.4 * r
    k = np.floor(u / lam)
    amp = r * rng.uniform(0.5, 1.2, int(k[-1]) + 1)[k.astype(int)]
    bumps = amp * np.abs(np.sin(np.pi * u / lam)) ** 0.6
    return pts + _outward(pts, sign) * bumps[:, None]


def _loops(pts, r, rng):
    """The curve redrawn as a looping scribble (a curly outline)."""
    q = resample(pts, max(8, int(_arclen(pts)[-1] / 1.5)))
    u = _arclen(q)
    w = 2 * np.pi / (2.2 * r) * (1 + 0.15 * np.sin(u / 37.0 + rng.uniform(0, 6)))
    ph = np.cumsum(np.gradient(u) * w)
    t = np.gradient(q, axis=0)
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    nrm = _outward(q, 1.0)
    rad = r * 0.7
    return q - nrm * rad * 0.6 + rad * (np.cos(ph)[:, None] * -t * 0.9
                                        + np.sin(ph)[:, None] * nrm)


def _curls(outer, inner, r, rng, n):
    """Small curl strokes (open loops) between the outer and inner curves."""
    c = _between(outer, inner, rng.uniform(0.01, 0.99, (n, 1)), rng.uniform(0.15, 0.9, (n, 1)))
    rad = r * rng.uniform(0.5, 1.0, n)
    squash = rng.uniform(0.7, 1.0, n)
    a0 = rng.uniform(0, 2 * np.pi, n)
    span = np.radians(rng.uniform(220, 330, n)) * rng.choice([-1, 1], n)
    a = a0[:, None] + span[:, None] * np.linspace(0, 1, 12)
    pts = np.stack([np.cos(a) * rad[:, None], np.sin(a) * (rad * squash)[:, None]], 2)
    return list(c + pts)


def _swept_back(outer, inner, rng):
    """Strands of pulled-back hair: from the hairline up towards the crown."""
    n = int(rng.integers(60, 90))
    t0 = rng.uniform(0.03, 0.97, n)
    t1 = t0 + (0.5 - t0) * rng.uniform(0.15, 0.45, n)
    b0, b1 = rng.uniform(0.8, 0.97, n), rng.uniform(0.03, 0.25, n)
    k = np.linspace(0, 1, 10)
    return list(_between(outer, inner, t0[:, None] + (t1 - t0)[:, None] * k,
                         b0[:, None] + (b1 - b0)[:, None] * k))


def _tail(p, sides, ey, rng):
    """A ponytail brought forward over one shoulder: it comes out from behind
    the jaw and neck. Returns its outline and strand curves."""
    sgn = int(rng.choice([-1, 1]))
    side = sides[sgn > 0]
    x_jaw = side_x(side, p.jaw_y)
    centre = spline([(p.cx + sgn * p.neck_w * 0.6, p.jaw_y - 50),
                     (x_jaw + sgn * 6, p.jaw_y + 10),
                     (p.cx + sgn * (p.neck_w + 36), p.chin_y + 30),
                     (p.cx + sgn * (p.neck_w + 46 + rng.uniform(-6, 12)), p.hair_len)], 10)
    centre = resample(centre, 60)
    tt = np.linspace(0, 1, len(centre))
    width = rng.uniform(34, 46) * (1 - 0.2 * tt) * np.sin(np.pi * (0.5 + 0.48 * tt))
    width = np.maximum(width, 2.0)
    nrm = _outward(centre, 1.0)
    a, b = centre + nrm * width[:, None] / 2, centre - nrm * width[:, None] / 2
    strands = [centre + nrm * (width * f)[:, None] for f in rng.uniform(-0.4, 0.4, 14)]
    return dict(poly=np.vstack([a, b[::-1]]), strands=strands)


def _hair_outer(p, sides, y_sb, ey, rng):
    """Head outline above ``y_sb`` pushed outwards by the hair volume."""
    left, right = sides
    pts = np.vstack([left[left[:, 1] <= y_sb][::-1], right[right[:, 1] <= y_sb][1:]])
    centre = np.array([p.cx, ey])
    d = pts - centre
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    w = np.clip((y_sb - pts[:, 1]) / max(y_sb - p.skull_top, 1.0), 0, 1) ** 0.7
    lift = 1.0 + 0.25 * p.part * (pts[:, 0] - p.cx) / p.face_w   # fuller on one side
    vol = p.hair_side + (p.hair_vol - p.hair_side) * w * lift
    knots = rng.normal(0, 0.12 * p.hair_vol + 0.5, 7)
    vol = vol + np.interp(np.linspace(0, 6, len(pts)), np.arange(7), knots) * w
    if p.hair_style in ("short", "fringe") and rng.random() < 0.4:    # messy tufts
        k = int(rng.integers(10, 22))
        tufts = np.abs(np.sin(np.linspace(0, k * np.pi, len(pts)))) ** 3
        vol = vol + rng.uniform(3, 9) * tufts * w
    return pts + d * np.maximum(vol, 1.0)[:, None]


def _hair_inner(p, sides, y_sb, ey, rng):
    """Hairline (left to right): sideburns, temples and forehead edge."""
    left, right = sides
    male = p.gender == "male"
    hl = p.hairline_y
    yt = hl + (y_sb - hl) * (0.35 if male else 0.45)
    if p.hair_style == "fringe":
        return _fringe_line(p, sides, y_sb, yt, rng)
    sb = 6.0 if has_legs(p) else 10.0
    part_x = p.cx + p.part * p.face_w * 0.4
    recede = rng.uniform(4, 16) if male else 0.0
    if p.hair_style == "ponytail":                  # pulled back: a high, round hairline
        hl, recede = hl - 12, recede + 6
    pts = [(side_x(left, y_sb) + sb, y_sb),
           (side_x(left, yt) + sb + 4, yt - recede),
           (p.cx - p.face_w * 0.55, hl + 10 - recede * 0.3),
           (part_x, hl - 2),
           (p.cx + p.face_w * 0.55, hl + 10 - recede * 0.3),
           (side_x(right, yt) - sb - 4, yt - recede),
           (side_x(right, y_sb) - sb, y_sb)]
    return spline(pts, 8)


def _fringe_line(p, sides, y_sb, yt, rng):
    """Jagged fringe edge hanging over the forehead."""
    left, right = sides
    brow_top = min(p.eye1[1], p.eye2[1]) - p.eye_open - p.brow_gap - p.brow_thick
    y_edge = brow_top - rng.uniform(4, 26)
    xl, xr = side_x(left, yt) + 12, side_x(right, yt) - 12
    k = int(rng.integers(4, 9))
    notches = np.linspace(xl, xr, k + 1)
    notches[1:-1] += rng.normal(0, 0.12 * (xr - xl) / k, k - 1)
    sweep = rng.uniform(-0.3, 0.3) * (xr - xl) / k
    tips = (notches[:-1] + notches[1:]) / 2 + sweep
    arc = lambda x: ((x - p.cx) / (xr - xl) * 2) ** 2 * 26
    tip_y = y_edge + arc(tips) + rng.normal(0, 3, k)
    notch_y = y_edge + arc(notches) - rng.uniform(10, 26, k + 1)
    zig = np.empty((2 * k + 1, 2))
    zig[0::2] = np.stack([notches, notch_y], 1)
    zig[1::2] = np.stack([tips, tip_y], 1)
    left_side = spline([(side_x(left, y_sb) + 10, y_sb), (xl - 4, yt + 8), zig[0]], 8)
    right_side = spline([zig[-1], (xr + 4, yt + 8), (side_x(right, y_sb) - 10, y_sb)], 8)
    return np.vstack([left_side[:-1], zig, right_side[1:]])


def _part_line(p, outer, inner):
    """The parting: from the hairline straight back to the top outline.
    Returns the line and its position along the inner curve (0..1)."""
    x = p.cx + p.part * p.face_w * 0.4
    top_i = inner[:, 1] < p.hairline_y + 25
    j = int(np.argmin(np.where(top_i, np.abs(inner[:, 0] - x), np.inf)))
    top_o = outer[:, 1] < p.skull_top + 40
    k = int(np.argmin(np.where(top_o, np.abs(outer[:, 0] - x - p.part * 8), np.inf)))
    a, b = inner[j], outer[k]
    mid = (a + b) / 2 + [p.part * 4, 0]
    return spline([a + [0, -2], mid, b + [0, 3]], 6), j / (len(inner) - 1)


def _hair_leg(p, sides, sign, ey, y_sb, outer_edge, wave):
    """Side part of bob / long hair going down from ``y_sb``, top to bottom.
    ``wave`` = (amplitude, period, phase) of wavy hair."""
    side = sides[sign > 0]
    bottom = p.hair_len
    if outer_edge:
        x0 = side_x(side, y_sb) + sign * (p.hair_side + 6)
        flare = p.hair_side * 1.6 + (10 if p.hair_style in ("long", "wavy") else 4)
        pts = [(x0, y_sb), (x0 + sign * flare * 0.5, ey + 30),
               (side_x(side, min(p.jaw_y, bottom)) + sign * (flare + 10),
                min(p.jaw_y, bottom - 10)),
               (side_x(side, min(p.jaw_y, bottom)) + sign * (flare + 14), bottom)]
        return _waved(spline(pts, 10)[1:], sign, y_sb, wave, 1.0)
    cover = p.hair_cover
    low = min(bottom, p.chin_y - 20)
    if p.hair_style in ("long", "wavy"):
        x_end = p.cx + sign * (p.neck_w + 6 + max(cover, 0))
    else:
        x_end = side_x(side, low) - sign * cover * 0.5
    pts = [(side_x(side, y_sb) - sign * 6, y_sb),
           (side_x(side, ey + 30) - sign * cover, ey + 30),
           (side_x(side, low) - sign * cover * 0.7, low),
           (x_end, bottom)]
    return _waved(spline(pts, 10)[1:], sign, y_sb, wave, 0.4)


def _waved(pts, sign, y0, wave, gain):
    """Add a sideways wave that grows below ``y0``."""
    amp, period, phase = wave
    if amp <= 0:
        return pts
    y = pts[:, 1]
    ramp = np.clip((y - y0) / 120.0, 0, 1)
    out = pts.copy()
    out[:, 0] += sign * gain * amp * ramp * np.sin(2 * np.pi * (y - y0) / period + phase)
    return out


def _side_patch(p, sides, sign, ey):
    """Short hair at the sides of a bald head."""
    side = sides[sign > 0]
    ys = np.linspace(ey - 78, ey + 12, 14)
    xs = side_x(side, ys)
    taper = np.sin(np.linspace(0.15, np.pi - 0.15, len(ys)))
    out = np.stack([xs + sign * (p.hair_side * taper + 1), ys], 1)
    inn = np.stack([xs - sign * 11 * taper, ys], 1)
    return np.vstack([out, inn[::-1]])


def _between(outer, inner, t, b):
    """Points at positions ``t`` along and ``b`` across (0 outer .. 1 inner)
    the hair; ``t`` and ``b`` are (n, k) arrays, the result (n, k, 2)."""
    o, i = lerp_curve(outer, inner, t.ravel())
    bb = b.ravel()[:, None]
    return (o * (1 - bb) + i * bb).reshape(t.shape + (2,))


def _strands(outer, inner, part_t, rng):
    """Hair strands between the outer and inner boundaries, sweeping away
    from the parting at ``part_t`` (0..1 along the curves)."""
    n = int(rng.integers(70, 110))
    t0 = rng.uniform(0.02, 0.98, n)
    t1 = np.clip(t0 + np.where(t0 < part_t, -1.0, 1.0) * rng.uniform(0.05, 0.16, n), 0, 1)
    b0, b1 = rng.uniform(0.02, 0.3, n), rng.uniform(0.65, 0.97, n)
    k = np.linspace(0, 1, 10)
    return list(_between(outer, inner, t0[:, None] + (t1 - t0)[:, None] * k,
                         b0[:, None] + (b1 - b0)[:, None] * k))
