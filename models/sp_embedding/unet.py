"""A small UNet for dense labelling: the face parser (photo -> 19
CelebAMask-HQ classes, for the semantic feature-matching loss and the
semantics metric) and the stroke labeller (plain sketch -> the 22-class
edge scheme, so black-on-white sketches can feed the sketch encoders).

Encoder: ``depth`` stages of two 3x3 conv + BatchNorm + ReLU, 2x2 max-pool
between them, channels base, 2 base, 4 base, ...; decoder: nearest 2x
upsampling, concatenation with the encoder stage of the same size, two
convs; a 1x1 conv to the class logits. ``execute`` returns the logits and,
with ``features=True``, also the decoder's feature maps, deepest first (as
the authors' parser gives up4..up1 to their feature-matching loss)."""

from models.base_model import materialize
from models.layers import BatchNorm2d
from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), BatchNorm2d(cout), nn.ReLU())

    def execute(self, x):
        return self.body(x)


class UNet(nn.Module):
    def __init__(self, input_nc, n_classes, base=16, depth=4):
        if depth < 1:
            raise ValueError("UNet depth must be at least 1")
        self.depth = depth
        chans = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([ConvBlock(input_nc, chans[0])] +
                                  [ConvBlock(chans[i], chans[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([ConvBlock(chans[i + 1] + chans[i], chans[i])
                                 for i in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], n_classes, 1)
        materialize(self)

    def execute(self, x, features=False):
        if x.shape[2] % 2 ** self.depth or x.shape[3] % 2 ** self.depth:
            raise ValueError(f"UNet input sides must be multiples of {2 ** self.depth}, "
                             f"got {list(x.shape[2:])}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.pool(x, 2, "maximum", stride=2))
            skips.append(x)
        feats = []
        x = skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = nn.resize(x, size=skip.shape[2:], mode="nearest")
            x = block(jt.concat([x, skip], dim=1))
            feats.append(x)
        logits = self.head(x)
        return (logits, feats) if features else logits
