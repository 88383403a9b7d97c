"""A tiny model the tests make whose calibration separates ``sigverify.synthetic_signatures`` writers.

The shared tiny model (random weights, default scoring) scores every synthetic signature as
genuine, so it cannot tell one writer from another. This one has the same architecture and
random weights, with its scoring fitted the way ``sigverify`` fits a real model's: reference
spread priors from genuine pairs, then the logistic map from z to P(genuine) on genuine
queries against other writers' signatures, all on writers the tests do not use (30-41).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CALIBRATION_WRITERS = range(30, 42)
SAMPLES = 6
REFERENCES = 3


def write_calibrated_tiny_model(directory, seed: int = 1, fused: bool = False) -> Path:
    """``fused``: the card also fuses a signer classifier's margin and ships a background set."""
    from sigverify.inference import Verifier
    from sigverify.scoring import ScoreModel, fit_calibration
    from sigverify.weights import CARD_FILE
    from testsupport.synthetic_data import signature_bytes
    from testsupport.tiny_model import write_tiny_model

    directory = write_tiny_model(directory, name="tiny-fused" if fused else "tiny-calibrated", seed=seed)
    verifier = Verifier.from_dir(directory)
    embeddings = {
        writer: verifier.embed_arrays(
            [verifier.preprocess(signature_bytes(writer, sample))[0] for sample in range(SAMPLES)]
        )
        for writer in CALIBRATION_WRITERS
    }
    pairs = np.concatenate(
        [(1.0 - e @ e.T)[np.triu_indices(REFERENCES, k=1)] for e in (v[:REFERENCES] for v in embeddings.values())]
    )
    base = ScoreModel(prior_mean=float(pairs.mean()), prior_std=float(pairs.std()), min_std=0.002)
    genuine, impostor = [], []
    for writer, vectors in embeddings.items():
        references = vectors[:REFERENCES]
        genuine += [base.z_score(q, references)[0] for q in vectors[REFERENCES:]]
        impostor += [base.z_score(embeddings[o][REFERENCES], references)[0] for o in embeddings if o != writer]
    fitted = fit_calibration(genuine, impostor, base)
    card_path = directory / CARD_FILE
    card = json.loads(card_path.read_text())
    card["scoring"] = fitted.to_dict()
    if fused:
        # A signer classifier's margin enters every R's score (weight 1), and a background ships with it.
        from sigverify.writer_dependent import write_background

        single = {"coef": fitted.coef, "intercept": fitted.intercept}
        card["scoring"]["by_references"] = {str(r): {**single, "fused": {**single, "wd_coef": 1.0}} for r in (1, 3, 5)}
        card["background"] = write_background(
            directory,
            np.concatenate([vectors[:2] for vectors in embeddings.values()]),
            [f"synthetic/{w}" for w in embeddings],
        )
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return directory
