"""Stage ``banks``: every training sketch encoded by the trained encoders
into DeepFaceDrawing's per-part feature banks (split by gender when every
sample has one), written beside a copy of the autoencoders."""

import os
import shutil

import numpy as np
from tqdm import tqdm

from models import create_model
from models.deepfacedrawing import checkpoint as ckpt
from models.files import write_config
from training.base_trainer import Stage
from training.deepfacedrawing import model_parts
from util.arrays import sketch_to_array
from util.components import GENDERS


def copy_ae_files(src, dst):
    """Put the trained encoders/decoders (and banks) of ``src`` into ``dst``
    so that ``dst`` is a complete checkpoint folder."""
    if os.path.abspath(src) == os.path.abspath(dst):
        return
    os.makedirs(os.path.join(dst, "AE_whole"), exist_ok=True)
    for name in os.listdir(os.path.join(src, "AE_whole")):
        if name.startswith("latest_") or name.endswith(("_feature.bin", "_feature.npy")):
            shutil.copy2(os.path.join(src, "AE_whole", name), os.path.join(dst, "AE_whole", name))


class BanksStage(Stage):
    """Encode the training sketches with the trained encoders of
    ``opt.ae_from`` and write the banks into ``opt.expr_dir`` (split by
    gender when every sample has one)."""

    stage = "banks"

    def run(self, batch_size=16):
        from data.datasets import create_dataset
        opt = self.opt
        ds = create_dataset(opt, "train")
        genders = [g if g in GENDERS else "all" for g in ds.genders()]
        split = all(g in GENDERS for g in genders) and len(set(genders)) == 2
        parts = {p: create_model("ae", opt, part=p).load(opt.ae_from, names=("encoder",)).eval()
                 for p in model_parts(opt, "banks")}
        latents = {p: [] for p in parts}
        kept = []
        for start in tqdm(range(0, len(ds), batch_size), desc="encoding sketches", unit="batch"):
            sketches = []
            for i in range(start, min(start + batch_size, len(ds))):
                if i in ds.bad:
                    continue
                try:
                    sample = ds.load(i)         # the clean sketch: the manifold of good ones
                    sketches.append(sample.clean if sample.clean is not None else sample.sketch)
                    kept.append(i)
                except Exception as exc:  # reported once, like in training
                    ds.bad.add(i)
                    tqdm.write(f"skipped {exc}")
            if not sketches:
                continue
            x = sketch_to_array(np.stack(sketches))
            for p, ae in parts.items():
                latents[p].append(ae.encode(ae.crop(x)))
        written = []
        for p in parts:
            z = np.concatenate(latents[p])
            if split:
                g = np.array([genders[i] for i in kept])
                for gender in GENDERS:
                    path = ckpt.bank_path(self.dir, p, gender)
                    ckpt.write_bank(path, z[g == gender])
                    written.append(path)
            else:
                path = ckpt.bank_path(self.dir, p, "all")
                ckpt.write_bank(path, z)
                written.append(path)
        copy_ae_files(opt.ae_from, self.dir)
        write_config(self.dir, self.config())
        print(f"wrote {len(written)} banks of {len(kept)} sketches "
              f"({'split by gender' if split else 'one bank per part'}) to "
              f"{os.path.join(self.dir, 'AE_whole')}")
        return 0
