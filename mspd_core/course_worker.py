"""The process a course answer runs in when it is graded (started by :mod:`mspd_core.course_sandbox`).

Run as a script (``python -I course_worker.py``), never imported: it imports only the standard library,
NumPy, SciPy and torch. Before the student's cell runs:

- the protocol moves off stdout (a ``print`` in the answer goes to stderr) and the working folder is an
  empty temporary one;
- the companion (``mspd_core``: its solution functions and the grader's references), otter-grader and the
  course tests are marked unimportable, and what an answer may use is imported and warmed up;
- as root (Gradescope, a container), the process becomes user ``nobody`` with no new processes or threads
  (``RLIMIT_NPROC`` 0), bounded CPU time and file size (:func:`drop_privileges`): the operating system then
  keeps the answer from the grader's files and processes whatever happens inside Python;
- an audit hook (:pep:`578`; it cannot be removed from Python code, and its settings live in its closure)
  refuses, for the rest of the process: importing any module not already loaded; ``compile``/``exec``/``eval``
  (but the one ``exec`` of the cell); opening files outside Python's own installation (writing outside the
  temporary folder); processes, signals, sockets, ``ctypes``, ``mmap``, directory listings; frame,
  garbage-collector and code-object introspection; and unpickling anything but torch's, NumPy's and
  ``collections``' types. Not every way out raises an audit event (``_posixsubprocess.fork_exec`` does not):
  the hook is a second layer, the other user the boundary.

The answer cell is executed in a namespace holding ``torch``, ``np``, ``F`` and, for a later exercise,
proxies of the earlier exercises' reference functions: calling one runs the reference in the grading
process, so no reference code is ever in here.

Protocol (length-prefixed frames): the grader sends pickles (it is the trusted side); this process
answers with ``torch.save`` frames that the grader reads with ``weights_only=True`` (tensors, numbers,
strings, lists, tuples, dicts only), so nothing sent from here can run code in the grader.
"""
import inspect
import io
import os
import pickle
import struct
import sys

BLOCKED = ("mspd_core", "otter", "tests", "course", "grading", "grade_class", "scripts")
UNPRIVILEGED = "nobody"  # the user an answer runs as when the grader runs as root (Gradescope, a container)
REFUSED_EVENTS = ("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
                  "os.startfile", "os.remove", "os.rename", "os.rmdir", "os.truncate", "os.chmod", "os.chown", "os.link",
                  "os.symlink", "os.putenv", "os.unsetenv", "os.mkdir", "os.utime", "os.setxattr", "os.removexattr",
                  "os.chflags", "os.listdir", "os.scandir", "os.chdir", "os.walk", "glob.", "subprocess.", "pty.",
                  "socket.", "ctypes.", "mmap.",
                  "signal.", "marshal.", "code.__new__", "function.__new__", "sys._getframe", "sys._current_frames",
                  "sys.setprofile", "sys.settrace", "gc.get_", "cpython.", "shutil.", "webbrowser.", "urllib.", "ftplib.",
                  "http.", "imaplib.", "poplib.", "smtplib.", "telnetlib.", "resource.setrlimit", "fcntl.", "msvcrt.")
UNPICKLABLE_FROM = ("torch", "numpy", "collections", "copyreg")


