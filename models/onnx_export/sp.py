"""The sketch embedding's checkpoint (the authors' model.pt or our folder)
as ONNX: the three encoders, the mapping network, the generator with its
stored noise maps, the stroke labeller where the folder has one; the
average latent as .npy and the region labeller's prior map."""

import os

from models.onnx_export.emitters import emit, jittor_forward
from models.onnx_export.graph import BATCH


def export_sp(opt, exporter, config):
    from models import create_model
    from models.base_model import load_network
    from models.sp_embedding.labelers import LABELER_SIZE, PRIOR_PATH, define_labeler, \
        labeler_path
    model = create_model("sp_embedding", opt)
    model.load(opt.params)                           # strict; eval mode
    net = model.net
    s, d, rows = opt.encoder_size, opt.style_dim, opt.n_latent
    sketch = ("sketch", (BATCH, opt.label_nc, s, s))
    exporter.network("encoder_sketch_coarse", [sketch], [("w", (BATCH, d))],
                     lambda g, x: emit(g, net.encoder_sketch_coarse, x),
                     "E_c: one-hot sketch (no background channel) -> W encoder output "
                     "(times w_scale; the mapping network makes it W)",
                     jittor_forward(net.encoder_sketch_coarse))
    (s0, s1), (a0, a1) = net.rows["encoder_sketch_fine"], net.rows["encoder_face_fine"]
    exporter.network("encoder_sketch_fine", [sketch], [("wplus", (BATCH, s1 - s0, d))],
                     lambda g, x: emit(g, net.encoder_sketch_fine, x, rows=(s0, s1)),
                     f"E_s: one-hot sketch -> the W+ offsets of rows {s0}..{s1 - 1} (times "
                     "wplus_scale)", jittor_forward(net.sketch_offsets))
    exporter.network("encoder_face_fine", [("photo", (BATCH, 3, s, s))],
                     [("wplus", (BATCH, a1 - a0, d))],
                     lambda g, x: emit(g, net.encoder_face_fine, x, rows=(a0, a1)),
                     "E_a: appearance photo in [-1, 1] (pooled to the encoders' size) -> the W+ "
                     f"offsets of rows {a0}..{a1 - 1} (times wplus_scale)",
                     jittor_forward(net.appearance_offsets))
    exporter.network("mapping", [("z", (BATCH, d))], [("w", (BATCH, d))],
                     lambda g, z: emit(g, net.decoder.style, z),
                     "StyleGAN2 mapping network M: z -> W", jittor_forward(net.decoder.style))
    n = opt.output_size
    exporter.network("generator", [("wplus", (BATCH, rows, d))], [("image", (BATCH, 3, n, n))],
                     lambda g, w: emit(g, net.decoder, w),
                     "StyleGAN2 synthesis on a W+ code with the stored noise maps -> image "
                     "about [-1, 1]", jittor_forward(net.synthesize))
    root = opt.params if os.path.isdir(opt.params) else None
    labeler = labeler_path(root) if root else None
    if labeler and os.path.isfile(labeler):
        unet = load_network(define_labeler(opt.label_nc), labeler)
        unet.eval()
        exporter.network("labeler", [("sketch", (BATCH, 1, LABELER_SIZE, LABELER_SIZE))],
                         [("logits", (BATCH, opt.label_nc + 1, LABELER_SIZE, LABELER_SIZE))],
                         lambda g, x: emit(g, unet, x, size=LABELER_SIZE),
                         "stroke labeller (UNet): plain sketch in [-1, 1] -> class logits",
                         jittor_forward(unet))
    exporter.array("latent_avg.npy", net.latent_avg)
    if os.path.isfile(PRIOR_PATH):
        exporter.copy("label_prior.png", PRIOR_PATH)
    return {"sizes": {"output_size": n, "style_dim": d, "n_latent": rows,
                      "encoder_size": s, "label_nc": opt.label_nc,
                      "break_layer": opt.break_layer, "labeler_size": LABELER_SIZE},
            "noise_maps": [list(v.shape) for v in net.decoder.stored_noise()]}
