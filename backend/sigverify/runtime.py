"""Inference runtimes: what turns preprocessed arrays into embeddings, behind one interface.

``TorchRuntime`` runs the PyTorch model (fp32, or bf16 autocast); ``OnnxRuntime`` runs an ONNX file
of the same weights (``sigverify.onnx_export``) with ONNX Runtime, fp32 or int8. Both expose
``embed_arrays(arrays) -> (N, D) float32 unit embeddings`` and ``path`` ("torch-fp32", "onnx-int8", ...).

``choose`` picks one for a model directory from a mode (the ``SIGVERIFY_INFERENCE`` setting):

- ``torch``: PyTorch.
- ``auto``: the int8 file where the card marks it usable and the CPU has fast int8 (``fast_int8``:
  VNNI), else ONNX fp32 where the card lists a checked fp32 file; PyTorch where onnxruntime is missing.
- ``onnx``: ONNX fp32 where the card lists one (onnxruntime must then be installed), else PyTorch.
- ``onnx-int8``: the int8 file where the card marks it usable, else as ``onnx``.

A file the card lists is always checked against its sha256 before it is loaded; a mismatch is a
``ModelLoadError``, never a silent fallback. Nothing here imports torch or onnxruntime at import
time, and an ONNX Runtime session is created on first use, in the process that uses it (a session
made before a fork is made again in the child).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from .errors import ModelLoadError

MODES = ("auto", "torch", "onnx", "onnx-int8")

_thread_limit: int | None = None


def set_thread_limit(n: int) -> None:
    """The intra-op threads an ONNX Runtime session made from now on may use (``inference.limit_threads``)."""
    global _thread_limit
    if n > 0:
        _thread_limit = n


def thread_limit() -> int:
    return _thread_limit or max(1, min(os.cpu_count() or 1, 4))


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class TorchRuntime:
    """The PyTorch model (``precision``: fp32 or bf16, already resolved)."""

    def __init__(self, model, precision: str = "fp32", batch_size: int = 64):
        import torch

        self.precision = precision
        self.batch_size = batch_size
        self.embedding_dim = model.embedding_dim
        self.model = model.to(memory_format=torch.channels_last) if precision == "bf16" else model
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return f"torch-{self.precision}"

    def embed_arrays(self, arrays) -> np.ndarray:
        import torch

        from .preprocess import to_float

        out = []
        arrays = list(arrays)
        with torch.inference_mode():
            for start in range(0, len(arrays), self.batch_size):
                chunk = np.stack([to_float(a) for a in arrays[start : start + self.batch_size]])
                x = torch.from_numpy(chunk).unsqueeze(1)
                if self.precision == "bf16":
                    x = x.contiguous(memory_format=torch.channels_last)
                with self._lock, torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                    out.append(self.model(x).float().numpy())
        if not out:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(path, sha256: str) -> bytes:
    """The file's bytes, refused (``ModelLoadError``) when missing or not the card's sha256. The
    session is made from these same bytes, so what was checked is what runs."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"ONNX file missing or unreadable: {path} ({exc.strerror or exc})") from exc
    actual = sha256_bytes(data)
    if actual != sha256:
        raise ModelLoadError(
            f"sha256 mismatch for ONNX file {path}: the card says {sha256}, the file is {actual}; refusing to load it"
        )
    return data


class OnnxRuntime:
    """An ONNX file of the model run by ONNX Runtime on the CPU (``kind``: fp32 or int8).

    The file is checked against ``sha256`` when this object is made (so a damaged file fails at
    load, not at the first request) and again when the session is made from its bytes."""

    def __init__(self, path, sha256: str, embedding_dim: int, kind: str = "fp32", batch_size: int = 64):
        self.file = Path(path)
        self.sha256 = sha256
        self.kind = kind
        self.embedding_dim = embedding_dim
        self.batch_size = batch_size
        read_verified(self.file, sha256)
        self._session = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return f"onnx-{self.kind}"

    def session(self):
        """This process's session, made on first use with ``thread_limit()`` intra-op threads."""
        if self._session is not None and self._pid == os.getpid():
            return self._session
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                self._session = make_session(read_verified(self.file, self.sha256), thread_limit())
                self._pid = os.getpid()
        return self._session

    def embed_arrays(self, arrays) -> np.ndarray:
        from .preprocess import to_float

        arrays = list(arrays)
        if not arrays:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        session = self.session()
        name = session.get_inputs()[0].name
        out = []
        for start in range(0, len(arrays), self.batch_size):
            chunk = np.stack([to_float(a) for a in arrays[start : start + self.batch_size]])[:, None]
            out.append(session.run(None, {name: np.ascontiguousarray(chunk, dtype=np.float32)})[0])
        return np.concatenate(out).astype(np.float32)