def _read_exact(stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the grader closed the pipe")
        data += chunk
    return data


def _warm_up(torch, np, F) -> None:
    """What honest answers call, once, so that its lazy imports happen before the audit hook refuses imports."""
    from scipy.stats import binomtest

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 4 * 4, 10)).double()
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(model(x), torch.tensor([1, 2]), reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    torch.clamp(torch.minimum(torch.maximum(x.detach(), x.detach() - 0.1), x.detach() + 0.1), 0, 1).sign().mean(0)
    grad.reshape(2, -1).repeat(2, 1).repeat_interleave(2, 0)[None].expand(3, -1, -1)
    np.sum(np.array([True, False]) & ~np.array([False, False])), float(binomtest(3, 5, 0.5).pvalue)
    str(grad), repr(np.float64(1.0)), f"{grad.max():.3f}"
    torch.save({"value": grad, "changed": {0: grad}, "other": "x"}, io.BytesIO())  # the protocol's own lazy imports
    pickle.loads(pickle.dumps([model, np.zeros(2, dtype=bool), ("__callback__", "x")]))


def audit_hook(code, folder: str):
    """The hook that keeps the answer inside its own code (see the module's docstring). Everything it reads is
    bound in this closure, immutable: the answer cannot reach it through the worker module's globals."""
    ran = [False]
    refused_events, unpicklable_from = tuple(REFUSED_EVENTS), tuple(UNPICKLABLE_FROM)
    folder = os.path.realpath(folder)
    readable = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                            *[p for p in sys.path if p and os.path.isdir(p)]})
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def refuse(event: str) -> None:
        raise RuntimeError(f"the grader's sandbox refused {event}: answers must not reach outside their own code")

    def hook(event: str, args) -> None:
        if event == "exec":
            if args and args[0] is code and not ran[0]:
                ran[0] = True
                return
            refuse("exec/eval")
        if event == "compile":
            refuse("compile (namedtuple, eval and exec compile code)")
        if event == "import":
            raise RuntimeError(f"the grader's sandbox refused importing {args[0] if args else '?'}: answers can import what "
                               "the grader loads before their cell (torch and torch.func, numpy, scipy.stats and "
                               "scipy.special, math, functools, itertools, collections, typing), nothing else")
        if event == "open":
            path, mode = args[0], args[1] if len(args) > 1 else "r"
            if isinstance(path, int):
                return  # an already open descriptor
            real = realpath(fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else ""
            writes = bool(mode & write_flags) if isinstance(mode, int) else isinstance(mode, str) and any(c in mode for c in "wax+")
            if (real + sep).startswith(folder + sep):
                return
            if writes or not real.startswith(readable):
                refuse(f"opening {real or path!r}")
            return
        if event == "pickle.find_class":
            if str(args[0]).split(".")[0] not in unpicklable_from:
                refuse(f"unpickling {args[0]}.{args[1]}")
            return
        if event.startswith(refused_events):
            refuse(event)

    return hook


def drop_privileges(folder: str) -> bool:
    """As root: become :data:`UNPRIVILEGED` (no supplementary groups), so that the operating system, not only the
    hook, keeps the answer from the grader's files (grading.json, results, submissions, the companion's own files
    where set-up made them private) and processes; no new processes; bounded CPU time and file size. Returns
    whether it did (not as another user: the hook alone then)."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (600, 600))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 26, 1 << 26))
    if os.geteuid() != 0:
        return False
    import pwd

    user = pwd.getpwnam(UNPRIVILEGED)
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no fork, no thread: the warm-up made the ones torch needs
    return True


def main() -> None:
    protocol_out = os.fdopen(os.dup(1), "wb")
    protocol_in = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)  # the answer's prints (Python's and C's) go to stderr
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = sys.stderr

    import collections  # noqa: F401 - what answers may import, loaded before the hook refuses new imports
    import functools  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import typing  # noqa: F401

    import numpy as np
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401
    import torch
    import torch.func  # noqa: F401
    import torch.nn.functional as F

    torch.set_num_threads(1)
    for name in BLOCKED:
        sys.modules[name] = None  # `import mspd_core` (or any of its modules) now raises ImportError
    _warm_up(torch, np, F)

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
        def call(*args, **kwargs):
            send({"kind": "call", "key": key, "args": outgoing(list(args)),
                  "kwargs": {str(k): outgoing(v) for k, v in kwargs.items()}})
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
        code = compile(setup["source"], "<your answer cell>", "exec")
    except BaseException as err:  # noqa: BLE001 - reported to the grader, which fails the exercise
        send({"kind": "setup-error", "type": type(err).__name__, "message": str(err)})
        return
    isolated = drop_privileges(setup["folder"])
    sys.addaudithook(audit_hook(code, setup["folder"]))
    try:
        exec(code, namespace)  # noqa: S102 - the point of this process
    except BaseException as err:  # noqa: BLE001 - reported to the grader, which fails the exercise
        send({"kind": "setup-error", "type": type(err).__name__, "message": str(err)})
        return
    fn = namespace.get(setup["name"])
    if not callable(fn):
        send({"kind": "setup-error", "type": "NameError", "message": f"the cell defines no function `{setup['name']}`"})
        return
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError, RuntimeError):
        parameters = []
    send({"kind": "ready", "parameters": parameters, "isolated": isolated})
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
            send({"kind": "raise", "type": type(err).__name__, "message": str(err)[:500]})
            continue
        changed = {}
        for i, (arg, snapshot) in enumerate(zip(args, before)):
            if isinstance(arg, torch.Tensor) and not (arg.shape == snapshot.shape and torch.equal(arg.detach(), snapshot)):
                changed[i] = outgoing(arg)
            elif isinstance(arg, np.ndarray) and not np.array_equal(arg, snapshot):
                changed[i] = outgoing(arg)
        try:
            value = {"kind": "result", "value": outgoing(result), "changed": changed}
        except (TypeError, RuntimeError):
            value = {"kind": "result", "other": type(result).__name__, "changed": changed}
        send(value)


if __name__ == "__main__":
    main()
