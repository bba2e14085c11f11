"""The drawing app's requests checked: JSON bodies (``parse_json_body``,
nesting bounded before parsing) and the fields of ``/api/convert``
(``ConvertRequest``: the sketch, the method, the appearance, DeepFaceDrawing's
settings, the page's session). Anything malformed is an ``HttpError`` 400
with a one-line message. See docs/app.md."""

import json
import math
import re

import numpy as np

from app.errors import HttpError, shown
from app.images import decode_base64_image
from options.base_options import OptionError
from options.deepfacedrawing import parse_refine
from util.components import BANK_CHOICES as GENDERS
from util.components import PARTS, part_key

JSON_DEPTH_LIMIT = 32          # arrays/objects nested deeper than this are refused unparsed
MAX_SEED = 2 ** 32 - 1          # appearance seeds: 0..MAX_SEED


# ------------------------------------------------------------------ JSON
# A JSON string, from its opening quote to its closing one, or to the end of
# the text when it is not closed. Possessive repeats and an ending that always
# matches: each quote outside a string starts one match that never fails and
# never backtracks, so finding every string takes linear time whatever the text.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(raw, limit=JSON_DEPTH_LIMIT):
    """True when the arrays/objects of the JSON text ``raw`` (UTF-8 bytes)
    nest more than ``limit`` levels deep. No recursion and no parsing:
    brackets outside strings are counted in one linear pass. (``json.loads``
    recurses once per level, and under Jittor's recursion limit, 10**6, a
    deep text overflows the C stack and kills the process instead of
    raising RecursionError.)"""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False                                  # too few brackets to nest deeper
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    step = 1 << 16
    for start in range(0, len(brackets), step):
        chunk = np.frombuffer(brackets[start:start + step], np.uint8)
        # '[' 0x5b and '{' 0x7b have bit 1 set, ']' 0x5d and '}' 0x7d do not
        levels = np.cumsum((chunk & 2).astype(np.int32) - 1) + depth
        if levels.max() > limit:
            return True
        depth = int(levels[-1])
    return False


