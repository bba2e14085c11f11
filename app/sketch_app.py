"""The drawing app behind the HTTP server (``app/server.py``): the methods
of the registry (``models/methods.py``) loaded as their inference contracts
(``models/inference.py``), the reference photos kept, the page's sessions,
and one thread for every model call (Jittor is not thread-safe, and GNU
OpenMP is fast from one thread only: see ``SketchApp``).

DeepFaceDrawing (``--params``) is always loaded; every other method of the
registry when its checkpoint is there (the sketch embedding: ``--sp_params``),
else it is listed as unavailable with the reason.
"""

import collections
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from app.errors import HttpError, shown
from app.images import (DEFAULT_MAX_PIXELS, DecodeBudget, decode_photo, label_picture,
                        open_image_bytes, resized)
from app.references import REFERENCES_KEPT, THUMB_SIZE, Reference, ReferenceCache, reference_token
from app.requests import MAX_SEED
from data.sketch_norm import wanted
from models.inference import Appearance
from models.methods import DEFAULT_METHOD, get_method, method_names
from options.base_options import REPO_ROOT
from util.components import BANK_CHOICES as GENDERS
from util.components import BOXES_512, CANONICAL_SIZE, PART_NAMES, PARTS
from util.png import encode_png

SESSIONS_KEPT = 1000           # most recent sessions whose latest request number is kept
NOT_LOADED = "no checkpoint was given (draw.py --sp_params PATH offers it)"


class AppMethod:
    """A loaded method as the app runs it: its inference contract (``face``),
    its options and the line that describes its model."""

    def __init__(self, face, description=""):
        self.face, self.opt, self.description = face, face.opt, description
        self.name, self.title = face.name, face.title
        self.size, self.sketch_size = face.size, face.sketch_size
        self.appearance, self.appearance_note = face.has_appearance, face.appearance_note
        # DeepFaceDrawing's largest K (its banks of every gender load now: errors come early)
        self.k_max = face.largest_k() if "k" in face.settings else None
        # the second image: the method's own (DeepFaceDrawing's shadow guidance), else
        # the stroke labels of the prepared sketch in colour (the sketch embedding's)
        self.own_shadow = "shadows" in face.results

    @property
    def model(self):
        """The model behind the contract (Jittor's)."""
        return self.face.model

    def info(self):
        return {"name": self.name, "title": self.title, "available": True,
                "image_size": self.size, "model": self.description,
                "appearance": self.appearance, "appearance_note": self.appearance_note,
                "settings": list(self.face.settings), "shadow": self.face.shadow_note}

    def appearance_of(self, appearance):
        """A request's appearance (None, ("seed", n), ("reference", Reference))
        as the contract takes it."""
        if appearance is None:
            return Appearance.mean()
        kind, value = appearance
        if kind == "seed":
            return Appearance.random(value, 0)
        return Appearance.of_photos([value.inputs[self.name]], memo=value.codes)

    def run(self, sketch, req, appearance):
        """Under the app's lock: (prepared inputs, the contract's result, notes)."""
        inputs, notes = self.face.prepare(sketch, req.sketch_norm)
        settings = {key: getattr(req, key) for key in self.face.settings}
        if self.own_shadow:
            settings["shadow"] = req.shadow
        result = self.face([inputs], self.appearance_of(appearance), **settings)
        return inputs, result, notes

    def finish(self, inputs, result, req):
        """(image (N, N, 3), the second image or None): DeepFaceDrawing's
        shadow guidance, or the sketch embedding's stroke labels in colour,
        spread a few pixels around each stroke."""
        if self.own_shadow:
            shadows = result["shadows"]
            return result["faces"][0], (shadows[0] if shadows is not None else None)
        labels = inputs.get("labels512") if req.shadow else None
        return result["faces"][0], (label_picture(labels) if labels is not None else None)

    def warm_up(self):
        self.face.warm_up()
        if not self.own_shadow:
            label_picture(np.eye(8, dtype=np.uint8))