def make_session(model, threads: int):
    """An ONNX Runtime CPU session of ``model`` (bytes or a path) on ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # The pool's threads sleep between requests instead of spinning on a core other workers need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


# CPU flags (Linux /proc/cpuinfo names) of the instructions that multiply 8-bit integers in one step
# (VNNI's vpdpbusd; AMX tiles). Without them ONNX Runtime's int8 convolutions run on AVX2 multiply-add
# pairs: measured on the shipped model, no faster than fp32 (README, "Serving with ONNX Runtime").
FAST_INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags() -> set[str]:
    """This CPU's feature flags as Linux lists them; empty where /proc/cpuinfo is missing."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def fast_int8_flags(flags=None) -> list[str]:
    """The ``FAST_INT8_FLAGS`` this CPU (or ``flags``) has: empty where int8 would not pay."""
    have = cpu_flags() if flags is None else set(flags)
    return [f for f in FAST_INT8_FLAGS if f in have]


def onnx_choice(card, mode: str, flags=None) -> tuple[str | None, str]:
    """(``fp32`` / ``int8`` / None for PyTorch, why): which file ``mode`` serves for ``card``.
    ``flags``: the CPU's feature flags (None: this machine's, ``cpu_flags``); only ``auto`` reads them."""
    if mode not in MODES:
        raise ValueError(f"inference mode must be one of {', '.join(MODES)}, not {mode!r}")
    files = getattr(card, "onnx", None)
    fp32 = files.fp32 if files else None
    int8 = files.int8 if files else None
    if mode == "torch":
        return None, "SIGVERIFY_INFERENCE=torch"
    if mode == "onnx-int8" and int8 is not None and int8.usable:
        return "int8", "int8 file checked against PyTorch"
    if mode == "auto" and int8 is not None and int8.usable and onnxruntime_available():
        fast = fast_int8_flags(flags)
        if fast:
            return "int8", f"int8 file checked against PyTorch; the CPU has {', '.join(fast)}"
    if fp32 is None:
        return None, "the model card lists no ONNX file"
    if mode == "auto":
        if not fp32.usable:
            return None, "the ONNX fp32 file did not pass its check"
        if not onnxruntime_available():
            return None, "onnxruntime is not installed"
        if int8 is not None and int8.usable:
            return "fp32", "checked ONNX fp32 file (the int8 file is not used: the CPU has no VNNI)"
        return "fp32", "checked ONNX fp32 file"
    why = "int8 file missing or not passed its check" if mode == "onnx-int8" else "SIGVERIFY_INFERENCE=onnx"
    return "fp32", why


def onnx_runtime_for(directory, card, kind: str, batch_size: int = 64) -> OnnxRuntime:
    entry = getattr(card.onnx, kind)
    if entry.weights_sha256 and entry.weights_sha256 != card.sha256:
        raise ModelLoadError(
            f"ONNX {kind} file {entry.file} was exported from weights {entry.weights_sha256[:12]}, "
            f"not this card's {card.sha256[:12]}; export it again"
        )
    if not onnxruntime_available():
        raise ModelLoadError(f"the card lists ONNX {kind} file {entry.file} but onnxruntime is not installed")
    return OnnxRuntime(Path(directory) / entry.file, entry.sha256, card.embedding_dim, kind=kind, batch_size=batch_size)
