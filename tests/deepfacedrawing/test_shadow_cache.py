"""The shadow's decoded neighbours are kept per bank row: a stroke that
changes one of a part's K neighbours decodes that one row, and the crops
are those a fresh decode gives."""

import numpy as np


def test_only_new_bank_rows_are_decoded(tiny_params, monkeypatch):
    from models import create_model
    from models.deepfacedrawing import pipeline
    from options.test_options import TestOptions
    opt = TestOptions().parse(["--params", tiny_params])
    model = create_model("deepfacedrawing", opt).load_for_inference(opt)
    asked, decode = [], model.decode_latents
    model.decode_latents = lambda part, z: asked.append((part, len(z))) or decode(part, z)
    first = model.decoded_neighbours("eye1", np.array([[0, 1, 2], [2, 3, 4]]))
    assert asked == [("eye1", 5)] and first.shape[0] == 6        # row 2 decoded once
    again = model.decoded_neighbours("eye1", np.array([[1, 2, 7]]))
    assert asked[1:] == [("eye1", 1)]                            # only row 7 is new
    np.testing.assert_allclose(again[:2], first[1:3], atol=1e-6)
    fresh = decode("eye1", model.bank("eye1").latents[[1, 2, 7]])
    np.testing.assert_allclose(again, fresh, atol=1e-5)
    model.decoded_neighbours("nose", np.array([[1, 2, 7]]))      # parts keep their own rows
    assert asked[2:] == [("nose", 3)]
    # the cache keeps the most recent DECODED_ROWS rows of each part
    monkeypatch.setattr(pipeline, "DECODED_ROWS", 4)
    model.decoded_neighbours("mouth", np.array([[10, 11, 12, 13, 14, 15]]))
    assert list(model._decoded[("mouth", "all")]) == [10, 11, 12, 13, 14, 15]   # a whole call
    model.decoded_neighbours("mouth", np.array([[11, 20]]))
    assert list(model._decoded[("mouth", "all")]) == [14, 15, 11, 20]