class SketchApp:
    """The loaded methods and what the server needs around them.

    Every model call (the warm-up, each conversion) runs on one thread of
    its own, ``self.models``, holding ``self.lock``: Jittor is not
    thread-safe, and GNU OpenMP keeps a pool of worker threads for every
    thread that runs a parallel region and throttles their spinning to a
    few hundred iterations once its pools hold more threads than there are
    cores, so each of the server's connection threads converting in turn
    made every convolution wake sleeping workers (a 128 px DeepFaceDrawing
    conversion took 78-82 ms from a connection's thread against 51-58 ms
    from one thread, on 2 cores)."""

    def __init__(self, methods, opt, missing=None):
        """``methods``: the loaded ones (``AppMethod``, DeepFaceDrawing's
        first); ``missing``: {name: why not} of the others."""
        self.methods = {m.name: m for m in methods}
        self.default_method = DEFAULT_METHOD
        dfd = self.methods[DEFAULT_METHOD]
        # DeepFaceDrawing's, by their old names
        self.model, self.opt, self.size = dfd.model, dfd.opt, dfd.size
        self.description, self.k_max = dfd.description, dfd.k_max
        self.missing = dict(missing or {})
        self.lock = threading.Lock()
        self.models = ThreadPoolExecutor(max_workers=1, thread_name_prefix="models")
        self.max_upload = int(opt.max_upload_mb * 1024 * 1024)
        self.max_pixels = int(getattr(opt, "max_pixels", None) or DEFAULT_MAX_PIXELS)
        self.decode_budget = DecodeBudget()
        self.references = ReferenceCache()
        self.verbose = bool(getattr(opt, "verbose", False))
        self.sketch_norm = wanted(opt)                 # requests' default
        self._latest = collections.OrderedDict()   # session -> newest seq seen
        self._latest_lock = threading.Lock()

    def method(self, name):
        """The loaded method called ``name``; HttpError 400 otherwise."""
        names = method_names()
        if not isinstance(name, str) or name not in names:
            raise HttpError(400, f"method must be one of {', '.join(names)}, got {shown(name)}")
        method = self.methods.get(name)
        if method is None:
            raise HttpError(400, f"the method {name} is not available here: "
                                 f"{self.missing.get(name, NOT_LOADED)}")
        return method

    @property
    def appearance_methods(self):
        return [m for m in self.methods.values() if m.appearance]

    def info(self):
        opt = self.opt
        methods = []
        for name in method_names():
            if name in self.methods:
                methods.append(self.methods[name].info())
            else:
                title = get_method(name).inference_class().title
                methods.append({"name": name, "title": title, "available": False,
                                "reason": self.missing.get(name, NOT_LOADED)})
        return {
            "methods": methods,
            "default_method": self.default_method,
            "max_seed": MAX_SEED,
            "canvas_size": CANONICAL_SIZE,
            "image_size": self.size,
            "parts": [{"key": p, "name": PART_NAMES[p], "box": list(BOXES_512[p])} for p in PARTS],
            "genders": list(GENDERS),
            "k_max": self.k_max,
            "defaults": {"method": self.default_method, "appearance": None,
                         "k": min(opt.k, self.k_max), "gender": opt.gender, "shadow": True,
                         "sketch_norm": self.sketch_norm,
                         "refine": {PART_NAMES[p]: opt.refine_by_part[p] for p in PARTS}},
            "model": self.description,
            "max_upload_bytes": self.max_upload,
            "max_pixels": self.max_pixels,
            "max_side": math.isqrt(self.max_pixels),
        }

    # -------------------------------------------------- reference photos
    def reference(self, data, what="the reference photo"):
        """The kept ``Reference`` of the photo file ``data`` (bytes): from
        the cache, or decoded (header-checked, within the decode budget)
        and kept. HttpError for what is no usable image."""
        token = reference_token(data)
        ref = self.references.get(token)
        if ref is not None:
            return ref
        img = open_image_bytes(data, what, self.max_pixels)
        methods = self.appearance_methods

        def prepare(square):
            inputs = {m.name: m.face.photo_input(square) for m in methods}
            thumbnail = encode_png(np.asarray(resized(square, THUMB_SIZE, Image.LANCZOS)))
            return inputs, thumbnail

        (inputs, thumbnail), notes = decode_photo(img, self.decode_budget, prepare, what)
        ref = Reference(token, inputs, thumbnail, notes)
        self.references.put(ref)
        return ref

    def kept_reference(self, token):
        """The kept photo of ``token``; HttpError 410 when it is not kept."""
        ref = self.references.get(token)
        if ref is None:
            raise HttpError(410, f"the reference photo {token} is no longer kept (the server "
                                 f"keeps the last {REFERENCES_KEPT}): send it to "
                                 f"/api/reference again")
        return ref

    # -------------------------------------------------- superseded requests
    def register(self, session, seq):
        if session is None:
            return
        with self._latest_lock:
            if seq > self._latest.get(session, -1):
                self._latest[session] = seq
            self._latest.move_to_end(session)
            while len(self._latest) > SESSIONS_KEPT:
                self._latest.popitem(last=False)

    def superseded(self, session, seq):
        if session is None:
            return False
        with self._latest_lock:
            return self._latest.get(session, -1) > seq

    # -------------------------------------------------- the models
    def convert(self, method, sketch, req, appearance=None, still_wanted=lambda: True):
        """A sketch at ``method.sketch_size`` -> (image (N, N, 3), shadow or
        None, the notes of its preparation), or None when ``still_wanted()``
        says no once the models are free. ``appearance``: None, ("seed", n)
        or ("reference", Reference)."""
        def job():
            with self.lock:
                if not still_wanted():
                    return None
                return method.run(sketch, req, appearance)

        ran = self.on_model_thread(job)
        if ran is None:
            return None
        inputs, result, notes = ran
        return method.finish(inputs, result, req) + (notes,)

    def on_model_thread(self, job):
        """``job()`` on the models' thread; its result, or its exception."""
        return self.models.submit(job).result()

    def warm_up(self):
        """Blank conversions with every method: Jittor compiles its kernels
        now rather than on the first stroke."""
        def job():
            for method in self.methods.values():
                with self.lock:
                    method.warm_up()

        self.on_model_thread(job)


