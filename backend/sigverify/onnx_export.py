"""``sigverify export-onnx``: the embedding network of a model directory as ONNX files for serving.

- ``model.onnx``: fp32, dynamic batch axis. Checked against PyTorch on real (or, without data,
  synthetic) inputs: usable when the largest embedding difference is below ``FP32_TOLERANCE`` and,
  with data, when the dataset check below passes.
- ``model.int8.onnx`` (optional): ONNX Runtime static quantisation (QDQ, per-channel int8 weights,
  MinMax ranges; the first convolution, the first residual stage and the head kept fp32), calibrated
  on training writers' signatures (the "train" split of the splits file, never the
  writers it is checked on). Usable only when, on every dataset's held-out writers, the skilled EER
  moves by at most ``MAX_EER_CHANGE_POINTS`` and at most ``MAX_DECISIONS_CHANGED`` of the decisions
  at the card's shipped accept/reject change.

Both files are written ``.part`` then renamed, their sha256 and checks go into the model card
(``ModelCard.onnx``); ``sigverify.runtime`` refuses a file whose sha256 differs. The safetensors
weights stay the source: these files are derived from them and record their sha256.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .card import OnnxCheck, OnnxDatasetCheck, OnnxFile, OnnxFiles, OnnxQuantization
from .errors import DatasetError

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
OPSET = 17  # ONNX Runtime 1.32 runs opsets up to 23; 17 is what the exporter and the quantiser know best
FP32_TOLERANCE = 1e-4
MAX_EER_CHANGE_POINTS = 0.3
MAX_DECISIONS_CHANGED = 0.005
CHECK_REFERENCES = (5,)
CALIBRATION_PER_DATASET = 512
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# Left in fp32 in the int8 file: the first convolution and the first residual stage (they see the thin
# strokes at full resolution) and the projection head. Measured on the shipped model (test writers of
# cedar, gpds, bengali, hindi; R=5; benchmarks/int8_check.py; issue 22) on a VNNI CPU: with 512
# calibration images per dataset every skilled EER moved by at most 0.19 points and at most 0.47% of
# decisions changed; with 256, 0.59% (bengali) changed, so the last stage had to stay fp32 too (0.38%,
# 1.36x slower). Only the first conv and head kept: 0.9-1.35%; only the head: 0.75-1.54% (1.6x faster
# than this file); entropy (min cosine 0.72) ranges 6-18%; percentile ranges, even asymmetric, 3.5-4.3%
# (99.999) or broken (99.9999).
DEFAULT_EXCLUDE = ("first-conv", "/backbone/layer1/*", "head")
DEFAULT_CALIBRATION = "minmax"
DEFAULT_PERCENTILE = 99.999  # of each activation's values, both tails cut evenly (method "percentile" only)


@dataclass
class CheckData:
    """The held-out images a check runs on, embedded once by PyTorch."""

    arrays: dict = field(default_factory=dict)  # dataset -> list of uint8 arrays
    groups: dict = field(default_factory=dict)  # dataset -> writer groups (evaluate.group_by_writer)
    torch: dict = field(default_factory=dict)  # dataset -> (N, D) PyTorch embeddings


def export_fp32(model, path, input_size, opset: int = OPSET) -> None:
    """``model`` (a ``SignatureEmbedder`` in eval mode) as ONNX at ``path``: input ``image`` (N, 1, H, W)
    float32, output ``embedding`` (N, D), N dynamic."""
    import torch

    height, width = input_size
    example = torch.zeros(2, 1, height, width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, chosen below
        torch.onnx.export(
            model.eval(),
            (example,),
            str(path),
            input_names=["image"],
            output_names=["embedding"],
            dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, a plain Conv/Gemm graph
        )


def excluded_nodes(model_path, exclude=DEFAULT_EXCLUDE) -> list[str]:
    """Names of the nodes ``exclude`` keeps in fp32: ``first-conv`` (the Conv fed by the graph input),
    ``head`` (every Gemm / MatMul: the projection), node-name patterns (``/backbone/layer4/*``) or names."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    inputs = {i.name for i in graph.input}
    names = []
    for item in exclude:
        if item == "first-conv":
            names += [n.name for n in graph.node if n.op_type == "Conv" and n.input[0] in inputs][:1]
        elif item == "head":
            names += [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul")]
        elif any(c in item for c in "*?["):  # a pattern: /backbone/layer4/* keeps the last stage in fp32
            names += [n.name for n in graph.node if fnmatch.fnmatchcase(n.name, item)]
        else:
            names.append(item)
    return list(dict.fromkeys(names))


def quantize_int8(
    fp32_path,
    out_path,
    calibration: list,
    method: str = DEFAULT_CALIBRATION,
    exclude=DEFAULT_EXCLUDE,
    per_channel: bool = True,
    reduce_range: bool = False,
    batch_size: int = 16,
    op_types=None,
    percentile: float = DEFAULT_PERCENTILE,
) -> OnnxQuantization:
    """Static int8 (QDQ; uint8 activations, int8 weights per channel) of ``fp32_path`` at ``out_path``,
    calibrated on ``calibration`` (preprocessed uint8 arrays). ``op_types``: the operators quantised
    (None: every one ONNX Runtime can; ``("Conv",)`` keeps the residual additions, pooling and head in fp32)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .preprocess import to_float

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}")
    if not calibration:
        raise DatasetError("no calibration image: int8 needs training writers' signatures")

    starts = list(range(0, len(calibration), batch_size))

    class Reader(CalibrationDataReader):
        """One batch per ``set_range``: the calibrator then keeps one batch's activations at a time
        (all of them at once took gigabytes) and merges its histograms as it goes."""

        def __init__(self):
            self.pending = []

        def __len__(self):
            return len(starts)

        def set_range(self, start_index: int, end_index: int):
            self.pending = starts[start_index:end_index]

        def get_next(self):
            if not self.pending:
                return None
            i = self.pending.pop(0)
            batch = np.stack([to_float(a) for a in calibration[i : i + batch_size]])[:, None]
            return {"image": batch.astype(np.float32)}

    calibrate = {
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
        "minmax": CalibrationMethod.MinMax,
    }[method]
    with tempfile.TemporaryDirectory(prefix="sigverify-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        nodes = excluded_nodes(prepared, exclude)
        quantize_static(
            str(prepared),
            str(out_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=calibrate,
            nodes_to_exclude=nodes,
            op_types_to_quantize=list(op_types) if op_types else None,
            extra_options={
                "CalibStridedMinMax": 1,  # despite the name: collect batch by batch, any method
                # ReLU outputs are never negative: a range symmetric about 0 (ONNX Runtime's default
                # for percentile) would leave half of the uint8 codes unused.
                "CalibTensorRangeSymmetric": False,
                "CalibPercentile": percentile,
            },
        )
    return OnnxQuantization(
        format="QDQ",
        calibration=method,
        calibration_images=len(calibration),
        per_channel=per_channel,
        reduce_range=reduce_range,
        nodes_excluded=nodes,
        op_types=list(op_types) if op_types else None,
        percentile=percentile if method == "percentile" else None,
    )


def _split_samples(data, split_file, split: str):
    from .datasets import load_dataset
    from .pairs import read_splits, writer_key

    root, samples = load_dataset(data)
    name = Path(data).resolve().name.lower()
    splits = read_splits(split_file)
    chosen = [s for s in samples if splits.get(writer_key(name, s.writer)) == split]
    return name, root, chosen


def _arrays(samples, root, size) -> tuple[list, list]:
    from .cache import ImageCache

    cache = ImageCache.build(samples, root, size, progress=False)
    kept = [s for s, ok in zip(samples, cache.valid, strict=True) if ok]
    return [np.asarray(cache.arrays[i]) for i, ok in enumerate(cache.valid) if ok], kept


def calibration_arrays(datasets, split_file, size, per_dataset: int = CALIBRATION_PER_DATASET, seed: int = 0):
    """(arrays, writers): up to ``per_dataset`` signatures (genuine and forged) of each dataset's
    training writers, drawn evenly over the writers with a fixed seed."""
    rng = np.random.default_rng(seed)
    arrays, writers = [], set()
    for data in datasets:
        name, root, samples = _split_samples(data, split_file, "train")
        if not samples:
            continue
        by_writer: dict = {}
        for s in samples:
            by_writer.setdefault(s.writer, []).append(s)
        for group in by_writer.values():
            rng.shuffle(group)
        chosen, depth = [], 0
        while len(chosen) < per_dataset and any(depth < len(g) for g in by_writer.values()):
            chosen += [g[depth] for g in by_writer.values() if depth < len(g)]
            depth += 1
        chosen = chosen[:per_dataset]
        got, kept = _arrays(chosen, root, size)
        arrays += got
        writers |= {f"{name}/{s.writer}" for s in kept}
    if not arrays:
        raise DatasetError(f"no training writer of {', '.join(str(d) for d in datasets)} in {split_file}")
    order = rng.permutation(len(arrays))  # batches mix datasets, so no batch is one paper colour
    return [arrays[i] for i in order], sorted(writers)


def _stored_torch_embeddings(torch_verifier, arrays) -> np.ndarray:
    """PyTorch's embeddings of ``arrays``, kept under the cache folder by the weights' and the arrays'
    sha256: the slowest part of a check, the same for every export of the same weights."""
    import hashlib

    from .cache import cache_base

    digest = hashlib.sha256(torch_verifier.sha256.encode())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    path = cache_base() / "torch-embeddings" / f"{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        stored = np.load(path)
        if stored.shape == (len(arrays), torch_verifier.card.embedding_dim):
            return stored
    embeddings = torch_verifier.embed_arrays(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.stem + ".part.npy")
    np.save(part, embeddings)
    os.replace(part, path)
    return embeddings


def check_data(torch_verifier, datasets, split_file, split: str = "test", log=print) -> CheckData:
    from . import evaluate as ev

    data = CheckData()
    for path in datasets:
        name, root, samples = _split_samples(path, split_file, split)
        if not samples:
            log(f"{name}: no writer in split {split!r}; not checked")
            continue
        arrays, kept = _arrays(samples, root, torch_verifier.input_size)
        data.arrays[name] = arrays
        data.groups[name] = ev.group_by_writer(
            [s.writer for s in kept], [s.label for s in kept], [s.sample for s in kept]
        )
        data.torch[name] = _stored_torch_embeddings(torch_verifier, arrays)
        log(f"{name}: {len(arrays)} {split} images embedded by PyTorch")
    return data


def _decisions(scores: np.ndarray, accept: float, reject: float) -> np.ndarray:
    return np.where(scores >= accept, 2, np.where(scores < reject, 0, 1))


def compare(
    embeddings: dict,
    data: CheckData,
    card,
    background=None,
    references=CHECK_REFERENCES,
    max_eer_change_points: float = MAX_EER_CHANGE_POINTS,
    max_decisions_changed: float = MAX_DECISIONS_CHANGED,
    split: str = "test",
) -> OnnxCheck:
    """Other embeddings of ``data``'s images (``{dataset: (N, D)}``) against PyTorch's: per dataset and
    R, the skilled EER change and the share of decisions changed at the card's shipped points."""
    from . import evaluate as ev
    from . import metrics
    from .scoring import ScoreModel

    scorer = ScoreModel.from_dict(card.scoring.model_dump(exclude_none=True))
    results, diffs, cosines, images = {}, [], [], 0
    for name, reference in data.torch.items():
        other = embeddings[name]
        diffs.append(float(np.abs(other - reference).max()) if len(other) else 0.0)
        cosines.append(float((other * reference).sum(axis=1).min()) if len(other) else 1.0)
        images += len(other)
        for r in references:
            before = ev.protocol_scores(reference, data.groups[name], r, scorer, background)
            after = ev.protocol_scores(other, data.groups[name], r, scorer, background)
            if not before.genuine:
                continue
            pair = card.thresholds_at(r)
            scores = [np.concatenate(ps.calibrated(scorer)) for ps in (before, after)]
            changed = float(
                np.mean(
                    _decisions(scores[0], pair.accept, pair.reject) != _decisions(scores[1], pair.accept, pair.reject)
                )
            )
            eer_before = metrics.eer(*before.calibrated(scorer)[:2])[0]
            eer_after = metrics.eer(*after.calibrated(scorer)[:2])[0]
            key = name if len(references) == 1 else f"{name}_R{r}"
            results[key] = OnnxDatasetCheck(
                references=r,
                queries=len(scores[0]),
                skilled_eer_torch=eer_before,
                skilled_eer_onnx=eer_after,
                eer_change_points=round(100 * (eer_after - eer_before), 4),
                decisions_changed=changed,
            )
    passed = bool(results) and all(
        abs(c.eer_change_points) <= max_eer_change_points and c.decisions_changed <= max_decisions_changed
        for c in results.values()
    )
    return OnnxCheck(
        passed=passed,
        max_abs_diff=max(diffs) if diffs else None,
        min_cosine=min(cosines) if cosines else None,
        images=images,
        split=split,
        max_eer_change_points=max_eer_change_points,
        max_decisions_changed=max_decisions_changed,
        datasets=results,
    )


def _synthetic_check(torch_verifier, runtime, count: int = 8) -> OnnxCheck:
    """Without data: generated signatures through both paths, the largest difference only."""
    from .preprocess import preprocess_image
    from .synthetic_signatures import draw_signature

    arrays = [
        preprocess_image(draw_signature(w, i), size=torch_verifier.input_size)[0]
        for w in range(2)
        for i in range(count // 2)
    ]
    reference, other = torch_verifier.embed_arrays(arrays), runtime.embed_arrays(arrays)
    diff = float(np.abs(other - reference).max())
    return OnnxCheck(
        passed=diff <= FP32_TOLERANCE,
        max_abs_diff=diff,
        min_cosine=float((other * reference).sum(axis=1).min()),
        images=len(arrays),
    )


def _same_checked_fp32(card, sha256: str, data: CheckData | None, references, split: str) -> OnnxFile | None:
    """The card's fp32 entry when it is this very file (``sha256``) of these weights, already checked on
    the same datasets, split and R as this export would check it on; else None."""
    entry = card.onnx.fp32 if card.onnx else None
    if entry is None or entry.sha256 != sha256 or entry.weights_sha256 != card.sha256 or entry.check is None:
        return None
    if not (data and data.torch) or entry.check.split != split:
        return None
    checked = {(key, c.references) for key, c in entry.check.datasets.items()}
    wanted = {(n if len(references) == 1 else f"{n}_R{r}", r) for n in data.torch for r in references}
    return entry if checked == wanted else None


def _place(part: Path, final: Path, weights_sha256: str, opset: int, **fields) -> OnnxFile:
    from .weights import sha256_file

    sha256 = sha256_file(part)
    os.replace(part, final)
    return OnnxFile(file=final.name, sha256=sha256, weights_sha256=weights_sha256, opset=opset, **fields)


def export_onnx(
    model_dir,
    datasets=(),
    split_file=None,
    split: str = "test",
    int8: bool = False,
    calibration: str = DEFAULT_CALIBRATION,
    calibration_per_dataset: int = CALIBRATION_PER_DATASET,
    exclude=DEFAULT_EXCLUDE,
    reduce_range: bool = False,
    per_channel: bool = True,
    op_types=None,
    references=CHECK_REFERENCES,
    opset: int = OPSET,
    log=print,
):
    """Export ``model_dir``'s weights to ``model.onnx`` (and with ``int8`` ``model.int8.onnx``), check
    them against PyTorch on ``datasets``' ``split`` writers, and record both in its card (written
    again, ``.part`` then rename; ``MODEL_CARD.md`` is the caller's: publish, the CLI). Returns the card."""
    from .card import ModelCard
    from .inference import Verifier
    from .runtime import OnnxRuntime
    from .weights import load_model
    from .writer_dependent import load_background

    model_dir = Path(model_dir)
    model, card = load_model(model_dir, verify=True)
    torch_verifier = Verifier(model, card, precision="fp32")
    datasets = [Path(d) for d in datasets]
    if datasets and not split_file:
        raise ValueError("checking on datasets needs the splits file the model was trained with (--split-file)")
    if int8 and not datasets:
        raise ValueError("int8 needs datasets: calibration on training writers and the check on held-out ones")

    part = model_dir / (ONNX_FILE + ".part")
    export_fp32(model, part, card.size, opset=opset)
    from .weights import sha256_file

    fp32_runtime = OnnxRuntime(part, sha256_file(part), card.embedding_dim, kind="fp32")
    data = check_data(torch_verifier, datasets, split_file, split, log=log) if datasets else None
    background = load_background(model_dir, card) if datasets else None

    def check_runtime(runtime):
        """The runtime's embeddings of the check images against PyTorch's, per dataset."""
        embedded = {n: runtime.embed_arrays(a) for n, a in data.arrays.items()}
        return compare(embedded, data, card, background, references, split=split)

    previous = _same_checked_fp32(card, fp32_runtime.sha256, data, references, split)
    if previous is not None:
        # The export is deterministic: the same bytes as the checked file, so its check (the slowest
        # part of adding an int8 file to a shipped model) stands.
        fp32_check = previous.check
        log(f"ONNX fp32: the same file as the card's checked {previous.file} (sha256 {previous.sha256[:12]}); kept")
    elif data and data.torch:
        fp32_check = check_runtime(fp32_runtime)
        fp32_check = fp32_check.model_copy(
            update={"passed": fp32_check.passed and (fp32_check.max_abs_diff or 0.0) <= FP32_TOLERANCE}
        )
    else:
        fp32_check = _synthetic_check(torch_verifier, fp32_runtime)
    log(
        f"ONNX fp32: max |diff| {fp32_check.max_abs_diff:.2e} on {fp32_check.images} images, "
        f"check {'passed' if fp32_check.passed else 'FAILED'}"
    )
    fp32 = _place(part, model_dir / ONNX_FILE, card.sha256, opset, usable=fp32_check.passed, check=fp32_check)
    int8_entry = None
    if int8:
        arrays, writers = calibration_arrays(datasets, split_file, card.size, per_dataset=calibration_per_dataset)
        log(f"int8: calibrating ({calibration}) on {len(arrays)} images of {len(writers)} training writers")
        part8 = model_dir / (ONNX_INT8_FILE + ".part")
        quantization = quantize_int8(
            model_dir / ONNX_FILE,
            part8,
            arrays,
            method=calibration,
            exclude=exclude,
            per_channel=per_channel,
            reduce_range=reduce_range,
            op_types=op_types,
        )
        quantization.calibration_writers = len(writers)
        int8_runtime = OnnxRuntime(part8, sha256_file(part8), card.embedding_dim, kind="int8")
        int8_check = check_runtime(int8_runtime)
        for name, c in int8_check.datasets.items():
            log(
                f"int8 {name} R={c.references}: skilled EER {100 * c.skilled_eer_torch:.2f}% -> "
                f"{100 * c.skilled_eer_onnx:.2f}% ({c.eer_change_points:+.2f} points), "
                f"{100 * c.decisions_changed:.2f}% of {c.queries} decisions changed"
            )
        log(f"int8 check {'passed: usable' if int8_check.passed else 'FAILED: the file is kept but not served'}")
        int8_entry = _place(
            part8,
            model_dir / ONNX_INT8_FILE,
            card.sha256,
            opset,
            usable=int8_check.passed,
            quantization=quantization,
            check=int8_check,
        )
    elif card.onnx and card.onnx.int8 and card.onnx.int8.weights_sha256 == card.sha256:
        int8_entry = card.onnx.int8  # an int8 file of these same weights stays as it was checked
    card.onnx = OnnxFiles(fp32=fp32, int8=int8_entry)
    card = ModelCard.parse(card.to_dict(), source="the card with its ONNX files")
    card.write(model_dir)
    return card
