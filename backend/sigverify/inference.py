"""The serving side of the ML core: one loaded model that embeds, scores and decides.

Servers create a ``Verifier`` lazily, once per process (after any fork), and reuse it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .card import ModelCard
from .errors import ModelLoadError
from .options import PRECISIONS  # auto: bf16 where the CPU has it (AMX/AVX512-BF16)
from .policy import thresholds_at
from .preprocess import PREPROCESS_VERSION, preprocess_with_quality
from .runtime import TorchRuntime, onnx_choice, onnx_runtime_for, set_thread_limit
from .scoring import ScoreModel, ScoreResult, decide
from .weights import load_model


def limit_threads(n: int) -> None:
    """Bound torch's intra-op threads, and those of ONNX Runtime sessions made from now on (one
    worker process should not claim every core)."""
    set_thread_limit(n)
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def bf16_supported() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


class Verifier:
    """A loaded model and its ``ModelCard``: the card's input size, scoring and thresholds, none defaulted.

    The embeddings come from ``runtime`` (``sigverify.runtime``): the PyTorch ``model`` by default,
    or an ONNX Runtime session of the same weights (``inference``: see ``sigverify.runtime.MODES``)."""

    def __init__(self, model, card: ModelCard, precision: str = "fp32", batch_size: int = 64, runtime=None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        if precision in ("auto", "bf16"):
            precision = "bf16" if bf16_supported() else "fp32"
        if card.preprocess_version != PREPROCESS_VERSION:
            raise ModelLoadError(
                f"model expects preprocessing v{card.preprocess_version}, code is v{PREPROCESS_VERSION}"
            )
        self.card = card
        self.batch_size = batch_size
        self.input_size = card.size
        self.scorer = ScoreModel.from_dict(card.scoring.model_dump(exclude_none=True))
        self.accept = card.thresholds.accept
        self.reject = card.thresholds.reject
        if runtime is None:
            runtime = TorchRuntime(model, precision=precision, batch_size=batch_size)
        self.runtime = runtime
        self.model = getattr(runtime, "model", None)
        # What the embeddings are computed in: fp32 or bf16 (PyTorch), fp32 or int8 (ONNX Runtime).
        self.precision = runtime.precision if isinstance(runtime, TorchRuntime) else runtime.kind
        self.inference_reason = ""

    @classmethod
    def from_dir(cls, directory, precision: str = "fp32", verify: bool = True, inference: str = "torch") -> Verifier:
        """``inference``: ``torch``, ``auto``, ``onnx`` or ``onnx-int8`` (``sigverify.runtime.onnx_choice``).
        An ONNX path checks the ONNX file's sha256 and leaves the PyTorch weights unloaded."""
        directory = Path(directory)
        card = ModelCard.read(directory)
        kind, reason = onnx_choice(card, inference)
        if kind is None:
            model, card = load_model(directory, verify=verify)
            verifier = cls(model, card, precision=precision)
        else:
            verifier = cls(None, card, precision="fp32", runtime=onnx_runtime_for(directory, card, kind))
        verifier.inference_reason = reason
        return verifier

    @property
    def inference_path(self) -> str:
        """What embeds: torch-fp32, torch-bf16, onnx-fp32 or onnx-int8."""
        return self.runtime.path

    def embed_arrays(self, arrays) -> np.ndarray:
        """Preprocessed uint8 arrays -> (N, D) float32 unit embeddings."""
        return self.runtime.embed_arrays(arrays)

    @property
    def sha256(self) -> str:
        return self.card.sha256

    def preprocess(self, source, crop=None):
        """(uint8 array as the model sees it, quality info). Raises ``ImageRejected``."""
        return preprocess_with_quality(source, size=self.input_size, crop=crop)

    def embed(self, source, crop=None):
        """(embedding, preprocessed array, quality) for one image."""
        array, quality = self.preprocess(source, crop=crop)
        return self.embed_arrays([array])[0], array, quality

    def score(self, query_embedding, reference_embeddings, classifier=None) -> ScoreResult:
        """The calibrated score at the signer's R (``result.references``); ``classifier``: the signer's
        ``writer_dependent.SignerClassifier``, fused in where the card's calibration is."""
        return self.scorer.score(query_embedding, np.asarray(reference_embeddings), classifier=classifier)

    def thresholds_for(self, references: int, cheque: bool = False) -> dict:
        """{"accept", "reject", "references"}: the card's pair for a signer with ``references``
        references ("references" is the R it was fitted for; None on an older card's single pair);
        ``cheque``: for a signature cut from a whole cheque (``policy.thresholds_at``)."""
        return thresholds_at(self.card.to_dict()["thresholds"], references, cheque=cheque)

    def decide(self, score: float, references: int | None = None, cheque: bool = False) -> str:
        """genuine / refer / forgery at the card's thresholds for ``references`` (None: the primary
        pair); ``cheque``: the card's cheque pair where it has one (``thresholds_for``)."""
        if references is None and not cheque:
            return decide(score, self.accept, self.reject)
        # references None with cheque: the primary R (a card without it has one pair for every R)
        pair = self.thresholds_for(self.card.thresholds.references if references is None else references, cheque)
        return decide(score, pair["accept"], pair["reject"])
