"""What a face shows, read from its CelebAMask-HQ parsing map (classes:
``data/synthetic/labels.py``): glasses, an open mouth, a bald head, long
hair, a hat. Shares of the image, so any map size works; the thresholds
were set on the real test split's maps (ids 4500..4799: 10 faces with
glasses, 5 bald, 42 % with the mouth open, 52 % with long hair). Used to
even out the training batches (train.py --balance on celeba) and to score
whether a drawn attribute comes through (``evaluation/attributes.py``)."""

import numpy as np

from data.synthetic.labels import P as C


def _share(label, cls, rows=slice(None)):
    return float((label[rows] == C[cls]).mean())


def _bottom_third(label):
    return slice(2 * label.shape[0] // 3, None)


# name -> (what it means, test on a label map)
ATTRIBUTES = {
    "glasses": ("glasses over 0.5 % of the image",
                lambda m: _share(m, "eye_g") >= 0.005),
    "open_mouth": ("the inner mouth over 0.2 %",
                   lambda m: _share(m, "mouth") >= 0.002),
    "bald": ("hair under 3 % and no hat",
             lambda m: _share(m, "hair") < 0.03 and _share(m, "hat") < 0.02),
    "long_hair": ("hair over 10 % of the image's bottom third",
                  lambda m: _share(m, "hair", _bottom_third(m)) >= 0.10),
    "hat": ("a hat over 2 %", lambda m: _share(m, "hat") >= 0.02),
}


def present(label):
    """{attribute: bool} of one label map (H x W class ids)."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"a label map is H x W class ids, got shape {label.shape}")
    return {name: bool(test(label)) for name, (_, test) in ATTRIBUTES.items()}
