"""The second method: semantics-preserving sketch embedding (Yang et al.,
IEEE TMM 2023): three pSp-style IR-SE50 encoders over a StyleGAN2
generator. A sketch gives a coarse W code and W+ offsets for the first 8
generator layers; an appearance photo gives the W+ offsets of the last 10.

* ``stylegan2``: the generator (rosinality's parameter layout) and, for
  training, the discriminator.
* ``encoders``: the IR-SE50 GradualStyleEncoder (pSp's layout).

Modules are imported on use, so importing this package does not start
Jittor.
"""
