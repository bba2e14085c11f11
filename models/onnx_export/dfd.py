"""DeepFaceDrawing's checkpoint (ours or the authors' Params) as ONNX: per
part its component encoder, sketch decoder (for shadows) and feature-
mapping decoder, then the generator and, where there is one, the
appearance encoder; the feature banks as .npy in the authors' names."""

import os

from models.deepfacedrawing import checkpoint as ckpt
from models.onnx_export.emitters import emit, jittor_forward
from models.onnx_export.graph import BATCH
from util.components import (BOXES_512, GENDERS, PART_NAMES, PASTE_ORDER, nose_paste_rows,
                             pipeline_parts, scaled_boxes)


def export_dfd(opt, exporter, config):
    """Load ``opt.params`` strictly, write its networks and banks through
    ``exporter``; returns the manifest's method-specific entries."""
    from models import create_model
    model = create_model("deepfacedrawing", opt)
    model.load(opt.params)                     # strict; sets eval mode
    n, d = opt.image_size, opt.latent_dim
    boxes = scaled_boxes(n)
    banks = {}
    for part in pipeline_parts(opt.pipeline):
        name, ae = PART_NAMES[part], model.parts[part]
        s = boxes[part][2]
        crop = (BATCH, 1, s, s)
        fm = model.combine.fm[part]
        exporter.network(f"encoder_{name}", [("sketch", crop)], [("latent", (BATCH, d))],
                         lambda g, x, net=ae.encoder: emit(g, net, x),
                         f"DeepFaceDrawing component encoder ({name}): crop in [-1, 1] -> latent",
                         jittor_forward(ae.encoder))
        exporter.network(f"decoder_{name}", [("latent", (BATCH, d))], [("sketch", crop)],
                         lambda g, z, net=ae.decoder: emit(g, net, z),
                         f"DeepFaceDrawing sketch decoder ({name}): latent -> crop (shadows)",
                         jittor_forward(ae.decoder))
        exporter.network(f"fm_{name}", [("latent", (BATCH, d))],
                         [("feature_map", (BATCH, opt.fm_nc, s, s))],
                         lambda g, z, net=fm: emit(g, net, z),
                         f"DeepFaceDrawing feature-mapping decoder ({name})", jittor_forward(fm))
        banks[name] = export_banks(opt, exporter, part)
    g_in = ("sketch", (BATCH, 1, n, n)) if opt.pipeline == "direct" else \
        ("feature_map", (BATCH, opt.fm_nc, n, n))
    inputs = [g_in] + ([("code", (BATCH, opt.appearance_dim))] if opt.appearance_dim else [])

    def generator(g, x, code=None):
        return emit(g, model.combine.netG, x, code=code)
    exporter.network("generator", inputs, [("image", (BATCH, 3, n, n))], generator,
                     "DeepFaceDrawing image synthesis (pix2pixHD global generator): face "
                     "feature map (and appearance code) -> photo in [-1, 1]",
                     jittor_forward(model.combine.netG))
    if model.combine.netA is not None:
        exporter.network("appearance", [("photo", (BATCH, 3, n, n))],
                         [("code", (BATCH, opt.appearance_dim))],
                         lambda g, x: emit(g, model.combine.netA, x),
                         "DeepFaceDrawing appearance encoder: photo in [-1, 1] -> code (mean)",
                         jittor_forward(lambda x: model.combine.netA(x)[0]))
    return {"sizes": {"image_size": n, "latent_dim": d, "fm_nc": opt.fm_nc,
                      "appearance_dim": opt.appearance_dim,
                      "crops": {PART_NAMES[p]: boxes[p][2] for p in pipeline_parts(opt.pipeline)}},
            "components": {"boxes": {PART_NAMES[p]: list(b) for p, b in boxes.items()},
                           "boxes_512": {PART_NAMES[p]: list(b) for p, b in BOXES_512.items()},
                           "paste_order": [PART_NAMES[p] for p in PASTE_ORDER],
                           "nose_paste_rows": nose_paste_rows(n)},
            "banks": banks}


def export_banks(opt, exporter, part):
    """Every bank of ``part`` (male, female, single) as AE_whole/*.npy, the
    authors' names; {gender: [rows, file]}. At least one must be there."""
    ckpt.find_bank_files(opt.params, part, "all")        # CheckpointError when there is none
    out = {}
    for gender in GENDERS + ("all",):
        for ext in (".bin", ".npy"):
            src = ckpt.bank_path(opt.params, part, gender, ext)
            if os.path.isfile(src):
                bank = ckpt.read_bank(src, opt.latent_dim)
                rel = os.path.relpath(ckpt.bank_path(exporter.out, part, gender, ".npy"),
                                      exporter.out)
                exporter.array(rel, bank)
                out[gender] = [int(len(bank)), rel]
                break
    return out
