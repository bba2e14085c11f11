"""Inference forwards replayed from a traced graph instead of rebuilt in Python.

Jittor builds its graph op by op in Python on every call and then schedules
and fuses it; at the bundled sizes that fixed cost is a third of a pass
(``docs/benchmarks.md``: 13 of DeepFaceDrawing's 38 ms at 128 px). Jittor
ships a graph cache, ``jittor/vcompiler``: trace a function once, keep the
scheduled and compiled graph, and run it again on new inputs of the same
shapes. Its source includes CUDA headers whatever the machine, so here it
is compiled for the CPU from the installed package's own file (without its
CUDA-only ``delay_fetch``), together with two functions of ours for the
two ways a replay went wrong: a constant made from a host array inside a
traced function (``jt.array``) hands its buffer to its output when it runs,
so from the second run on the graph read freed memory;
``materialize_constants`` runs those constants alone before the graph is
built (not with Jittor's default weak sync, which also ran values made
before them and froze them into the graph), and ``sgraph_leaves`` returns
every parameter and constant the graph reads, which the cache holds.

Use: a model whose weights no longer change (loaded for inference) gets a
``Replay`` (``enable(model)``); its forward methods call
``run(model, key, func, *inputs)``, which traces ``func`` on the second
call for each key and input shapes (when that plain call took under
``REPLAY_BELOW_S``: at the authors' sizes the graph's building is 1-2 % of
a call), checks the replay against the plain call, and from then on
replays it. Everything else (no replay enabled, a CUDA run,
``DFD_GRAPH_REPLAY=0``, a Jittor whose vcompiler source differs, a function
that syncs while traced, a replay that differs from the plain call) runs
the plain call; the reason is kept in ``status()``.

The weights are part of the traced graph: after changing a model's weights
call ``reset(model)`` (training never enables replay).
"""

import os
import re
import time
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from util.jittor_env import get_jittor

jt = get_jittor()

ENV = "DFD_GRAPH_REPLAY"          # "0": always the plain call
MAX_GRAPHS = 16                   # traced graphs kept per model (input shapes vary)
TOLERANCE = 1e-4                  # replay against the plain call, relative to its largest value
REPLAY_BELOW_S = 0.25             # plain calls slower than this are not replayed
SEEN = "seen once"                # a slot's state after its first (plain) call

_EXTRA_SRC = r"""
#include <cstring>
#include <unordered_set>
#include "var_holder.h"
#include "vcompiler.h"
namespace jittor {
// Constants made from host arrays while tracing (jt.array): an array op
// moves its buffer into its output when it runs, so a replayed graph would
// read freed memory from the second run on. Run them now: they become
// finished variables, leaves of the graph (scalars are fused into kernels
// and stay as they are).
vector<VarHolder*> materialize_constants(const vector<VarHolder*>& outputs) {
    vector<Node*> queue;
    unordered_set<Node*> seen;
    for (auto* vh : outputs)
        if (!vh->var->is_finished() && seen.insert(vh->var).second)
            queue.push_back(vh->var);
    vector<VarHolder*> found;
    for (size_t i = 0; i < queue.size(); i++) {
        Node* node = queue[i];
        if (node->is_var()) {
            Var* v = node->var();
            Op* op = v->input();
            if (op && !std::strcmp(op->name(), "array") && !v->flags.get(NodeFlags::_force_fuse)) {
                found.push_back(new VarHolder(v));
                continue;
            }
        }
        for (auto in : node->_inputs)
            if (!in.node->is_finished() && seen.insert(in.node).second)
                queue.push_back(in.node);
    }
    if (!found.empty())
        sync(found, false, false);      // these alone (a weak sync would run more)
    return found;
}

// every variable the graph reads and does not compute (parameters,
// materialised constants), for the caller to hold
vector<VarHolder*> sgraph_leaves(SGraphPtr* sgraph) {
    vector<VarHolder*> out;
    unordered_set<Var*> seen;
    for (Node* node : sgraph->ptr->bfs_q) {
        if (node->is_var()) continue;
        for (Var* v : node->op()->inputs())
            if (v->is_finished() && seen.insert(v).second)
                out.push_back(new VarHolder(v));
    }
    return out;
}
}
"""
_EXTRA_DECL = """
// @pyjt(materialize_constants)
vector<VarHolder*> materialize_constants(const vector<VarHolder*>& outputs);

// @pyjt(sgraph_leaves)
vector<VarHolder*> sgraph_leaves(SGraphPtr* sgraph);
"""

_module = {"mod": None, "why": None, "tried": False}


