"""The printed summary of an evaluation report (``sigverify evaluate``)."""

from __future__ import annotations


def print_summary(report: dict) -> None:
    rows = [
        ("writers", report["writers"]),
        ("references", report["references"]),
        (
            "queries genuine/skilled/random",
            f"{report['genuine_queries']}/{report['skilled_queries']}/{report['random_queries']}",
        ),
        ("skilled EER (global threshold)", f"{100 * report['skilled']['eer']:.2f}%"),
        ("skilled EER (per-writer threshold)", f"{100 * report['user_threshold_eer_skilled']:.2f}%"),
        ("skilled AUC", f"{report['skilled']['auc']:.4f}"),
        ("random EER", f"{100 * report['random']['eer']:.2f}%"),
        ("random AUC", f"{report['random']['auc']:.4f}"),
        ("shipped threshold", f"{report['threshold']:.4f}"),
        (
            "FRR / FAR skilled / FAR random at it",
            "{:.2f}% / {:.2f}% / {:.2f}%".format(
                *(100 * report["at_threshold"][k] for k in ("frr", "far_skilled", "far_random"))
            ),
        ),
        ("accept / reject thresholds", "{accept:.4f} / {reject:.4f}".format(**report["decisions"])),
        (
            "forgeries decided genuine (skilled / random)",
            "{:.2f}% / {:.2f}%".format(
                *(100 * report["decisions"][k] for k in ("far_skilled_at_accept", "far_random_at_accept"))
            ),
        ),
        ("genuine decided forgery", f"{100 * report['decisions']['frr_at_reject']:.2f}%"),
        (
            "referred to a human / automated",
            "{:.1f}% / {:.1f}%".format(*(100 * report["decisions"][k] for k in ("referred", "automated"))),
        ),
        ("model sha256", report["model_sha256"][:16] + "…"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if report.get("by_references"):
        print("\n R  skilled EER  random EER  accept  reject  skilled accepted  genuine rejected  automated")
        for r, one in report["by_references"].items():
            d = one["decisions"]
            print(
                f"{int(r):2d}  {one['skilled']['eer']:10.2%}  {one['random']['eer']:10.2%}  {d['accept']:.4f}  "
                f"{d['reject']:.4f}  {d['far_skilled_at_accept']:16.2%}  {d['frr_at_reject']:16.2%}  {d['automated']:9.1%}"
            )