def where(path):
    """``path`` relative to the repository when it is inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO_ROOT) if path.startswith(REPO_ROOT + os.sep) else path


def options_source(opt):
    source = opt.preset_source
    return "its config.json" if source.endswith("config.json") else source


def method_options(opt):
    """{method: (its options, or None; why it is not offered)} for every
    method of the registry: DeepFaceDrawing's options are ``opt`` itself,
    the sketch embedding's ``opt.sp_opt`` (``options.draw_options`` builds
    them from --sp_params, or says in ``opt.sp_missing`` why not)."""
    given = {opt.method: (opt, None),
             "sp_embedding": (getattr(opt, "sp_opt", None), getattr(opt, "sp_missing", None))}
    return {name: given.get(name, (None, None)) for name in method_names()}


def describe(face, opt, description=None):
    """The line about a loaded method's model the page and draw.py show."""
    from util import jittor_env
    if description is not None:
        return description
    n = face.size
    if face.name == DEFAULT_METHOD:
        return (f"{where(opt.params)} ({n}x{n}, options from {options_source(opt)}; "
                f"{jittor_env.describe()})")
    return (f"{where(opt.params)} ({n}x{n}, options from {options_source(opt)}; stroke "
            f"labels {face.labeler.description})")


def load_app(opt, description=None):
    """Load every method of the registry that ``opt`` gives a checkpoint
    (Jittor must be set up): DeepFaceDrawing from ``opt.params``, the
    sketch embedding from ``opt.sp_opt`` when there is one. Raises
    ``models.files.CheckpointError`` for missing or damaged files.
    ``description``: DeepFaceDrawing's model line (default: made here)."""
    methods, missing = [], {}
    for name, (method_opt, why) in method_options(opt).items():
        if method_opt is None:
            missing[name] = why or NOT_LOADED
            continue
        face = get_method(name).load(method_opt)
        methods.append(AppMethod(face, describe(face, method_opt,
                                                description if name == DEFAULT_METHOD else None)))
    return SketchApp(methods, opt, missing)

