"""A student's answer as a callable that runs in its own process (the autograder's side of
:mod:`mspd_core.course_worker`).

:class:`SandboxedAnswer` starts a fresh Python (``-I``: no user site, no ``PYTHONPATH``, no current
folder on the path) that executes one answer cell with the companion unimportable, and forwards each
call to it. The exercise's check (:mod:`mspd_core.course`) runs here, in the grading process: it builds
the inputs, calls the proxy, and compares what comes back with the library's reference - so nothing the
answer does to torch, NumPy, otter or the checks inside its own process can change its grade.

What crosses the boundary: tensors, NumPy arrays, numbers and ``nn.Module`` backbones go to the worker
(pickled: this side is trusted); other callables (the check's ``smooth_fn``, the defense, the earlier
exercises' references) stay here and are called back when the answer calls them. Replies are read with
``torch.load(weights_only=True)``. A reply's in-place changes to the inputs are copied onto the check's
own tensors, so the check's "changed its input in place" test sees them as before.
"""
from __future__ import annotations

import inspect
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn

WORKER = Path(__file__).resolve().with_name("course_worker.py")
CALL_TIMEOUT = 120.0  # seconds for one call of the answer, callbacks included (the checks' inputs take milliseconds)
MAX_CALLBACKS = 10_000  # callbacks one call of the answer may make
MAX_FRAME = 1 << 26  # bytes of one reply (64 MiB; the checks' tensors are a few kB)
MAX_CALLBACK_ELEMENTS = 1 << 20  # elements of the tensors one callback may hand the grader (the checks': ~10^3)
START_TIMEOUT = 120.0  # seconds to start Python, import torch and run the answer cell


class AnswerError(Exception):
    """The answer failed in its own process; ``kind`` is the exception's type name there."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def answer_exception(kind: str, message: str) -> Exception:
    """An exception whose type name is the answer's own (the check reports ``type(err).__name__``)."""
    if kind == "NotImplementedError":
        return NotImplementedError(message)
    return type(kind, (AnswerError,), {})(kind, message)


def _placeholder(type_name: str):
    """Stands for a returned object that cannot cross the boundary: ``type(x).__name__`` is its type's name."""
    return type(type_name, (), {"__repr__": lambda self: f"<{type_name}>"})()


