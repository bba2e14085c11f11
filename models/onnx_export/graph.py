"""A small ONNX graph builder over ``onnx.helper``: named inputs and
outputs, constants (initializers, named after the parameters they hold),
operators, and a scope of module names so that every node and initializer
of an exported network says which layer of ours it comes from
(``body.3.res_layer.1.weight``).

The batch axis is symbolic (``batch``); every other size is fixed when the
graph is built (the networks are built for one resolution). The graphs use
opset 17 and IR version 8, which onnxruntime reads from version 1.13 on.
"""

import contextlib

import numpy as np

OPSET = 17
IR_VERSION = 8
BATCH = "batch"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install -e '.[onnx]'") \
            from None
    return onnx


class Graph:
    """One network's graph under construction.

    ``op(type, *inputs, **attributes)`` adds a node and returns the name of
    its output (a list of names with ``outputs=n``); ``const(array)`` adds
    an initializer and returns its name; ``scope(name)`` prefixes the names
    made inside it."""

    def __init__(self, name):
        self.onnx = _onnx()
        self.name = name
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._used = set()
        self._scope = []
        self._small = {}            # (dtype, shape, bytes) -> name of a small constant

    # -------------------------------------------------------------- names
    @contextlib.contextmanager
    def scope(self, name):
        self._scope.append(str(name))
        try:
            yield
        finally:
            self._scope.pop()

    def fresh(self, hint):
        base = ".".join(self._scope + [hint]) if self._scope else hint
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    # -------------------------------------------------------------- values
    def input(self, name, shape, dtype=np.float32):
        """A graph input of ``shape`` (``BATCH`` for the batch axis)."""
        onnx = self.onnx
        self._used.add(name)
        self.inputs.append(onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), list(shape)))
        return name

    def output(self, value, name, shape=None, dtype=np.float32):
        """Make ``value`` the graph output ``name`` (of ``shape``; None: not
        declared)."""
        onnx = self.onnx
        value = self.op("Identity", value, name=name) if value != name else value
        self.outputs.append(onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
            None if shape is None else list(shape)))
        return name

    def const(self, array, hint="const", dtype=None):
        """An initializer holding ``array`` (float32 unless it is an integer
        array or ``dtype`` says otherwise). Small constants are shared."""
        arr = np.asarray(array)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype.kind in "iub":
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float32)
        arr = np.array(arr, order="C")        # (ascontiguousarray would make a 0-d array 1-d)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._small:
                return self._small[key]
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        if key is not None:
            self._small[key] = name
        return name

    def ints(self, values):
        """An int64 constant (shapes, axes, pads, indices)."""
        return self.const(np.asarray(values, np.int64), "ints")

    def scalar(self, value):
        """A float32 scalar constant."""
        return self.const(np.float32(value), "scalar")

    # -------------------------------------------------------------- nodes
    def op(self, op_type, *inputs, outputs=1, name=None, **attrs):
        outs = [name] if name and outputs == 1 else \
            [self.fresh(f"{op_type}_out{i}" if outputs > 1 else op_type) for i in range(outputs)]
        if name:
            self._used.add(name)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(
            op_type, [i if i is not None else "" for i in inputs], outs,
            name=self.fresh(f"{op_type}_node"), **attrs))
        return outs[0] if outputs == 1 else outs

    # -------------------------------------------------------------- the model
    def model(self, doc=""):
        """The ModelProto (opset ``OPSET``, IR ``IR_VERSION``)."""
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  self.initializers, doc_string=doc)
        model = helper.make_model(graph, producer_name="deepfacedrawing-export",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        return model

    def parameter_count(self):
        """Elements of the float initializers (the weights, the noise maps,
        the fixed filters; not the shapes and indices)."""
        onnx = self.onnx
        return int(sum(int(np.prod(t.dims)) for t in self.initializers
                       if t.data_type == onnx.TensorProto.FLOAT))
