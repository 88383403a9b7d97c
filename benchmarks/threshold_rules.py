#!/usr/bin/env python
"""How each rule for fitting the operating points on validation writers holds on test writers.

    PYTHONPATH=backend .venv/bin/python benchmarks/threshold_rules.py [--model trained_model_parameters]

Reads the calibrated validation and test scores the model card ships (``scores.json``, every R of
``scoring.REFERENCE_BUCKETS``), fits ``accept`` (1% of each dataset's skilled forgeries accepted) and
``reject`` (1% of each dataset's genuine rejected) on the VALIDATION writers by each rule, and prints
per R and test dataset: forgeries accepted, genuine rejected, and the share of genuine and skilled
queries decided without a human. No model is run.

Rules:
- ``plain``: the shipped one (``sigverify.policy``): at most floor(target * n) of n validation scores
  on the wrong side;
- ``succession``: at most the largest k with (k + 1) / (n + 2) <= target (Laplace's rule of
  succession), a guard against a quantile fitted on few writers.
"""

from __future__ import annotations

import argparse

import numpy as np

from sigverify.policy import SCORES_FILE, StoredScores, outcome

TARGET = 0.01
REPORT_R = (1, 2, 3, 5, 10)


def allowed(n: int, rule: str) -> int:
    if rule == "succession":
        return int(np.floor(TARGET * (n + 2) - 1 + 1e-9))
    return int(np.floor(TARGET * n))


def accept_at(skilled: np.ndarray, rule: str) -> float:
    values = np.sort(skilled)
    k = allowed(len(values), rule)
    return float(np.nextafter(values[-1] if k < 0 else values[len(values) - 1 - min(k, len(values) - 1)], np.inf))


def reject_at(genuine: np.ndarray, rule: str) -> float:
    values = np.sort(genuine)
    k = allowed(len(values), rule)
    return float(values[0] if k < 0 else values[min(k, len(values) - 1)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="trained_model_parameters")
    args = parser.parse_args()
    scores = StoredScores.read(f"{args.model}/{SCORES_FILE}")
    print(f"{'R':>3s} {'rule':10s} {'accept':>7s} {'reject':>7s} | per test dataset: FA / GR / automated")
    for r in REPORT_R:
        one = scores.at(r)
        val = one.scores["val"]
        for rule in ("plain", "succession"):
            accept = max(accept_at(np.asarray(v["skilled"]), rule) for v in val.values())
            reject = min(min(reject_at(np.asarray(v["genuine"]), rule) for v in val.values()), accept)
            cells = []
            for name, by in sorted(one.scores["test"].items()):
                o = outcome(by["genuine"], by["skilled"], by["random"], accept, reject)
                cells.append(
                    f"{name} {100 * o['forgeries_accepted']:.2f}/{100 * o['genuine_rejected']:.2f}/"
                    f"{100 * (1 - o['referred']):.1f}"
                )
            print(f"{r:3d} {rule:10s} {accept:7.4f} {reject:7.4f} | " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