class NotReplayable(RuntimeError):
    """A function whose traced graph cannot stand for its plain call."""


def _source_dir():
    return os.path.join(os.path.dirname(jt.__file__), "vcompiler")


def _cpu_sources():
    """Jittor's vcompiler source and header for a CPU build, or an exception
    naming what is not as expected."""
    src_dir = _source_dir()
    with open(os.path.join(src_dir, "vcompiler.cc")) as f:
        src = f.read()
    with open(os.path.join(src_dir, "vcompiler.h")) as f:
        header = f.read()
    cuda_includes = ("#include <cuda_fp16.h>\n", "#include <cuda_runtime.h>\n#include \"common.h\"")
    if any(inc not in src for inc in cuda_includes):
        raise NotReplayable(f"{src_dir}: not the vcompiler source this module knows")
    src = src.replace(cuda_includes[0], "").replace(cuda_includes[1], "#include \"common.h\"")
    cut = src.find("vector<VarHolder*> delay_fetch(")
    fetch_decl = header.find("// @pyjt(delay_fetch)")
    if cut < 0 or fetch_decl < 0:
        raise NotReplayable(f"{src_dir}: not the vcompiler source this module knows")
    src = src[:cut] + "\n}  // jittor (delay_fetch, CUDA only, left out)\n"
    header = header[:fetch_decl] + _EXTRA_DECL + "\n}\n"
    return src, header


def _load():
    """The compiled module (once per process; Jittor caches the build)."""
    if _module["tried"]:
        return _module["mod"]
    _module["tried"] = True
    try:
        import jittor.compiler as compiler
        import jittor_utils
        from jittor_utils import lock
        src, header = _cpu_sources()
        build = os.path.join(jt.flags.cache_path, "graph_replay")
        os.makedirs(build, exist_ok=True)
        files = []
        for name, text in (("vcompiler_cpu.cc", src), ("replay_extra.cc", _EXTRA_SRC)):
            path = os.path.join(build, name)
            old = open(path).read() if os.path.exists(path) else None
            if old != text:                       # unchanged files keep Jittor's build cache
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "w") as f:
                    f.write(text)
                os.replace(tmp, path)
            files.append(path)
        flags = f"{compiler.cc_flags} -I{_source_dir()} " + " ".join(files)
        with lock.lock_scope():
            _module["mod"] = jittor_utils.compile_module(header, flags)
    except Exception as e:                       # noqa: BLE001 - any failure means the plain call
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()[0]
        _module["why"] = f"the graph cache could not be built: {first[:200]}"
    return _module["mod"]


def available():
    """(True, None) when replay can run here, else (False, why)."""
    if os.environ.get(ENV, "1") == "0":
        return False, f"{ENV}=0"
    if jt.flags.use_cuda:
        return False, "CUDA runs the plain call"
    if _load() is None:
        return False, _module["why"]
    return True, None


def describe():
    """One line for reports: whether forwards are replayed here."""
    ok, why = available()
    return "forwards replayed from traced graphs" if ok else f"graphs rebuilt each call ({why})"


def _flat(out):
    """Output Var(s) -> (list of Vars, rebuild(list) -> the same structure)."""
    if isinstance(out, jt.Var):
        return [out], lambda vs: vs[0]
    if isinstance(out, (tuple, list)) and all(isinstance(v, jt.Var) for v in out):
        kind = type(out)
        return list(out), lambda vs: kind(vs)
    raise NotReplayable(f"outputs must be Vars or a tuple of Vars, not {type(out).__name__}")


class _Graph:
    """One traced graph of ``func`` for one set of input shapes."""

    def __init__(self, mod, func, inputs):
        self.mod = mod
        self.inputs = [v.clone() for v in inputs]      # the graph's own input variables
        jt.sync(self.inputs)
        runs = jt.flags.exec_called
        out = func(*self.inputs)
        if jt.flags.exec_called != runs:
            raise NotReplayable("the function ran Jittor's graph while it was traced")
        self.outputs, self.rebuild = _flat(out)
        constants = mod.materialize_constants(self.outputs)     # alive until the leaves hold them
        for v in self.outputs + self.inputs:
            v.release_from_holders()
        self.sgraph = mod.build_sgraph(self.outputs, self.inputs)
        self.leaves = mod.sgraph_leaves(self.sgraph)            # the constants among them
        del constants

    def __call__(self, inputs):
        return self.rebuild(self.mod.exec_sgraph(self.sgraph, inputs))


def _numpy(out):
    return [v.numpy() for v in _flat(out)[0]]


