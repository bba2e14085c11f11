"""The drawn attributes read from parsing maps (evaluation/attributes.py)."""

import numpy as np
import pytest

from data.synthetic.labels import P
from data.parsing_attributes import ATTRIBUTES, present
from evaluation.attributes import carried


def face(size=60, hair="short", glasses=False, mouth_open=False, hat=False):
    """A label map: skin in the middle, hair on top (or none, or down to
    the shoulders), glasses over the eyes, an open mouth, a hat."""
    m = np.zeros((size, size), np.uint8)
    m[10:50, 15:45] = P["skin"]
    if hair == "short":
        m[5:15, 12:48] = P["hair"]
    elif hair == "long":
        m[5:15, 12:48] = P["hair"]
        m[15:60, 5:15] = P["hair"]
        m[15:60, 45:55] = P["hair"]
    if glasses:
        m[22:27, 18:42] = P["eye_g"]
    if mouth_open:
        m[40:42, 27:33] = P["mouth"]
    if hat:
        m[0:12, 10:50] = P["hat"]
    return m


def test_each_attribute_is_read_from_its_own_classes():
    plain = present(face())
    assert not any(plain.values())
    assert present(face(glasses=True)) == dict(plain, glasses=True)
    assert present(face(mouth_open=True)) == dict(plain, open_mouth=True)
    assert present(face(hair="none")) == dict(plain, bald=True)
    assert present(face(hair="long")) == dict(plain, long_hair=True)
    # a hat hides the hair: not counted as bald
    assert present(face(hair="none", hat=True)) == dict(plain, hat=True)
    # shares of the image: the same face at another size reads the same
    big = np.kron(face(glasses=True, hair="long"), np.ones((3, 3), np.uint8))
    assert present(big) == present(face(glasses=True, hair="long"))
    with pytest.raises(ValueError, match="H x W"):
        present(np.zeros((4, 4, 3), np.uint8))


def test_carried_counts_shown_and_invented():
    drawn = [face(glasses=True), face(glasses=True), face(), face(), face(hair="none")]
    made = [face(glasses=True), face(), face(glasses=True), face(), face()]
    res = carried(drawn, made)
    assert set(res) == set(ATTRIBUTES)
    assert res["glasses"] == {"n": 2, "shown": 0.5, "invented": pytest.approx(1 / 3)}
    assert res["bald"] == {"n": 1, "shown": 0.0, "invented": 0.0}  # the bald head got hair
    assert res["hat"]["n"] == 0 and np.isnan(res["hat"]["shown"]) and res["hat"]["invented"] == 0
    with pytest.raises(ValueError, match="5 drawn maps against 4"):
        carried(drawn, made[:4])


def test_the_ablation_csv_keeps_the_attribute_tables_out_of_its_columns():
    from evaluation.ablation_report import flat_rows
    res = {"full": {"sets": {"clean": {"ssim": 0.5, "attributes": carried([face()], [face()])}},
                    "gap": {}, "options": {"k": 10, "refine": 1.0}}}
    header, rows = flat_rows(res)
    assert header[4:] == ["clean:ssim"] and rows == [["full", "-", 10, 1.0, "0.5"]]
