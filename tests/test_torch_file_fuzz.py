"""The PyTorch file reader against crafted files (``tests/torch_corpus.py``,
written at test time) and a seeded mutation fuzz of honest ones.

Every file is read in a child process under a 1.5 GB address-space limit
(a file that still made the reader allocate gigabytes, or read outside a
buffer, ends the child, not the test run): whole (``read_torch_file``, as
the VGG, Inception and LPIPS loaders read) and tensor by tensor
(``TorchArchive``, as the sketch embedding's loaders read), both with a
64 MB budget, as for a small model. A crafted file must be refused with
one line naming it, never by running out of memory; an honest one must
read; the child's peak memory stays small."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.torch_corpus import CASES, MB, write_corpus

CHILD_LIMIT = 1536 * MB
PEAK_RSS_MB = 500
MUTANTS = 300

CHILD = r"""
import json, os, random, resource, sys
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, sys.argv[1])
from models.torch_file import TorchArchive, TorchFileError, is_tensor, read_torch_file

BUDGET = 64 * 2 ** 20


def tensors(root):
    found, stack, steps = {}, [root], 0
    while stack and steps < 10 ** 6:
        node, steps = stack.pop(), steps + 1
        if is_tensor(node):
            found[id(node)] = node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return list(found.values())


def outcome(path):
    results = []
    try:
        read_torch_file(path, BUDGET)
        results.append("read")
    except TorchFileError as exc:
        results.append("refused: " + str(exc))
    except BaseException as exc:
        results.append(f"crashed: {type(exc).__name__}: {exc}"[:300])
    try:
        with TorchArchive(path, BUDGET) as archive:
            for tensor in tensors(archive.root):
                archive.read(tensor)
        results.append("read")
    except TorchFileError as exc:
        results.append("refused: " + str(exc))
    except BaseException as exc:
        results.append(f"crashed: {type(exc).__name__}: {exc}"[:300])
    return results


corpus = json.loads(sys.argv[2])
report = {}
for name, path in corpus.items():
    print("case", name, file=sys.stderr, flush=True)
    report[name] = outcome(path)
mutants = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
rng = random.Random(20240612)
for name, (path, count) in mutants.items():
    blob = open(path, "rb").read()
    out = path + ".mutant"
    for k in range(count):
        data = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            data[at] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        open(out, "wb").write(bytes(data))
        print("mutant", name, k, file=sys.stderr, flush=True)
        report[f"{name}#{k}"] = outcome(out)
# VmHWM: this process's own peak (ru_maxrss keeps the parent's size at the fork)
with open("/proc/self/status") as f:
    report["peak_rss_mb"] = [int(line.split()[1]) / 1024 for line in f
                             if line.startswith("VmHWM")][0]
print(json.dumps(report))
"""


def run_child(corpus, mutants=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    args = [sys.executable, "-c", CHILD, ROOT, json.dumps(corpus), str(CHILD_LIMIT)]
    if mutants:
        args.append(json.dumps(mutants))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    last = proc.stderr.strip().splitlines()[-1:] or ["(nothing)"]
    assert proc.returncode == 0, (f"the reader ended its process (status {proc.returncode}) "
                                  f"at {last[0]}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(str(tmp_path_factory.mktemp("torch_corpus")))


def test_crafted_files_are_refused_in_one_line_within_bounded_memory(corpus):
    report = run_child({name: path for name, (path, _) in corpus.items()})
    for name, (path, expect) in corpus.items():
        for result in report[name]:
            if expect == "read":
                assert result == "read", (name, result)
                continue
            assert result.startswith(f"refused: {path}: "), (name, result)
            assert "\n" not in result and "MemoryError" not in result, (name, result)
    assert report["peak_rss_mb"] < PEAK_RSS_MB, report["peak_rss_mb"]


def test_the_corpus_covers_what_the_testers_found():
    names = {name for name, _, _ in CASES}
    for case in ("negative_stride", "minus_one_row", "stride_zero_bomb", "storage_bomb",
                 "table_bomb", "shared_lists", "memo_bomb"):
        assert case in names


def test_mutated_files_read_or_are_refused_never_crash(corpus):
    honest = {name: (corpus[name][0], MUTANTS // 2) for name in ("honest", "honest_legacy")}
    report = run_child({}, honest)
    outcomes = [r for key, results in report.items() if "#" in key for r in results]
    assert len(outcomes) == 2 * MUTANTS
    assert not [r for r in outcomes if r.startswith("crashed")], \
        [r for r in outcomes if r.startswith("crashed")][:5]
    assert sum(r.startswith("refused") for r in outcomes) > MUTANTS // 4    # the fuzz bites


def test_a_shared_storage_is_read_once(tmp_path, monkeypatch):
    """All tensors of a state dict in one storage (stored, then deflated):
    the storage is unpacked once, not once per tensor."""
    import zipfile

    from models.torch_file import TorchArchive, read_torch_file
    from tests.torch_corpus import shared_storage_file
    state = {f"layer{k}.weight": np.full((32, 32), k, np.float32) for k in range(50)}
    for compress in (False, True):
        path = str(tmp_path / f"shared{int(compress)}.pt")
        shared_storage_file(path, state, compress)
        reads = []
        real = zipfile.ZipFile.read

        def counting(self, name, pwd=None):
            reads.append(getattr(name, "filename", name))
            return real(self, name, pwd)
        monkeypatch.setattr(zipfile.ZipFile, "read", counting)
        with TorchArchive(path) as archive:
            for name, tensor in archive.root.items():
                np.testing.assert_array_equal(archive.read(tensor, name), state[name])
        assert sum(r.endswith("data/0") for r in reads) == 1, reads
        reads.clear()
        back = read_torch_file(path)
        assert sum(r.endswith("data/0") for r in reads) == 1, reads
        assert list(back) == list(state)
        monkeypatch.undo()
