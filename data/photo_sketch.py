"""Line drawings of real face photos, made the way DeepFaceDrawing made its
training sketches, and kept as strokes so that every hand-drawn style of
the procedural faces can redraw them.

    from data.photo_sketch import sketch_strokes, render_strokes
    ops = sketch_strokes(photo512, labels512)        # an aligned face (data/celeba.py)
    clean, semantic = render_strokes(ops, 128, "clean", seed=7, labels=True)
    pencil, _ = render_strokes(ops, 128, "pencil", seed=7)

The paper: a photocopy-like filter over the photo, then sketch
simplification. Here, on the face aligned onto the component layout at
512x512:

1. **Contours from the parsing map**: the boundaries of face, ears, eyes,
   brows, lips and mouth, hair, neck, clothes, glasses, earrings and hat
   (the nose's region outline is no drawn line and is left out), on the map
   smoothed class by class so that they do not follow its pixel stairs.
2. **Photocopy lines inside the features**: thresholded difference of
   Gaussians of the photo's luminance (``data.sketch_extract.xdog_lines``),
   kept only inside the eyes, the nose, the mouth and the ears (irises,
   nostrils, the nose's wings and tip, teeth, the ear's folds) and, as long
   strands only, inside the hair. Texture noise inside skin, hair, clothes and
   background is dropped by those masks.
3. **Simplification**: the union is thinned to one-pixel lines, specks are
   removed, the lines are traced into polylines, smoothed along their length
   and cut where their part changes. Each polyline becomes a stroke op
   (``data.synthetic.sketch.Op``) with its part (``group``) and edge class
   (``label``, the sketch embedding's 22-class scheme), so the semantic
   sketch comes with it. The pupils are filled, the hair and the neck are
   regions that hatching styles shade, and the face outline is the region
   stray marks are drawn around. Facial hair, which the maps call skin, is
   found in the photo (dark, rough skin below the nose) and drawn as the
   procedural faces draw it: an outline and hair flicks.

Everything is deterministic: the same photo and map give the same strokes.
"""

import cv2
import numpy as np

from data.sketch_extract import remove_specks, thin, xdog_lines
from data.synthetic.labels import E, P
from data.synthetic.sketch import Op, draw_ops
from util.components import CANONICAL_SIZE

LINE_WIDTH = 2.2            # clean stroke width at 512, as the procedural faces' outlines
FEATURE_WIDTH = 1.8

# Photocopy lines are kept inside these parsing classes (grown by GROW px at 512).
FEATURE_REGIONS = {"eye": ((P["l_eye"], P["r_eye"]), 3), "nose": ((P["nose"],), 2),
                   "mouth": ((P["mouth"], P["u_lip"], P["l_lip"]), 2),
                   "ear": ((P["l_ear"], P["r_ear"]), -2)}
HAIR_STRAND_MIN = 70        # a photocopy line inside the hair is a strand from this length (px)
HAIR_STRANDS = 10           # at most this many strands a face


def _edge_class_tables():
    """(19 x 19 edge class of a boundary, rank of each edge class)."""
    from data.synthetic.labels import PARSING_CLASSES
    parts = (("l_eye", E["eye_l"]), ("r_eye", E["eye_r"]), ("l_brow", E["brow_l"]),
             ("r_brow", E["brow_r"]), ("mouth", E["mouth"]), ("u_lip", E["mouth"]),
             ("l_lip", E["mouth"]), ("nose", E["nose"]), ("eye_g", E["glasses"]),
             ("ear_r", E["earring"]), ("l_ear", E["ear_l"]), ("r_ear", E["ear_r"]),
             ("neck_l", E["cloth"]), ("hat", E["hair"]))
    regions = {("skin", "hair"): E["hairline"], ("skin", "neck"): E["jaw"],
               ("skin", "background"): E["face"], ("skin", "cloth"): E["collar"],
               ("hair", "background"): E["hair"], ("hair", "neck"): E["hair"],
               ("hair", "cloth"): E["hair"], ("neck", "background"): E["neck"],
               ("neck", "cloth"): E["cloth"], ("cloth", "background"): E["cloth"]}
    priority = (E["eye_l"], E["eye_r"], E["brow_l"], E["brow_r"], E["mouth"], E["nose"],
                E["glasses"], E["earring"], E["ear_l"], E["ear_r"], E["hairline"], E["jaw"],
                E["face"], E["collar"], E["hair"], E["neck"], E["cloth"])
    n = len(PARSING_CLASSES)
    table = np.zeros((n, n), np.uint8)
    rank = {P[name]: (k, edge) for k, (name, edge) in enumerate(parts)}
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            found = [rank[c] for c in (a, b) if c in rank]
            if found:
                table[a, b] = min(found)[1]
            else:
                pair = (PARSING_CLASSES[a], PARSING_CLASSES[b])
                table[a, b] = regions.get(pair, regions.get(pair[::-1], 0))
    order = np.full(256, 255, np.uint8)
    for k, edge in enumerate(priority):
        order[edge] = k
    return table, order


