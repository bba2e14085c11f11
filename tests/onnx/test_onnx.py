"""Both methods exported to ONNX (scripts/export_onnx.py) and run without
Jittor (demo.py --backend onnx): every graph passes onnx.checker, and the
ONNX Runtime outputs equal the Jittor outputs within 1 grey level (mean and
99.9th percentile of the absolute difference of the final uint8 images) on
the bundled models and on random weights in the authors' layouts; the
runtime runs test_input/ in a process where importing Jittor fails.

``DFD_SLOW_TESTS=1`` adds the authors' sizes (DeepFaceDrawing's official
networks, the sketch embedding's full 3.3 GB model.pt)."""

import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, face_sketch, run_script

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SLOW = os.environ.get("DFD_SLOW_TESTS") == "1"
TEST_INPUT = os.path.join(ROOT, "test_input")
TOLERANCE = 1.0        # grey levels: mean and 99.9th percentile


def export(params, out, *flags):
    rc = run_script("scripts/export_onnx.py", ["--params", str(params), "--out", str(out),
                                               *flags])
    assert rc == 0
    return str(out)


def differences(a, b):
    """(mean, 99.9th percentile, max) of |a - b| over uint8 images."""
    d = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).ravel()
    return float(d.mean()), float(np.percentile(d, 99.9)), int(d.max())


def within_one_grey(stats, what):
    mean, p999, top = stats
    print(f"{what}: mean {mean:.2e}, p99.9 {p999:g}, max {top} grey levels")
    assert mean <= TOLERANCE and p999 <= TOLERANCE, (what, stats)


def both_backends(method, params, exported, *flags):
    """(Jittor model, ONNX Runtime model, options) for one checkpoint: the
    models behind the two backends' inference contracts."""
    from models.methods import prepare_inference
    from options.test_options import TestOptions
    opt_j = TestOptions().parse(["--method", method, "--params", str(params), *flags])
    opt_o = TestOptions().parse(["--method", method, "--params", exported])
    opt_o.backend = "onnx"
    return prepare_inference(opt_j).model, prepare_inference(opt_o).model, opt_j


def sample_sketches(size, n=6):
    """The first ``n`` sketches of test_input/ as DeepFaceDrawing reads them."""
    from data.sketch_io import load_sketch
    from data.sketch_norm import normalise_sketch
    files = sorted(glob.glob(os.path.join(TEST_INPUT, "*.png")))[:n]
    return np.stack([normalise_sketch(load_sketch(f, size)[0])[0] for f in files])