def _largest_gap(a, b):
    """The largest difference of ``b`` from ``a``, relative to ``a``'s largest
    value: infinite where only one of them is not finite (a NaN would compare
    as no gap at all), none where both hold the same non-finite value."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    finite = np.isfinite(a) & np.isfinite(b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if not (finite | same).all():
        return float("inf")
    if not finite.any():                 # empty, or non-finite alike on both sides
        return 0.0
    a, b = a[finite], b[finite]
    return float(np.abs(a - b).max() / (1.0 + np.abs(a).max()))


class Replay:
    """The traced graphs of one model with fixed weights.

    A function is traced on its second call for given input shapes (the
    first compiles Jittor's kernels and runs one-time set-ups such as
    materialising random weights), and only when that plain call took less
    than ``REPLAY_BELOW_S``: above it building the graph is a small part of
    the call (1-2 % at the authors' sizes) and the trace and its checks
    would cost more than replay saves."""

    def __init__(self):
        self.graphs = OrderedDict()     # slot -> _Graph, the reason it is not used, or SEEN
        self.notes = []

    def __call__(self, key, func, *inputs):
        ok, _ = available()
        if not ok or jt.flags.no_grad == 0:
            return func(*inputs)
        jt.sync(list(inputs))
        slot = (key,) + tuple((tuple(v.shape), str(v.dtype)) for v in inputs)
        graph = self.graphs.get(slot)
        if isinstance(graph, _Graph):
            self.graphs.move_to_end(slot)
            return graph(list(inputs))
        start = time.perf_counter()
        out = func(*inputs)
        if graph is None:                   # the first call
            self._keep(slot, SEEN)
        elif graph == SEEN:
            try:
                plain = _numpy(out)         # also waits for the call to finish
            except NotReplayable as e:
                self._keep(slot, f"{slot[0]}: {e}")
                return out
            took = time.perf_counter() - start
            if took < REPLAY_BELOW_S:
                self._keep(slot, self._trace(slot, func, inputs, plain))
            else:
                self._keep(slot, f"{slot[0]}: a call takes {took:.2f} s, replay would save "
                                 "little", note=False)
        return out

    def _keep(self, slot, what, note=True):
        if isinstance(what, str) and what != SEEN and note:
            self.notes.append(what)
        self.graphs[slot] = what
        while len(self.graphs) > MAX_GRAPHS:
            self.graphs.popitem(last=False)

    def _trace(self, slot, func, inputs, plain):
        """Trace ``func`` for ``slot`` and check it against the plain call
        (``plain``, its outputs on ``inputs``): on ``inputs`` twice (memory
        freed under the graph would show in the second), and on the inputs
        flipped along their last axis (a value computed once and kept,
        where it should follow the inputs, would show there). The graph, or
        the reason it is not used."""
        try:
            graph = _Graph(_module["mod"], func, inputs)
            flipped = [v[..., ::-1].clone() for v in inputs]     # other values, same domain
            jt.sync(flipped)
            for xs, want in ((inputs, plain), (inputs, plain), (flipped, _numpy(func(*flipped)))):
                gap = max(_largest_gap(p, r) for p, r in zip(want, _numpy(graph(list(xs)))))
                if gap > TOLERANCE:
                    raise NotReplayable(f"its replay differs from the plain call by {gap:.2g}")
        except NotReplayable as e:
            return f"{slot[0]}: {e}"
        return graph

    def status(self):
        """{"replayed": n graphs, "plain": [reasons]} for notes and tests."""
        ok, why = available()
        used = sum(isinstance(g, _Graph) for g in self.graphs.values())
        return {"available": ok, "why": why, "replayed": used, "plain": list(self.notes)}


@contextmanager
def rebuilt():
    """Within it every call is the plain one (as with ``DFD_GRAPH_REPLAY=0``)."""
    old = os.environ.get(ENV)
    os.environ[ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = old


def enable(model):
    """Replay ``model``'s forwards from now on (its weights are final)."""
    model._graph_replay = Replay()
    return model._graph_replay


def reset(model):
    """Forget the traced graphs (after the weights changed)."""
    if getattr(model, "_graph_replay", None) is not None:
        enable(model)


def run(model, key, func, *inputs):
    """``func(*inputs)``: replayed when ``model`` has replay enabled. Inputs
    are Vars; ``key`` names the function and everything besides the
    inputs' shapes that changes its graph."""
    replay = getattr(model, "_graph_replay", None)
    if replay is None:
        return func(*inputs)
    return replay(key, func, *inputs)