EDGE_TABLE, EDGE_RANK = _edge_class_tables()


def semantic_from_parsing(parsing, radius=1, table=None):
    """Semantic sketch of a parsing map (this project's side naming): every
    pixel within ``radius`` of a pixel of another class carries the edge
    class of that boundary (``EDGE_TABLE``; where several meet, the one
    earliest in the priority order), 0 elsewhere."""
    parsing = np.asarray(parsing, np.uint8)
    table = EDGE_TABLE if table is None else table
    h, w = parsing.shape
    padded = np.pad(parsing, radius, mode="edge")
    best = np.zeros((h, w), np.uint8)
    best_rank = np.full((h, w), 255, np.uint8)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            other = padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            edge = table[parsing, other]
            r = EDGE_RANK[edge]
            win = (edge > 0) & (r < best_rank)
            best[win], best_rank[win] = edge[win], r[win]
    return best


# Drawn contours: the edge table without the nose's outline (no drawn line).
_DRAWN_TABLE = EDGE_TABLE.copy()
_DRAWN_TABLE[P["nose"], :] = np.where(EDGE_TABLE[P["nose"], :] == E["nose"], 0,
                                      EDGE_TABLE[P["nose"], :])
_DRAWN_TABLE[:, P["nose"]] = np.where(EDGE_TABLE[:, P["nose"]] == E["nose"], 0,
                                      EDGE_TABLE[:, P["nose"]])


def smooth_labels(labels, sigma):
    """The label map with each class's mask blurred and the strongest class
    kept: the same regions without the stairs of a smaller map."""
    labels = np.asarray(labels, np.uint8)
    present = np.unique(labels)
    if len(present) < 2 or sigma <= 0:
        return labels
    best = np.full(labels.shape, -1.0, np.float32)
    out = np.zeros_like(labels)
    for c in present:
        soft = cv2.GaussianBlur((labels == c).astype(np.float32), (0, 0), sigma)
        win = soft > best
        out[win], best[win] = c, soft[win]
    return out


def drop_islands(labels, min_area):
    """The label map with every connected piece of a class smaller than
    ``min_area`` pixels given the class of the nearest pixel outside it
    (specks and holes of a hand-made map, which would become little rings)."""
    from scipy import ndimage
    labels = np.asarray(labels, np.uint8).copy()
    small = np.zeros(labels.shape, bool)
    for c in np.unique(labels):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == c).astype(np.uint8),
                                                             connectivity=4)
        tiny = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
        if len(tiny):
            small |= np.isin(comp, tiny)
    if small.any() and not small.all():
        _, (iy, ix) = ndimage.distance_transform_edt(small, return_indices=True)
        labels[small] = labels[iy[small], ix[small]]
    return labels


def _grow(mask, px):
    if px == 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(px) + 1, 2 * abs(px) + 1))
    op = cv2.dilate if px > 0 else cv2.erode
    return op(mask.astype(np.uint8), k) > 0


def _side_class(labels, xs, left, right):
    return left if xs.mean() < labels.shape[1] / 2 else right