def photos(size, n):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (n, 1, 1, 3))
    noise = rng.integers(-30, 31, (n, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


# ================================================================ DeepFaceDrawing
def compare_dfd(params, exported, *flags, shadows=True, n=6):
    mj, mo, opt = both_backends("deepfacedrawing", params, exported, *flags)
    sketches = sample_sketches(opt.image_size, n)
    looks = [("mean look", None)]
    if mj.has_appearance:
        assert mo.has_appearance
        looks += [("seeded look", mj.random_codes(7, 1, len(sketches))),
                  ("photo look", mj.appearance_codes(photos(opt.image_size, len(sketches))))]
        codes_o = mo.appearance_codes(photos(opt.image_size, len(sketches)))
        assert np.abs(codes_o - looks[-1][1]).max() < 1e-4
        assert np.array_equal(mo.random_codes(7, 1, 2), looks[1][1][:2])
    for what, codes in looks:
        a = mj.convert(sketches, opt.k, opt.refine_by_part, "all", shadows, codes)
        b = mo.convert(sketches, opt.k, opt.refine_by_part, "all", shadows, codes)
        within_one_grey(differences(a["images"], b["images"]), f"{params} faces, {what}")
        if shadows and a["shadows"] is not None:
            within_one_grey(differences(a["shadows"], b["shadows"]), f"{params} shadows")
        for p, (idx, _) in a["neighbours"].items():
            assert np.array_equal(idx, b["neighbours"][p][0]), p
    return mj, mo


@pytest.fixture(scope="module")
def dfd_bundled(tmp_path_factory):
    return export(os.path.join(ROOT, "params", "default"), tmp_path_factory.mktemp("dfd"))


def test_bundled_deepfacedrawing_matches_jittor(dfd_bundled):
    compare_dfd(os.path.join(ROOT, "params", "default"), dfd_bundled)


def test_the_export_is_complete_checked_and_described(dfd_bundled):
    with open(os.path.join(dfd_bundled, "manifest.json")) as f:
        m = json.load(f)
    assert m["method"] == "deepfacedrawing" and m["sizes"]["image_size"] == 128
    names = {f"{kind}_{p}" for kind in ("encoder", "decoder", "fm")
             for p in ("eye1", "eye2", "nose", "mouth", "remainder")} | {"generator", "appearance"}
    assert set(m["networks"]) == names
    assert m["components"]["boxes"]["eye1"] == [27, 39, 32]
    assert m["components"]["paste_order"] == ["mouth", "nose", "eye1", "eye2"]
    # the bundled model's banks: one for all faces (trained without gender
    # attributes) or one per gender, as its AE_whole folder holds them
    ae = os.path.join(ROOT, "params", "default", "AE_whole")
    genders = {"male", "female"} if os.path.isfile(os.path.join(ae, "female_eye1_feature.bin")) \
        else {"all"}
    assert set(m["banks"]["eye1"]) == genders
    assert m["options"]["upsample"] == "resize" and "image_size" in m["arch_keys"]
    from models.onnx_runtime.manifest import sha256_file
    for rel, entry in m["files"].items():
        path = os.path.join(dfd_bundled, rel)
        assert os.path.getsize(path) == entry["bytes"] and sha256_file(path) == entry["sha256"]
        if rel.endswith(".onnx"):
            onnx.checker.check_model(path, full_check=True)
    assert json.load(open(os.path.join(dfd_bundled, "config.json")))["method"] == "deepfacedrawing"


@pytest.fixture(scope="module")
def authors_layout(tmp_path_factory):
    """Random weights in the authors' Params layout (no config.json, one .npy
    bank per part) with their quirks (the identity 'LeakyReLU', BatchNorm
    with each sketch's statistics in the FM decoders), at the tiny size."""
    flags = ["--preset", "tiny", "--variant", "official", "--fm_sample_stats", "true"]
    params = tmp_path_factory.mktemp("Params")
    assert run_script("scripts/make_random_params.py",
                      flags + ["--out", str(params), "--no_config", "--single_bank",
                               "--bank_format", "npy", "--bank_size", "30", "--seed", "5"]) == 0
    return str(params), flags


@pytest.mark.slow
def test_authors_layout_with_their_quirks_matches_jittor(authors_layout, tmp_path):
    params, flags = authors_layout
    out = export(params, tmp_path / "onnx", *flags)
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["options"]["variant"] == "official" and m["options"]["fm_sample_stats"] is True
    assert set(m["banks"]["remainder"]) == {"all"}
    fm = onnx.load(os.path.join(out, "fm_eye1.onnx"))
    assert "InstanceNormalization" in {n.op_type for n in fm.graph.node}   # sample statistics
    compare_dfd(params, out, *flags)


@pytest.mark.parametrize("ablation", ["whole_face", "pix2pixhd"])
def test_ablation_pipelines_match_jittor(ablation, tmp_path):
    params = str(tmp_path / "params")
    assert run_script("scripts/make_random_params.py",
                      ["--preset", f"tiny+ablations/{ablation}", "--out", params,
                       "--bank_size", "20", "--seed", "2"]) == 0
    out = export(params, tmp_path / "onnx")
    compare_dfd(params, out)


@pytest.mark.slow
def test_demo_with_the_onnx_backend_writes_what_jittor_writes(dfd_bundled, tmp_path):
    """demo.py end to end, both backends, seeded looks and shadows."""
    common = ["--input", TEST_INPUT, "--shadow", "--n_outputs", "2", "--appearance_seed", "3"]
    a, b = tmp_path / "jittor", tmp_path / "onnx"
    assert run_script("demo.py", common + ["--output", str(a)]) == 0
    assert run_script("demo.py", common + ["--params", dfd_bundled, "--output", str(b)]) == 0
    assert sorted(os.listdir(a)) == sorted(os.listdir(b))
    for name in os.listdir(a):
        within_one_grey(differences(Image.open(a / name), Image.open(b / name)), name)


# ================================================================ the sketch embedding
def sp_labels(model, opt, n=6):
    from models.sp_embedding import inputs
    files = sorted(glob.glob(os.path.join(TEST_INPUT, "*.png")))[:n]
    return np.stack([inputs.read_sketch(f, opt, model.labeler)[0] for f in files])


def compare_sp(params, exported, *flags, n=6):
    from models.sp_embedding import inputs
    mj, mo, opt = both_backends("sp_embedding", params, exported, *flags)
    labels = sp_labels(mj, opt, n)
    assert np.array_equal(labels, sp_labels(mo, opt, n))       # the same stroke labels
    assert type(mo.labeler).__name__.replace("Onnx", "Network") == type(mj.labeler).__name__
    n = len(labels)
    looks = np.stack([inputs.appearance_array(Image.fromarray(p), opt.encoder_size)
                      for p in photos(2 * opt.encoder_size, n)])
    z = mj.random_z(4, n, 1)
    assert np.array_equal(z, mo.random_z(4, n, 1))
    cases = [("seeded look", dict(z=z)), ("photo look", dict(appearance=looks)),
             ("style mixing", dict(appearance=looks, mix=(mj.random_z(4, n, 1000),
                                                          [1, opt.n_latent - 1], 0.5)))]
    for what, kw in cases:
        fa, ca = mj.convert(labels, **kw)
        fb, cb = mo.convert(labels, **kw)
        assert np.abs(ca - cb).max() <= 1e-3 * max(1.0, np.abs(ca).max()), what
        within_one_grey(differences(fa, fb), f"{params}: {what}")
    return mj, mo


@pytest.fixture(scope="module")
def sp_bundled(tmp_path_factory):
    return export(os.path.join(ROOT, "params", "sp_embedding"), tmp_path_factory.mktemp("sp"))


def test_bundled_sketch_embedding_matches_jittor(sp_bundled):
    m = json.load(open(os.path.join(sp_bundled, "manifest.json")))
    assert set(m["networks"]) == {"encoder_sketch_coarse", "encoder_sketch_fine",
                                  "encoder_face_fine", "mapping", "generator", "labeler"}
    assert m["networks"]["generator"]["inputs"] == [["wplus", ["batch", 10, 96]]]
    # E_s gives the rows below the break layer (6), E_a the other 4
    assert m["networks"]["encoder_sketch_fine"]["outputs"] == [["wplus", ["batch", 6, 96]]]
    assert m["networks"]["encoder_face_fine"]["outputs"] == [["wplus", ["batch", 4, 96]]]
    assert len(m["noise_maps"]) == 9
    mj, mo = compare_sp(os.path.join(ROOT, "params", "sp_embedding"), sp_bundled)
    # an export made before (every row from both encoders) composes the same codes
    b, n = mo.opt.break_layer, mo.opt.n_latent
    rows = {"encoder_sketch_fine": (0, b), "encoder_face_fine": (b, n)}
    labels = sp_labels(mj, mo.opt, 2)
    photo = np.zeros((2, 3, mo.opt.encoder_size, mo.opt.encoder_size), np.float32)
    want = mo.encode(labels, photo)
    for name, (start, stop) in rows.items():
        own = mo.model.networks[name]

        def every_row(own=own, start=start, stop=stop, **feed):
            out = own(**feed)
            whole = np.full((out.shape[0], n, out.shape[2]), 1e3, np.float32)
            whole[:, start:stop] = out
            return whole
        mo.model.networks[name] = every_row
    np.testing.assert_array_equal(mo.encode(labels, photo), want)


@pytest.mark.slow
def test_authors_model_pt_matches_jittor(tmp_path):
    """Random weights in the authors' model.pt format (tiny shapes): no stroke
    labeller in it, so plain sketches are labelled by regions."""
    pt = str(tmp_path / "model.pt")
    assert run_script("scripts/make_random_params.py",
                      ["--method", "sp_embedding", "--preset", "tiny", "--out", pt,
                       "--seed", "4"]) == 0
    out = export(pt, tmp_path / "onnx")
    assert "labeler" not in json.load(open(os.path.join(out, "manifest.json")))["networks"]
    assert os.path.isfile(os.path.join(out, "label_prior.png"))
    compare_sp(pt, out)


@pytest.mark.slow
def test_large_networks_keep_their_weights_in_external_data(tmp_path):
    """Over --external_data_mb a network's weights go to NAME.onnx.data (ONNX's
    external data, for the files over 2 GB of the authors' sizes)."""
    params = str(tmp_path / "sp")
    assert run_script("scripts/make_random_params.py",
                      ["--method", "sp_embedding", "--preset", "tiny", "--out", params,
                       "--seed", "6"]) == 0
    out = export(params, tmp_path / "onnx", "--external_data_mb", "0.5")
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["networks"]["encoder_sketch_fine"]["external_data"] == "encoder_sketch_fine.onnx.data"
    assert m["networks"]["mapping"]["external_data"] is None          # a small one stays whole
    graph = os.path.join(out, "encoder_sketch_fine.onnx")
    assert os.path.getsize(graph) < 0.2 * os.path.getsize(graph + ".data")
    onnx.checker.check_model(graph, full_check=True)
    compare_sp(params, out)


# ================================================================ without Jittor
NO_JITTOR = ("raise ImportError('this test process has no Jittor')\n")


@pytest.fixture(scope="module")
def jittorless(tmp_path_factory):
    """An environment where `import jittor` (and scipy, absent from the
    runtime's install) fails."""
    shim = tmp_path_factory.mktemp("shim")
    for name in ("jittor", "scipy"):
        (shim / name).mkdir()
        (shim / name / "__init__.py").write_text(NO_JITTOR.replace("Jittor", name))
    env = dict(os.environ, PYTHONPATH=f"{shim}{os.pathsep}{ROOT}", OMP_NUM_THREADS="1")
    return env


def run_demo(env, *argv):
    return subprocess.run([sys.executable, os.path.join(ROOT, "demo.py"), *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)


def test_the_runtime_imports_no_jittor(jittorless):
    code = ("import sys\n"
            "import models.onnx_runtime.dfd, models.onnx_runtime.sp, models.methods\n"
            "import models.deepfacedrawing.job, models.sp_embedding.job, options.test_options\n"
            "import models.deepfacedrawing.inference, models.sp_embedding.inference\n"
            "print(sorted(m for m in ('jittor', 'scipy', 'onnx', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=jittorless,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("method", ["deepfacedrawing", "sp_embedding"])
def test_test_input_converts_where_jittor_cannot_be_imported(method, jittorless, dfd_bundled,
                                                             sp_bundled, tmp_path):
    exported = dfd_bundled if method == "deepfacedrawing" else sp_bundled
    out = tmp_path / "out"
    res = run_demo(jittorless, "--backend", "onnx", "--params", exported, "--output", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "ONNX Runtime" in res.stderr and "converted 12, skipped 0" in res.stdout
    ref = tmp_path / "ref"                          # the Jittor path, in this process
    bundled = os.path.join(ROOT, "params", "default" if method == "deepfacedrawing"
                           else "sp_embedding")
    assert run_script("demo.py", ["--method", method, "--params", bundled,
                                  "--output", str(ref)]) == 0
    names = sorted(os.listdir(ref))
    assert names == sorted(os.listdir(out)) and len(names) == 12
    a = np.stack([np.asarray(Image.open(ref / n)) for n in names])
    b = np.stack([np.asarray(Image.open(out / n)) for n in names])
    within_one_grey(differences(a, b), f"demo.py test_input/, {method}")


def test_errors_are_one_line_with_the_jittor_exit_codes(jittorless, dfd_bundled, tmp_path):
    sketch = tmp_path / "in"
    sketch.mkdir()
    face_sketch(128).save(sketch / "a.png")
    (sketch / "b.png").write_text("not an image")
    ok = run_demo(jittorless, "--params", dfd_bundled, "--input", str(sketch),
                  "--output", str(tmp_path / "o"))
    assert ok.returncode == 1 and "b.png: not an image" in ok.stderr       # skipped, goes on
    assert "converted 1, skipped 1" in ok.stdout
    plain = run_demo(jittorless, "--backend", "onnx", "--params",
                     os.path.join(ROOT, "params", "default"), "--input", str(sketch / "a.png"),
                     "--output", str(tmp_path / "o2"))
    assert plain.returncode == 2
    assert plain.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "manifest.json: not found" in plain.stderr and "export_onnx.py" in plain.stderr
    broken = tmp_path / "broken"
    shutil.copytree(dfd_bundled, broken)
    with open(broken / "generator.onnx", "r+b") as f:
        f.truncate(1000)
    res = run_demo(jittorless, "--params", str(broken), "--input", str(sketch / "a.png"),
                   "--output", str(tmp_path / "o3"))
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "generator.onnx" in last and "truncated" in last
    assert "Traceback" not in res.stderr


def test_the_jittor_backend_refuses_an_exported_folder(dfd_bundled, tmp_path, capsys):
    rc = run_script("demo.py", ["--backend", "jittor", "--params", dfd_bundled,
                                "--input", os.path.join(TEST_INPUT, "face0.png"),
                                "--output", str(tmp_path / "o")])
    assert rc == 2 and "--backend onnx" in capsys.readouterr().err


def test_changed_architecture_flags_are_refused(dfd_bundled, tmp_path, capsys):
    rc = run_script("demo.py", ["--params", dfd_bundled, "--upsample", "transpose",
                                "--input", os.path.join(TEST_INPUT, "face0.png"),
                                "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "exported with upsample=resize" in err


# ================================================================ layers
def run_graph(build, shape, **feeds):
    from models.onnx_export.graph import Graph
    g = Graph("layer")
    out = build(g, *[g.input(k, v.shape) for k, v in feeds.items()])
    g.output(out, "y", shape)
    model = g.model()
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v.astype(np.float32) for k, v in feeds.items()})[0]


@pytest.mark.parametrize("up,down,pads", [(1, 1, (2, 1)), (2, 1, (2, 1)), (1, 2, (1, 1)),
                                          (2, 2, (0, 3))])
def test_fir_filter_is_stylegan2s_upfirdn2d(up, down, pads):
    from models.onnx_export import ops
    from models.sp_embedding.stylegan2 import make_kernel, upfirdn2d
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    k = make_kernel([1, 3, 3, 1])
    from models.base_model import jt
    want = upfirdn2d(jt.array(x), k, up, down, pads).numpy()
    got = run_graph(lambda g, v: ops.upfirdn2d(g, v, k.numpy(), 3, up, down, pads),
                    want.shape, x=x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["plain", "upsample", "downsample", "no_demodulation"])
def test_modulated_convolution_matches_the_module(kind):
    from models.base_model import jt
    from models.onnx_export.emitters import emit
    from models.sp_embedding.stylegan2 import ModulatedConv2d
    jt.set_global_seed(1)
    conv = ModulatedConv2d(4, 6, 3, 8, demodulate=kind != "no_demodulation",
                           upsample=kind == "upsample", downsample=kind == "downsample")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    style = rng.standard_normal((2, 8)).astype(np.float32)
    want = conv(jt.array(x), jt.array(style)).numpy()
    got = run_graph(lambda g, v, s: emit(g, conv, v, style=s), want.shape, x=x, style=style)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_an_unknown_layer_or_training_mode_is_an_error_not_a_guess():
    from models.base_model import jt
    from models.layers import BatchNorm2d
    from models.onnx_export.emitters import ExportError, emit
    from models.onnx_export.graph import Graph

    class Odd(jt.nn.Module):
        def execute(self, x):
            return x * 2

    g = Graph("odd")
    with pytest.raises(ExportError, match="no ONNX emitter for .*Odd"):
        emit(g, Odd(), g.input("x", (1, 2)))
    bn = BatchNorm2d(3)
    bn.train()
    with pytest.raises(ExportError, match="training mode"):
        emit(g, bn, g.input("y", (1, 3, 4, 4)))


def test_export_refuses_bad_arguments(tmp_path, capsys):
    assert run_script("scripts/export_onnx.py", ["--params", str(tmp_path / "none"),
                                                 "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert run_script("scripts/export_onnx.py", ["--out", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err


# ================================================================ the authors' sizes (opt-in)
@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="the authors' sizes: set DFD_SLOW_TESTS=1")
def test_official_deepfacedrawing_matches_jittor(tmp_path):
    params = str(tmp_path / "Params")
    assert run_script("scripts/make_random_params.py",
                      ["--preset", "official", "--out", params, "--no_config",
                       "--bank_size", "40"]) == 0
    out = export(params, tmp_path / "onnx", "--no_verify")
    compare_dfd(params, out, shadows=False, n=2)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="the authors' sizes: set DFD_SLOW_TESTS=1")
def test_official_sketch_embedding_matches_jittor(tmp_path):
    from tests.sp_files import write_authors_file
    pt = str(tmp_path / "model.pt")
    write_authors_file(pt, width=1, seed=0)
    out = export(pt, tmp_path / "onnx", "--no_verify")
    sizes = json.load(open(os.path.join(out, "manifest.json")))["sizes"]
    assert sizes["output_size"] == 1024 and sizes["n_latent"] == 18
    compare_sp(pt, out, n=2)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="the authors' layout at a quarter width: DFD_SLOW_TESTS=1")
def test_authors_sketch_embedding_structure_at_a_quarter_width(tmp_path):
    """The authors' model.pt layout (IR-SE-50, 18 W+ rows, a 1024 generator
    with its 17 noise maps) at a sixteenth of the parameters: about a minute."""
    from tests.sp_files import write_authors_file
    pt = str(tmp_path / "model.pt")
    write_authors_file(pt, width=0.25, seed=0)
    out = export(pt, tmp_path / "onnx")
    assert len(json.load(open(os.path.join(out, "manifest.json")))["noise_maps"]) == 17
    compare_sp(pt, out, n=1)
