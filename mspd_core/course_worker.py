"""The process a course answer runs in when it is graded (started by :mod:`mspd_core.course_sandbox`).

Run as a script (``python -I course_worker.py``), never imported: it imports only the standard library,
NumPy and torch. Before the student's cell runs, the companion (``mspd_core``: its solution functions
and the grader's references), otter-grader and the course tests are made unimportable, the protocol
moves off stdout (a ``print`` in the answer goes to stderr) and the working folder is an empty
temporary one. The answer cell is executed in a namespace holding ``torch``, ``np``, ``F`` and, for a
later exercise, proxies of the earlier exercises' reference functions: calling one runs the reference
in the grading process (:mod:`mspd_core.course_sandbox`), so no reference code is ever in here.

Protocol (length-prefixed frames): the grader sends pickles (it is the trusted side); this process
answers with ``torch.save`` frames that the grader reads with ``weights_only=True`` (tensors, numbers,
strings, lists, tuples, dicts only), so nothing sent from here can run code in the grader.
"""
import io
import os
import pickle
import struct
import sys

BLOCKED = ("mspd_core", "otter", "tests", "course", "grading", "grade_class", "scripts")


def _read_exact(stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the grader closed the pipe")
        data += chunk
    return data


def main() -> None:
    protocol_out = os.fdopen(os.dup(1), "wb")
    protocol_in = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)  # the answer's prints (Python's and C's) go to stderr
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = sys.stderr

    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    for name in BLOCKED:
        sys.modules[name] = None  # `import mspd_core` (or any of its modules) now raises ImportError

    def send(message) -> None:
        buffer = io.BytesIO()
        torch.save(message, buffer)
        data = buffer.getvalue()
        protocol_out.write(struct.pack("<Q", len(data)) + data)
        protocol_out.flush()

    def receive():
        (size,) = struct.unpack("<Q", _read_exact(protocol_in, 8))
        return pickle.loads(_read_exact(protocol_in, size))  # noqa: S301 - from the grading process

    def outgoing(value):
        """What the grader may receive: tensors (detached, plain), numbers, strings, containers of them."""
        if isinstance(value, torch.Tensor):
            return value.detach().clone().as_subclass(torch.Tensor)
        if isinstance(value, np.ndarray):
            return torch.from_numpy(np.array(value))
        if isinstance(value, np.generic):
            return value.item()
        for kind in (bool, int, float, str):  # exactly these types (np.float64 is a float subclass)
            if isinstance(value, kind):
                return kind(value)
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return type(value)(outgoing(v) for v in value)
        if callable(value) and hasattr(value, "grader_key"):  # a function the grader handed in: it stays there
            return ("__callback__", value.grader_key)
        raise TypeError(f"the grader's functions take tensors and numbers, not {type(value).__name__}")

    def callback(key):
        def call(*args):
            send({"kind": "call", "key": key, "args": outgoing(list(args))})
            reply = receive()
            if reply["kind"] == "raise":
                raise RuntimeError(reply["message"])
            return reply["value"]
        call.__name__ = str(key)
        call.grader_key = key
        return call

    def incoming(value):
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "__callback__":
            return callback(value[1])
        return value

    setup = receive()
    os.chdir(setup["folder"])
    namespace = {"__name__": "__answer__", "torch": torch, "np": np, "F": F}
    for name in setup["references"]:
        namespace[name] = callback(name)
    try:
        exec(compile(setup["source"], "<your answer cell>", "exec"), namespace)  # noqa: S102 - the point of this process
    except BaseException as err:  # noqa: BLE001 - reported to the grader, which fails the exercise
        send({"kind": "setup-error", "type": type(err).__name__, "message": str(err)})
        return
    fn = namespace.get(setup["name"])
    if not callable(fn):
        send({"kind": "setup-error", "type": "NameError", "message": f"the cell defines no function `{setup['name']}`"})
        return
    import inspect

    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        parameters = []
    send({"kind": "ready", "parameters": parameters})
    while True:
        message = receive()
        if message["kind"] == "stop":
            return
        args = [incoming(a) for a in message["args"]]
        before = [a.detach().clone() if isinstance(a, torch.Tensor) else a.copy() if isinstance(a, np.ndarray) else None
                  for a in args]
        try:
            result = fn(*args)
        except NotImplementedError:
            send({"kind": "not-implemented"})
            continue
        except BaseException as err:  # noqa: BLE001 - the student's code crashed: the grader says how
            send({"kind": "raise", "type": type(err).__name__, "message": str(err)})
            continue
        changed = {}
        for i, (arg, snapshot) in enumerate(zip(args, before)):
            if isinstance(arg, torch.Tensor) and not (arg.shape == snapshot.shape and torch.equal(arg.detach(), snapshot)):
                changed[i] = outgoing(arg)
            elif isinstance(arg, np.ndarray) and not np.array_equal(arg, snapshot):
                changed[i] = outgoing(arg)
        try:
            value = {"kind": "result", "value": outgoing(result), "changed": changed}
        except TypeError:
            value = {"kind": "result", "other": type(result).__name__, "changed": changed}
        send(value)


if __name__ == "__main__":
    main()
