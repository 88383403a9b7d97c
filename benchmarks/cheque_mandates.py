#!/usr/bin/env python
"""How the cheque decision keeps the two-of-three goals on drawn cheques, with the shipped model.

    nice -n 10 .venv/bin/python benchmarks/cheque_mandates.py [--accounts 10 --torch-threads 2]

For each of ``--accounts`` accounts (three directors in group A drawn as writers 3k+1..3k+3, four
drawn references each, mandate "2 of group A"), four cheques are decided by
``apps.mandates.services.cheque_decide`` (signature finder, one embedding per signature, every
signatory compared, the mandate evaluated):
- ``two_genuine``: two directors sign (goal: never returned);
- ``one_signature``: one director signs (goal: never paid);
- ``genuine_and_forgery``: one director and a forgery of another (goal: never paid);
- ``genuine_and_stranger``: one director and a writer who is no signatory (goal: never paid).
Printed: per case the counts of pay / refer / return, and the median milliseconds per cheque.
A throwaway SQLite database and media folder are used. Figures are merged into
benchmarks/results/<date>.json. Drawn signatures are not real ones: these are the rule's figures
on a clean case, not the model's error rates (the model card has those).
"""

from __future__ import annotations

import argparse
import statistics
import time

import benchlib  # puts backend/ on sys.path

REPO = benchlib.REPO
benchlib.in_process_backend("bench-mandates-")

CASES = ("two_genuine", "one_signature", "genuine_and_forgery", "genuine_and_stranger")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--torch-threads", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    import torch
    from django.core.management import call_command

    torch.set_num_threads(args.torch_threads)
    call_command("migrate", interactive=False, verbosity=0)
    from apps.accounts.services import user_create_with_roles
    from apps.mandates import services as mandates
    from apps.modelregistry.services import model_version_register
    from benchlib import machine_info, merge_results
    from testsupport.cheques import account_with_signatories, cheque_bytes

    model_version_register(REPO / "trained_model_parameters", activate=True)
    user = user_create_with_roles("bench", "bench-Strong-123", roles=["integrator"])
    counts = {case: {"pay": 0, "refer": 0, "return": 0} for case in CASES}
    millis = {case: [] for case in CASES}
    for index in range(args.accounts):
        writers = [3 * index + 1, 3 * index + 2, 3 * index + 3]
        number = f"ACC{index:04d}"
        account_with_signatories(
            user, number, f"Bench {index}", writers, references=4, prefix="W", title="Writer", reason="bench",
            size=(204, 110),
        )  # fmt: skip
        a, b, _ = writers
        stranger = 10_000 + index
        cheques = {
            "two_genuine": [(a, False), (b, False)],
            "one_signature": [(a, False)],
            "genuine_and_forgery": [(a, False), (b, True)],
            "genuine_and_stranger": [(a, False), (stranger, False)],
        }
        for case, signatures in cheques.items():
            image = cheque_bytes(signatures)
            started = time.perf_counter()
            decision = mandates.cheque_decide(account_number=number, amount="100.00", image=image)
            millis[case].append(1000 * (time.perf_counter() - started))
            counts[case][decision.decision] += 1
    figures = {case: {**counts[case], "median_ms": round(statistics.median(millis[case]), 1)} for case in CASES}
    for case in CASES:
        print(f"{case:22s} {figures[case]}")
    path = merge_results(
        {
            "mandates_two_genuine_returned": figures["two_genuine"]["return"],
            "mandates_never_paid_cases_paid": sum(figures[c]["pay"] for c in CASES[1:]),
            "mandates_cheque_median_ms": figures["two_genuine"]["median_ms"],
        },
        {"cheque_mandates": {"accounts": args.accounts, "cases": figures, "machine": machine_info()}},
        script="cheque_mandates",
    )
    print(f"merged into {path}")


if __name__ == "__main__":
    main()
