"""Stage ``ae``: DeepFaceDrawing's five component autoencoders (encoder +
sketch decoder per part), trained on sketches alone."""

from models import create_model
from training.base_trainer import BaseTrainer, jt
from training.deepfacedrawing import model_parts
from training.losses import l1, mse
from training.optim import Adam
from util.arrays import sketch_to_array, to_images
from util.components import PART_NAMES


class AETrainer(BaseTrainer):
    stage = "ae"

    def __init__(self, opt, loader=None, files=None):
        super().__init__(opt, loader, files)
        self.parts = {p: create_model("ae", opt, part=p).train()
                      for p in model_parts(opt, "ae")}
        params = [v for ae in self.parts.values()
                  for v in ae.encoder.parameters() + ae.decoder.parameters()]
        self.optim = Adam(params, opt.lr, (opt.beta1, opt.beta2), opt.eps)
        self.recon = mse if opt.ae_loss == "mse" else l1

    def networks(self):
        nets = {}
        for p, ae in self.parts.items():
            nets[f"encoder_{PART_NAMES[p]}"] = ae.encoder
            nets[f"decoder_{PART_NAMES[p]}"] = ae.decoder
        return nets

    def optimizers(self):
        return {"ae": self.optim}

    def network_files(self, root, tag="latest"):
        return {f"{net}_{PART_NAMES[p]}": ae.network_path(net, root, tag)
                for p, ae in self.parts.items() for net in ("encoder", "decoder")}

    def step(self, batch):
        x = sketch_to_array(batch["sketch"])
        y = sketch_to_array(batch["clean"]) if self.opt.ae_target == "clean" else x
        losses, total = {}, 0.0
        for p, ae in self.parts.items():
            crop = jt.array(ae.crop(x))
            target = crop if y is x else jt.array(ae.crop(y))
            loss = self.recon(ae.decoder(ae.encoder(crop)), target)
            losses[f"rec_{PART_NAMES[p]}"] = loss
            total = total + loss
        self.optim.step(total * self.opt.lambda_recon)
        return self.losses_to_floats(losses)

    def visuals(self, batch):
        x = sketch_to_array(batch["sketch"][:1])
        out = [("sketch", batch["sketch"][0])]
        with jt.no_grad():          # eval mode: a display must not move BatchNorm statistics
            for p, ae in self.parts.items():
                ae.eval()
                rec = ae.decode(ae.encode(ae.crop(x)))
                ae.train()
                out.append((f"{PART_NAMES[p]}_rec", to_images(rec[:1])[0]))
        return out

    def export(self, tag):
        for ae in self.parts.values():
            ae.save(self.dir, tag)
