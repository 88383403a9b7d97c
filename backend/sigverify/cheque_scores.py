"""Scores of signatures cut from whole cheques, for operating points that hold on cheques (issue 19).

A signature the finder cuts from a whole cheque scores lower against clean references than the
same signature as a clean crop: the capture thins or breaks the strokes, and print, stamps and the
signature line around it stay in the crop. At the clean-crop points, genuine cheque signatures of
the shipped model's validation writers were decided forgery 15-29% of the time per dataset, and
skilled forgeries of two datasets accepted 1.1-1.4%. So a model's scores file also holds the calibrated scores of signatures on
generated cheques (``StoredScores.cheque``), and ``policy.thresholds_for`` fits a ``cheque`` pair
from the validation writers' ones by the same every-dataset rule: a crop found on a whole cheque
is decided with a pair never looser than its R's own.

The protocol: each writer's first R genuine signatures are the clean references; its next
``queries`` genuine signatures and first ``queries`` skilled forgeries each sign a generated
cheque (other training writers fill the date, payee and amount) captured grey, thresholded and
dithered; the box the service takes for ``"crop": "auto"`` (``cheque.find_signature_region``) is
cut, preprocessed and scored, with the writer's classifier fused in where the model fuses one.
Validation writers sign the TRAINING layout families, so no fitted point has seen a held-out
layout; test writers sign the held-out ones (the cheques ``benchmarks/whole_cheques.py`` uses).
A crop the quality gate refuses, or a cheque where the finder finds nothing (the service refers
it: quality check ``not_found``), is referred whatever the score: it is counted, not scored.
Django-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from . import chequegen
from .cheque import find_signature_region
from .preprocess import load_image, preprocess_image
from .signature_finder import find_signatures
from .writer_dependent import fit_signer_classifier

CAPTURES = ("grey", "bilevel", "dithered")
FAMILIES = {"val": chequegen.TRAINING_FAMILIES, "test": chequegen.HELD_OUT_FAMILIES}
SEEDS = {"val": 700_000, "test": 0}  # test: the cheques of benchmarks/whole_cheques.py


@dataclass(frozen=True)
class ChequeProtocol:
    references: int = 5
    queries: dict | None = None  # split -> genuine (and as many skilled) queries per writer
    captures: tuple[str, ...] = CAPTURES

    def queries_for(self, split: str) -> int:
        return (self.queries or {"val": 12, "test": 4})[split]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["captures"] = list(self.captures)
        out["queries"] = {s: self.queries_for(s) for s in FAMILIES}
        out["families"] = {s: list(f) for s, f in FAMILIES.items()}
        return out


def writer_order(writers, seed: int = 0) -> list[str]:
    """The writers in the benchmark's order (a seeded shuffle), so the first n are its n."""
    rng = np.random.default_rng(seed)
    return sorted(writers, key=lambda w: rng.random())


def cheque_scores(verifier, signers, fillers, split: str, protocol: ChequeProtocol, background=None, log=None) -> dict:
    """{dataset: {"genuine", "skilled", "random" (empty): calibrated scores, "referred": count}} of
    ``signers``' (a ``chequegen.DatasetInk`` of one split) signatures cut from whole cheques.
    ``background``: the model's shipped background embeddings; each writer's classifier is fitted
    on its references against them, as the stored scores of clean crops were (``evaluate``)."""
    out: dict = {}
    queries = protocol.queries_for(split)
    for name in sorted({w.split("/")[0] for w in signers.writers}):
        seed = SEEDS[split]
        scores = {"genuine": [], "skilled": [], "random": [], "referred": 0}
        writers = writer_order([w for w in signers.writers if w.split("/")[0] == name])
        # a bar per dataset where the caller logs (the CLI, publish): a split takes minutes
        for writer in tqdm(writers, desc=f"cheques {split} {name}", unit="writer", disable=log is None):
            genuine = signers.samples[writer]["genuine"]
            forged = signers.samples[writer]["forged"]
            refs = [usable_array(verifier, load_image(p)) for p in genuine[: protocol.references]]
            refs = [r for r in refs if r is not None]
            picks = [(True, p) for p in genuine[protocol.references : protocol.references + queries]]
            picks += [(False, p) for p in forged[:queries]]
            if not refs:
                continue
            reference_matrix = verifier.embed_arrays(refs)
            classifier = None if background is None else fit_signer_classifier(reference_matrix, background)
            arrays, kinds = [], []
            for is_genuine, path in picks:
                darkness = chequegen._dataset_darkness(str(path))
                for capture in CAPTURES:
                    seed += 1  # one seed per query and capture, as the benchmark counts
                    if capture not in protocol.captures:
                        continue
                    cheque = chequegen.generate_cheque(
                        seed, fillers, families=FAMILIES[split], capture=capture, signatures=[darkness]
                    )
                    found = find_signatures(cheque.image)
                    array = None
                    if found:  # nothing found: the service refers it (quality check not_found)
                        box = find_signature_region(cheque.image, found).box
                        array = usable_array(verifier, cheque.image, crop=box)
                    if array is None:
                        scores["referred"] += 1
                        continue
                    arrays.append(array)
                    kinds.append("genuine" if is_genuine else "skilled")
            for kind, embedding in zip(kinds, verifier.embed_arrays(arrays) if arrays else [], strict=True):
                scores[kind].append(float(verifier.score(embedding, reference_matrix, classifier).score))
        out[name] = {k: (np.asarray(v, np.float64) if k != "referred" else v) for k, v in scores.items()}
        if log:
            log(
                f"cheque scores {split} {name}: {len(writers)} writers, {len(scores['genuine'])} genuine and "
                f"{len(scores['skilled'])} skilled scored, {scores['referred']} referred (nothing found, or refused by the quality gate)"
            )
    return out


def usable_array(verifier, image, crop=None):
    """The preprocessed array, or None where preprocessing refuses it or the quality gate does:
    the product refers those."""
    try:
        array, quality = preprocess_image(image, size=verifier.input_size, crop=crop)
    except Exception:  # noqa: BLE001 - a refused image is referred, as the service refers it
        return None
    return array if getattr(quality, "usable", True) else None


def add_cheque_scores(
    scores, verifier, folders, split_file, protocol: ChequeProtocol, background=None, log=None
) -> None:
    """Fill ``scores.cheque`` (a ``policy.StoredScores``) with the validation and test writers' cheque
    scores of the organised dataset ``folders``; the field handwriting comes from training writers."""
    from .pairs import read_splits
    from .policy import KINDS

    splits = read_splits(split_file)
    fillers = chequegen.DatasetInk.from_folders(folders, splits, "train")
    for split in FAMILIES:
        signers = chequegen.DatasetInk.from_folders(folders, splits, split)
        by_dataset = cheque_scores(verifier, signers, fillers, split, protocol, background=background, log=log)
        scores.cheque[split] = {name: {k: by_kind[k] for k in KINDS} for name, by_kind in by_dataset.items()}
    scores.cheque_protocol = protocol.to_dict()