def parse_json_body(raw):
    """Request body bytes -> the decoded JSON value; HttpError 400 if the
    text is not UTF-8 JSON or nests deeper than JSON_DEPTH_LIMIT."""
    if json_too_deep(raw):
        raise HttpError(400, f"the request's JSON is nested too deeply "
                             f"(more than {JSON_DEPTH_LIMIT} levels)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(400, "the request body is not valid JSON") from None


# ------------------------------------------------------------------ parameters
def _number(value, what):
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:                  # an int of 400 digits
            pass
    if number is None or not math.isfinite(number):
        raise HttpError(400, f"{what} must be a number, got {shown(value)}")
    return number


def parse_refine_value(value, default):
    """The request's 'refine' -> {part key: t}. A dict names parts (user
    names or keys) and/or 'all'; parts not named take 'all', else the
    server's default. A string is parsed like --refine."""
    if value is None:
        return dict(default)
    if isinstance(value, str):
        try:
            return parse_refine(value)
        except OptionError as exc:
            raise HttpError(400, str(exc).replace("--refine", "refine")) from None
    if not isinstance(value, dict):
        raise HttpError(400, "refine must be an object like {\"eye1\": 0.8, \"all\": 1} "
                             "or a string like \"eye1=0.8,mouth=0.5\"")
    out = dict(default)
    named = {}
    for name, t in value.items():
        t = _number(t, f"refine[{name!r}]")
        if not 0.0 <= t <= 1.0:
            raise HttpError(400, f"refine[{name!r}] = {t} is outside [0, 1]")
        if name == "all":
            out = {p: t for p in PARTS}
            continue
        try:
            named[part_key(name)] = t
        except ValueError as exc:
            raise HttpError(400, f"refine: {exc}") from None
    out.update(named)
    return out


APPEARANCE_FORMS = ('"appearance" must be null, {"seed": n}, {"photo": data URL} or '
                    '{"reference": token from /api/reference}')
TOKEN_RE = re.compile(r"[0-9a-f]{32}")


def whole_number(value):
    """``value`` as an int when it is a whole number (2.0 too), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_appearance(value, method):
    """The request's 'appearance' -> None, ("seed", n), ("photo", bytes) or
    ("reference", token); HttpError 400 for anything else, and for any
    appearance but null when ``method`` takes none."""
    if value is None:
        return None
    if not method.appearance:
        raise HttpError(400, f"{method.appearance_note}: send \"appearance\": null")
    if not isinstance(value, dict) or len(value) != 1:
        raise HttpError(400, f"{APPEARANCE_FORMS}, got {shown(value)}")
    (kind, item), = value.items()
    if kind == "seed":
        seed = whole_number(item)
        if seed is None or not 0 <= seed <= MAX_SEED:
            raise HttpError(400, f"the appearance seed must be a whole number from 0 to "
                                 f"{MAX_SEED}, got {shown(item)}")
        return "seed", seed
    if kind == "photo":
        if not isinstance(item, str) or not item:
            raise HttpError(400, "the appearance photo must be a PNG/JPEG data URL or base64 "
                                 f"string, got {shown(item)}")
        return "photo", decode_base64_image(item, "appearance photo")
    if kind == "reference":
        if not isinstance(item, str) or not TOKEN_RE.fullmatch(item):
            raise HttpError(400, f"the appearance reference must be a token from "
                                 f"/api/reference, got {shown(item)}")
        return "reference", item
    raise HttpError(400, f"{APPEARANCE_FORMS}, got {shown(value)}")


class ConvertRequest:
    """The validated parameters of one /api/convert request."""

    def __init__(self, body, app):
        if not isinstance(body, dict):
            raise HttpError(400, "the request must be a JSON object")
        sketch = body.get("sketch")
        if not isinstance(sketch, str) or not sketch:
            raise HttpError(400, "'sketch' is missing: send the sketch as a PNG data URL "
                                 "or base64 string")
        self.sketch_bytes = decode_base64_image(sketch)
        self.method = app.method(body.get("method", app.default_method))
        self.appearance = parse_appearance(body.get("appearance"), self.method)
        dfd = app.methods[app.default_method]
        opt = dfd.opt
        k = whole_number(body.get("k", opt.k))
        if k is None:
            raise HttpError(400, f"k must be a whole number, got {shown(body.get('k'))}")
        if k < 1:
            raise HttpError(400, f"k must be between 1 and {dfd.k_max} (the bank size), "
                                 f"got {shown(k)}")
        self.notes = []
        if k > dfd.k_max:            # the same rule as demo.py: clamped, with a note
            if self.method is dfd:
                self.notes.append(f"k {k} is more than the feature banks hold ({dfd.k_max} "
                                  f"sketches): using K={dfd.k_max}")
            k = dfd.k_max
        self.k = k
        self.refine = parse_refine_value(body.get("refine"), opt.refine_by_part)
        gender = body.get("gender", opt.gender)
        if gender not in GENDERS:
            raise HttpError(400, f"gender must be one of {', '.join(GENDERS)}, "
                                 f"got {shown(gender)}")
        self.gender = gender
        shadow = body.get("shadow", True)
        if not isinstance(shadow, bool):
            raise HttpError(400, f"shadow must be true or false, got {shown(shadow)}")
        self.shadow = shadow
        sketch_norm = body.get("sketch_norm", app.sketch_norm)
        if not isinstance(sketch_norm, bool):
            raise HttpError(400, f"sketch_norm must be true or false, got {shown(sketch_norm)}")
        self.sketch_norm = sketch_norm
        session = body.get("session")
        if session is not None and (not isinstance(session, str) or len(session) > 100):
            raise HttpError(400, "session must be a string of at most 100 characters")
        seq = body.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            raise HttpError(400, f"seq must be a whole number >= 0, got {shown(seq)}")
        if seq is not None and session is None:
            raise HttpError(400, "seq needs a session")
        if session is not None and seq is None:
            raise HttpError(400, "session needs a seq (the page's request number)")
        self.session, self.seq = session, seq