class SandboxedAnswer:
    """The function ``name`` defined by the answer cell ``source``, callable from the grading process.

    ``references``: the names the cell may call (earlier exercises' functions) and the callables that
    answer them here. Use as a context manager (the process is stopped on exit)."""

    sandboxed = True

    def __init__(self, name: str, source: str, references: Mapping[str, Callable] | None = None,
                 call_timeout: float = CALL_TIMEOUT, start_timeout: float = START_TIMEOUT):
        self.name, self.call_timeout, self.start_timeout = name, call_timeout, start_timeout
        self._callbacks: dict[str, Callable] = dict(references or {})
        self._folder = tempfile.TemporaryDirectory(prefix="mspd-answer-")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MSPD_"))}
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        self._process = subprocess.Popen([sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=None if os.environ.get("MSPD_GRADING_DEBUG") else subprocess.DEVNULL, cwd=self._folder.name, env=env,
                                         start_new_session=True)  # its own process group: close() ends all of it
        self._ready: dict | None = None
        self._closed = False
        self.isolated = False  # whether the answer runs as another operating-system user (the grader runs as root)
        self.__signature__ = inspect.Signature()
        try:
            self._send({"source": source, "name": name, "references": sorted(self._callbacks), "folder": self._folder.name})
        except AnswerError as err:  # the worker died before reading its cell: reported when the answer is first called
            self._ready = {"kind": "setup-error", "type": err.kind, "message": str(err)}
            self.close()

    # ---- the protocol -----------------------------------------------------------------------

    def _send(self, message) -> None:
        data = pickle.dumps(message)
        try:
            self._process.stdin.write(struct.pack("<Q", len(data)) + data)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise answer_exception("RuntimeError", "your answer's process ended unexpectedly") from None

    def _read(self, size: int, deadline: float) -> bytes:
        data = b""
        out = self._process.stdout
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                self.close()
                raise answer_exception("TimeoutError", f"no result within {self._timeout:.0f} s (an endless loop?)")
            chunk = os.read(out.fileno(), size - len(data))
            if not chunk:
                self.close()
                raise answer_exception("RuntimeError", "your answer's process ended unexpectedly (did it exit?)")
            data += chunk
        return data

    def _receive(self, deadline: float, timeout: float):
        self._timeout = timeout
        (size,) = struct.unpack("<Q", self._read(8, deadline))
        if size > MAX_FRAME:
            self.close()
            raise answer_exception("RuntimeError", "your answer's process sent something that is not a result")
        data = self._read(size, deadline)  # its own errors (a timeout mid-frame) pass through as they are
        try:
            return torch.load(io.BytesIO(data), weights_only=True)
        except Exception:  # noqa: BLE001 - anything but the protocol's own frames
            self.close()
            raise answer_exception("RuntimeError", "your answer's process sent something that is not a result") from None

    def _serve(self, timeout: float) -> dict:
        """The next reply that is not a callback, serving the answer's callbacks meanwhile; one deadline for all."""
        deadline = time.monotonic() + timeout
        for _ in range(MAX_CALLBACKS):
            reply = self._receive(deadline, timeout)
            if not isinstance(reply, dict) or reply.get("kind") != "call":
                return reply if isinstance(reply, dict) else {}
            try:
                function = self._callbacks[str(reply["key"])]
                args = [self._decode(a) for a in reply.get("args", [])]
                kwargs = {str(k): self._decode(v) for k, v in dict(reply.get("kwargs", {})).items()}
                if sum(v.numel() for v in [*args, *kwargs.values()] if isinstance(v, torch.Tensor)) > MAX_CALLBACK_ELEMENTS:
                    raise ValueError("tensors far larger than the check's inputs")
                value = function(*args, **kwargs)
                self._send({"kind": "return", "value": value.detach() if isinstance(value, torch.Tensor) else value})
            except Exception as err:  # noqa: BLE001 - the answer passed the callback something it cannot take
                self._send({"kind": "raise", "message": f"{type(err).__name__}: {err}"})
        self.close()
        raise answer_exception("RuntimeError", f"your answer called the grader's functions more than {MAX_CALLBACKS} times in one call")

    def ready(self) -> None:
        """Wait until the answer cell has run (raises the cell's own error, e.g. a SyntaxError or NameError)."""
        if self._ready is None:
            self._ready = self._serve(self.start_timeout)
            if self._ready.get("kind") == "setup-error":
                self.close()
            elif self._ready.get("kind") == "ready":
                self.isolated = bool(self._ready.get("isolated"))
                self.__signature__ = inspect.Signature(
                    [inspect.Parameter(str(p), inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in self._ready["parameters"]])
            else:
                self.close()
                self._ready = {"kind": "setup-error", "type": "RuntimeError",
                               "message": "your answer's process sent something that is not a result"}
        if self._ready.get("kind") == "setup-error":
            raise answer_exception(str(self._ready["type"]), f"(while running your cell) {str(self._ready['message'])[:500]}")

    # ---- calls ------------------------------------------------------------------------------

    def _encode(self, arg):
        if isinstance(arg, (torch.Tensor, np.ndarray, nn.Module, bool, int, float, str)) or arg is None:
            return arg
        if callable(arg):
            key = f"argument-{len(self._callbacks)}"
            self._callbacks[key] = arg
            return ("__callback__", key)
        return arg

    def _decode(self, arg):
        """A callback argument: the grader's own callables come back by their key."""
        if isinstance(arg, tuple) and len(arg) == 2 and arg[0] == "__callback__" and arg[1] in self._callbacks:
            return self._callbacks[arg[1]]
        return arg

    def __call__(self, *args):
        self.ready()
        self._send({"kind": "call", "args": [self._encode(a) for a in args]})
        reply = self._serve(self.call_timeout)
        kind = reply.get("kind")
        if kind == "not-implemented":
            raise NotImplementedError
        if kind == "raise":
            raise answer_exception(str(reply["type"]), str(reply["message"])[:500])
        if kind != "result":
            self.close()
            raise answer_exception("RuntimeError", "your answer's process sent something that is not a result")
        for index, value in dict(reply.get("changed", {})).items():
            if isinstance(index, int) and 0 <= index < len(args):
                _copy_into(args[index], _plain(value))
        return _placeholder(str(reply["other"])) if "other" in reply else _plain(reply.get("value"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._process.poll() is None:
            try:
                self._send({"kind": "stop"})
                self._process.wait(timeout=5)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        try:
            os.killpg(self._process.pid, signal.SIGKILL)  # the worker and anything it started
        except (ProcessLookupError, PermissionError):
            pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._folder.cleanup()

    def __enter__(self) -> "SandboxedAnswer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(value):
    """A returned value the checks can compare: real tensors on the CPU (strided), numbers, containers of them;
    anything else stands for its type's name (``return a torch.Tensor, got ...``)."""
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu" or value.layout != torch.strided or value.is_complex() or value.is_quantized:
            return _placeholder(f"{value.dtype} tensor on {value.device.type} ({value.layout})")
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _copy_into(target, value) -> None:
    """Make the check's own input show the change the answer made to its copy."""
    if isinstance(target, torch.Tensor) and isinstance(value, torch.Tensor):
        with torch.no_grad():
            if target.shape == value.shape:
                target.copy_(value.to(target.dtype))
            else:
                target.resize_(value.shape).copy_(value.to(target.dtype))
    elif isinstance(target, np.ndarray) and isinstance(value, torch.Tensor):
        array = value.numpy()
        if array.shape == target.shape:
            target[...] = array
        else:
            target.fill(not target.flat[0] if target.dtype == bool and target.size else 0)