def photo_lines(gray, labels):
    """Photocopy lines kept inside the features (bool) and each one's edge class."""
    lines = xdog_lines(gray, sigma=1.6, k=1.6, tau=0.985)
    keep = np.zeros(lines.shape, bool)
    cls = np.zeros(lines.shape, np.uint8)
    half = labels.shape[1] // 2
    left = np.zeros(lines.shape, bool)
    left[:, :half] = True
    for name, (classes, grow) in FEATURE_REGIONS.items():
        region = _grow(np.isin(labels, classes), grow) & lines
        if name == "eye":
            cls[region & left], cls[region & ~left] = E["eye_l"], E["eye_r"]
        elif name == "ear":
            cls[region & left], cls[region & ~left] = E["ear_l"], E["ear_r"]
        else:
            cls[region] = E[name]
        keep |= region
    hair = _grow(labels == P["hair"], -5) & lines
    hair = thin(hair)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(hair.astype(np.uint8), connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    reach = np.hypot(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    # long and nearly straight: a strand, not the crinkle of curly hair
    ok = (sizes >= HAIR_STRAND_MIN) & (reach >= 0.6 * sizes)
    strands = [1 + i for i in np.argsort(-sizes)[:HAIR_STRANDS] if ok[i]]
    strand_mask = np.isin(comp, strands)
    cls[strand_mask] = E["hair"]
    keep |= strand_mask
    return keep, cls


def trace_polylines(skeleton):
    """The one-pixel lines of a boolean skeleton as polylines ((N, 2) float
    (x, y) arrays, N >= 2): paths between ends and junctions, then loops."""
    sk = np.pad(skeleton.astype(bool), 1)
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    ys, xs = np.nonzero(sk)
    on = set(zip(ys.tolist(), xs.tolist()))

    def nbrs(p):
        # 4-neighbours, and diagonal ones not reached through a 4-neighbour
        # (a staircase's corner pixels are not junctions)
        y, x = p
        out = []
        for dy, dx in offsets:
            q = (y + dy, x + dx)
            if q not in on:
                continue
            if dy and dx and ((y + dy, x) in on or (y, x + dx) in on):
                continue
            out.append(q)
        return out

    degree = {p: len(nbrs(p)) for p in on}
    nodes = {p for p, d in degree.items() if d != 2}
    used = set()                              # visited edges (frozensets of two pixels)
    lines = []

    def walk(start, nxt):
        path = [start, nxt]
        used.add(frozenset((start, nxt)))
        prev, cur = start, nxt
        while cur not in nodes:
            step = [q for q in nbrs(cur) if q != prev and frozenset((cur, q)) not in used]
            if not step:
                break
            prev, cur = cur, step[0]
            used.add(frozenset((prev, cur)))
            path.append(cur)
            if cur == start:
                break
        return path

    for p in sorted(nodes):
        for q in nbrs(p):
            if frozenset((p, q)) not in used:
                lines.append(walk(p, q))
    for p in sorted(on):                       # loops with no end or junction
        for q in nbrs(p):
            if frozenset((p, q)) not in used:
                nodes.add(p)
                lines.append(walk(p, q))
                nodes.discard(p)
    out = []
    for path in lines:
        arr = np.array(path, np.float64)[:, ::-1] - 1.0       # (x, y), unpadded
        if len(arr) >= 2:
            out.append(arr)
    return out


def smooth_polyline(pts, sigma=2.0, closed=False):
    """Gaussian smoothing along the polyline (ends kept in place)."""
    n = len(pts)
    if n < 5 or sigma <= 0:
        return pts
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    mode = "wrap" if closed else "edge"
    padded = np.pad(pts, ((r, r), (0, 0)), mode=mode)
    out = np.stack([np.convolve(padded[:, j], k, mode="valid") for j in range(2)], 1)
    if not closed:
        out[0], out[-1] = pts[0], pts[-1]
    return out


def _label_runs(pts, labels_at):
    """Cut a polyline where its edge class changes: [(label, points)]."""
    xi = np.clip(np.round(pts[:, 0]).astype(int), 0, labels_at.shape[1] - 1)
    yi = np.clip(np.round(pts[:, 1]).astype(int), 0, labels_at.shape[0] - 1)
    lab = labels_at[yi, xi]
    # small flickers (a few points) take their neighbours' class
    if len(lab) > 4:
        vals, counts = np.unique(lab[lab > 0], return_counts=True)
        if len(vals) == 1:
            lab = np.full_like(lab, vals[0])
    runs, start = [], 0
    for i in range(1, len(lab) + 1):
        if i == len(lab) or lab[i] != lab[start]:
            if lab[start] and i - start >= 2:
                runs.append((int(lab[start]), pts[max(0, start - 1):i]))
            start = i
    return runs


GROUP_OF = {E["eye_l"]: "eye1", E["eye_r"]: "eye2", E["brow_l"]: "brow1", E["brow_r"]: "brow2",
            E["nose"]: "nose", E["mouth"]: "mouth", E["glasses"]: "face", E["hair"]: "hair",
            E["hairline"]: "hair", E["neck"]: "neck", E["cloth"]: "body", E["jaw"]: "face",
            E["face"]: "face", E["collar"]: "face", E["ear_l"]: "face", E["ear_r"]: "face",
            E["earring"]: "face"}


def _pupil_ops(gray, labels):
    """Filled pupils and iris circles inside each visible eye."""
    ops = []
    for cls, edge, group in ((P["l_eye"], E["eye_l"], "eye1"), (P["r_eye"], E["eye_r"], "eye2")):
        eye = labels == cls
        if eye.sum() < 40:
            continue
        vals = gray[eye]
        dark = eye & (gray <= np.percentile(vals, 30))
        dark = cv2.morphologyEx(dark.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, comp, stats, cents = cv2.connectedComponentsWithStats(dark, connectivity=8)
        if n < 2:
            continue
        i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        cx, cy = cents[i]
        ys, xs = np.nonzero(eye)
        r_iris = min(0.5 * (ys.max() - ys.min() + 1) * 1.1, 0.28 * (xs.max() - xs.min() + 1))
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pupil = np.stack([cx + 0.42 * r_iris * np.cos(t), cy + 0.42 * r_iris * np.sin(t)], 1)
        ops.append(Op("ink", group, pupil, 0, True, edge))
        circle = np.stack([cx + r_iris * np.cos(t), cy + r_iris * np.sin(t)], 1)
        inside = eye[np.clip(circle[:, 1].round().astype(int), 0, eye.shape[0] - 1),
                     np.clip(circle[:, 0].round().astype(int), 0, eye.shape[1] - 1)]
        for run in _runs(inside):
            if len(run) >= 3:
                ops.append(Op("line", group, circle[run], FEATURE_WIDTH, False, edge))
    return ops


def beard_mask(photo, labels, min_share=0.3):
    """Facial hair (which CelebAMask-HQ's maps call skin): skin below the
    nose that is clearly darker than the cheeks and rough (its local
    spread of lightness at least twice theirs), smoothed into regions; None
    when it covers less than ``min_share`` of the lower face."""
    lum = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    skin = labels == P["skin"]
    nose = np.nonzero(labels == P["nose"])[0]
    eyes = np.nonzero(np.isin(labels, (P["l_eye"], P["r_eye"])))[0]
    if skin.sum() < 1000 or len(nose) == 0:
        return None
    nose_bottom = np.percentile(nose, 90)
    top = eyes.max() if len(eyes) else nose_bottom - 60
    rows = np.arange(labels.shape[0])[:, None]
    cheeks = skin & (rows > top) & (rows < nose_bottom)
    lower = skin & (rows > nose_bottom - 5)
    if cheeks.sum() < 200 or lower.sum() < 200:
        return None
    mean = cv2.blur(lum, (7, 7))
    spread = np.sqrt(np.maximum(cv2.blur(lum * lum, (7, 7)) - mean * mean, 0))
    dark = mean < np.median(lum[cheeks]) - 25
    rough = spread > max(2.0 * np.median(spread[cheeks]), 4.0)
    hair = (lower & dark & rough).astype(np.uint8)
    hair = cv2.morphologyEx(hair, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8)) > 0
    return hair if hair.sum() >= min_share * lower.sum() else None


def _beard_ops(photo, labels):
    """The facial hair's outline, a few hair flicks inside it (more as
    texture strokes for the hand-drawn styles) and its region for hatching."""
    mask = beard_mask(photo, labels)
    if mask is None:
        return []
    from data.synthetic.curves import resample
    ops = []
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    rng = np.random.default_rng(int(mask.sum()))
    for c in contours:
        if cv2.contourArea(c) < 600:
            continue
        c = c[:, 0, :].astype(np.float64)
        outline = smooth_polyline(resample(np.vstack([c, c[:1]]), max(12, len(c) // 4)),
                                  2.0, closed=True)
        ops.append(Op("shade", "beard", outline, 0.8, True, E["hair"]))
        ops.append(Op("line", "beard", outline, FEATURE_WIDTH, True, E["hair"]))
    ys, xs = np.nonzero(mask)
    for k in range(min(40, len(xs) // 150)):
        i = int(rng.integers(len(xs)))
        a = np.array([xs[i], ys[i]], np.float64)
        ang = rng.uniform(0.35, 0.65) * np.pi + rng.normal(0, 0.2)
        b = a + rng.uniform(6, 11) * np.array([np.cos(ang), np.sin(ang)])
        ops.append(Op("line" if k % 4 == 0 else "extra", "beard", np.array([a, b]), 1.2,
                      False, E["hair"]))
    return ops


def _runs(flags):
    """Index arrays of the runs of True in a cyclic boolean array."""
    idx = np.flatnonzero(flags)
    if len(idx) == 0:
        return []
    if flags.all():
        return [np.r_[np.arange(len(flags)), 0]]
    runs, cur = [], [idx[0]]
    for i in idx[1:]:
        if i == cur[-1] + 1:
            cur.append(i)
        else:
            runs.append(np.array(cur))
            cur = [i]
    runs.append(np.array(cur))
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == len(flags) - 1:
        runs[0] = np.r_[runs[-1], runs[0]]
        runs.pop()
    return runs


def _region_polygon(mask, min_area=400):
    """The outline of the largest region of ``mask`` ((N, 2) float) or None."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < min_area:
        return None
    from data.synthetic.curves import resample
    c = c[:, 0, :].astype(np.float64)
    return resample(np.vstack([c, c[:1]]), 64)[:-1] if len(c) >= 3 else None


def sketch_strokes(photo, labels):
    """The stroke ops of an aligned face (photo RGB uint8 and label map in
    this project's naming, both CANONICAL_SIZE square)."""
    photo, labels = np.asarray(photo), np.asarray(labels, np.uint8)
    if photo.shape[:2] != (CANONICAL_SIZE, CANONICAL_SIZE) or labels.shape != photo.shape[:2]:
        raise ValueError(f"expected a {CANONICAL_SIZE}x{CANONICAL_SIZE} aligned photo and "
                         f"label map, got {photo.shape} and {labels.shape}")
    gray = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)
    smooth = smooth_labels(drop_islands(labels, 120), 2.5)
    contour_cls = semantic_from_parsing(smooth, 1, _DRAWN_TABLE)
    border = np.zeros(contour_cls.shape, bool)
    border[:3, :], border[-3:, :], border[:, :3], border[:, -3:] = True, True, True, True
    contour_cls[border] = 0
    keep, photo_cls = photo_lines(gray, smooth)
    lines = (contour_cls > 0) | keep
    skeleton = remove_specks(thin(lines), 12)
    # each skeleton pixel's class: the contour's where there is one, else the photo line's
    cls = np.where(contour_cls > 0, contour_cls, photo_cls)
    cls = cv2.dilate(cls, np.ones((3, 3), np.uint8)) * (cls == 0) + cls   # reach the skeleton
    ops = []
    face = _region_polygon(np.isin(smooth, (P["skin"], P["nose"])))
    if face is None:                # no skin in the map: the layout's face oval
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        face = np.stack([246 + 110 * np.cos(t), 290 + 150 * np.sin(t)], 1)
    ops.append(Op("fill", "face", face, 0, True, E["face"]))   # where stray marks go
    hair = _region_polygon(smooth == P["hair"], 2000)
    if hair is not None:
        ops.append(Op("shade", "hair", hair, 1.0, True, E["hair"]))
    neck = _region_polygon(smooth == P["neck"], 1500)
    if neck is not None:
        ops.append(Op("shade", "neck", neck, 0.6, True, E["neck"]))
    for poly in trace_polylines(skeleton):
        closed = len(poly) > 8 and np.hypot(*(poly[0] - poly[-1])) < 1.5
        pts = smooth_polyline(poly, 2.0, closed)
        for label, run in _label_runs(pts, cls):
            if len(run) < 3 and np.hypot(*(run[0] - run[-1])) < 4:
                continue
            width = LINE_WIDTH if label in (E["face"], E["hair"], E["hairline"], E["jaw"],
                                             E["neck"], E["cloth"], E["collar"]) else FEATURE_WIDTH
            ops.append(Op("line", GROUP_OF.get(label, "face"), run[::2] if len(run) > 8 else run,
                          width, False, label))
    ops += _beard_ops(photo, smooth)
    ops += _pupil_ops(gray, smooth)
    return ops


# ------------------------------------------------------------------ storage
OP_KINDS = ("fill", "ink", "line", "dots", "extra", "shade")
GROUPS = ("face", "hair", "neck", "body", "eye1", "eye2", "brow1", "brow2", "nose", "mouth",
          "beard")


def ops_to_arrays(ops):
    """Plain arrays of ``ops`` (for an ``.npz`` file): their points one
    after the other and a row per op (kind, group, count, closed, label,
    thickness x 100)."""
    pts = np.concatenate([np.asarray(op.pts, np.float32).reshape(-1, 2) for op in ops]) \
        if ops else np.zeros((0, 2), np.float32)
    meta = np.array([(OP_KINDS.index(op.kind), GROUPS.index(op.group), len(op.pts),
                      int(bool(op.closed)), int(op.label), int(round(op.thick * 100)))
                     for op in ops], np.int32).reshape(-1, 6)
    return {"points": pts, "ops": meta}


def ops_from_arrays(points, meta, name="strokes"):
    """The ops of :func:`ops_to_arrays`; ValueError naming ``name`` when the
    arrays do not fit together."""
    points, meta = np.asarray(points, np.float64), np.asarray(meta)
    if points.ndim != 2 or points.shape[1] != 2 or meta.ndim != 2 or meta.shape[1] != 6:
        raise ValueError(f"{name}: not a stroke file (points {points.shape}, ops {meta.shape})")
    if meta.size and (meta[:, 2].min() < 1 or meta[:, 2].sum() != len(points)
                      or meta[:, 0].max() >= len(OP_KINDS) or meta[:, 1].max() >= len(GROUPS)
                      or meta[:, 0].min() < 0 or meta[:, 1].min() < 0
                      or not 0 <= meta[:, 4].min() <= meta[:, 4].max() <= 22):
        raise ValueError(f"{name}: stroke table does not match its points")
    if not np.isfinite(points).all():
        raise ValueError(f"{name}: stroke points hold NaN or infinite values")
    ops, at = [], 0
    for kind, group, n, closed, label, thick in meta.tolist():
        ops.append(Op(OP_KINDS[kind], GROUPS[group], points[at:at + n], thick / 100.0,
                      bool(closed), label))
        at += n
    return ops


class _Seed:
    """What the hand-drawn styles read of a face: its detail seed."""

    def __init__(self, seed):
        self.detail_seed = int(seed)


def pick_style(style, seed):
    """A style name for ``style`` ('random' picks clean or a training style
    from ``seed``, as the procedural faces do)."""
    from data.synthetic.styles import pick_style as pick
    return pick(style, _Seed(seed))


def render_strokes(ops, size, style="clean", seed=0, labels=False):
    """``(sketch uint8 black on white, semantic sketch or None)`` of ``ops``
    at ``size`` in ``style`` (a name of the hand-drawn styles, ``random``
    or ``held_out``); the style's randomness comes from ``seed``."""
    from data.synthetic.labels import draw_label_ops, match_strokes
    from data.synthetic.styles import render_style
    style = pick_style(style, seed)
    if style == "clean":
        sketch = draw_ops(ops, size)
        return sketch, (match_strokes(draw_label_ops(ops, size), sketch) if labels else None)
    return render_style(ops, _Seed(seed), size, style, labels)
