"""Bounds on what a pickle read from a file may make Python build.

The restricted unpicklers (``models/files.py``, ``models/torch_file.py``)
already refuse every class but arrays and plain containers; these checks
bound the memory the remaining opcodes can claim, whatever the file says:

* ``check_opcodes``, before unpickling: every opcode is parsed (a record
  that claims more bytes than the data holds is refused) and no memo slot
  may lie beyond the number of opcodes read so far (a 10-byte pickle asking
  for memo slot 2**27 makes the unpickler allocate 2 GB);
* ``check_tree``, after: the object, walked as a tree (a list referenced
  twice counts twice, as any code copying it would), holds at most
  ``MAX_OBJECTS`` items nested at most ``MAX_DEPTH`` deep, so shared lists
  (a DAG that doubles at every level) or a cycle cannot expand later.
"""

import pickletools

MAX_OBJECTS = 1_000_000      # containers, keys and values, counted as a tree
MAX_DEPTH = 64               # nesting of containers
_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


class PickleLimitError(ValueError):
    """A pickle that would make the reader build more than the limits allow."""


def check_opcodes(data):
    """Parse every opcode of the pickle in ``data`` (bytes or a binary file
    positioned at its start; read up to its STOP). PickleLimitError for a
    memo slot beyond what was read, ValueError for a damaged pickle."""
    for count, (op, arg, _pos) in enumerate(pickletools.genops(data), 1):
        if op.name in _PUTS and not 0 <= arg <= count:
            raise PickleLimitError(f"a pickle asking for memo slot {arg:,} after {count} "
                                   f"opcodes")


def check_tree(obj, max_objects=MAX_OBJECTS, max_depth=MAX_DEPTH):
    """PickleLimitError when ``obj``, walked as a tree, holds more than
    ``max_objects`` items or nests deeper than ``max_depth``."""
    stack, count = [(obj, 0)], 1
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = [x for item in node.items() for x in item]
        elif isinstance(node, (list, tuple, set, frozenset)):
            children = node
        else:
            continue
        if not children:
            continue
        if depth >= max_depth:
            raise PickleLimitError(f"containers nested more than {max_depth} deep")
        count += len(children)
        if count > max_objects:
            raise PickleLimitError(f"more than {max_objects:,} objects once shared containers "
                                   f"are expanded")
        stack.extend((child, depth + 1) for child in children)
