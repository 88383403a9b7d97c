"""The operating policy of a model version, on the Models page.

A bank chooses two targets: the share of skilled forgeries that may be accepted and the share of
genuine signatures that may be rejected (0.1-5% each). The API turns them into the ``accept`` and
``reject`` thresholds from the version's validation scores. Here ML staff see what the current policy
does on the test writers, the trade-off over every policy (referred share against forgeries accepted),
preview a policy, and apply it with a reason.
"""

from __future__ import annotations

import streamlit as st

import ui_common as ui
from api_client import ApiError, NotFound
from api_models import ModelVersion, PolicyOutcome, PolicyPreview, PolicyState, PolicySweepRow

CHANGE_POLICY = "modelregistry.change_operating_policy"
TARGET_MIN_PCT, TARGET_MAX_PCT = 0.1, 5.0


def pct(value, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%" if isinstance(value, (int, float)) else "–"


def preview_sentence(preview: PolicyPreview) -> str:
    """ "At 0.5% forgeries accepted ...: 31.2% referred, 0.8% genuine rejected ... on test writers"."""
    policy, test, thresholds = preview.policy, preview.test, preview.thresholds
    return (
        f"At {pct(policy.far_skilled)} forgeries accepted and {pct(policy.frr)} genuine rejected: "
        f"**{pct(test.referred)} referred**, {pct(test.genuine_rejected)} genuine rejected and "
        f"{pct(test.forgeries_accepted)} skilled forgeries accepted on test writers "
        f"({test.queries.genuine} genuine, {test.queries.skilled} skilled forgeries); "
        f"accept ≥ {thresholds.accept:.4f}, reject < {thresholds.reject:.4f}."
    )


def outcome_rows(preview: PolicyPreview) -> list[dict]:
    """One labelled row per test dataset (and all together) for a preview."""
    parts: list[tuple[str, PolicyOutcome]] = [
        *sorted(preview.test_by_dataset.items()),
        ("all test writers", preview.test),
    ]
    return [
        {
            "test writers": name,
            "forgeries accepted": pct(outcome.forgeries_accepted),
            "genuine rejected": pct(outcome.genuine_rejected),
            "referred": pct(outcome.referred),
            "random forgeries accepted": pct(outcome.random_accepted),
        }
        for name, outcome in parts
    ]


def policy_figure(sweep: list[PolicySweepRow], current: PolicyPreview | None, title: str = ""):
    """Referred share against forgeries accepted (test writers) over the range of policies, current one marked."""
    from matplotlib.figure import Figure

    rows = [r for r in sweep if r.forgeries_accepted is not None and r.referred is not None]
    if not rows:
        return None
    figure = Figure(figsize=(5.2, 3.4), dpi=100)
    axes = figure.add_subplot()
    x = [100 * r.forgeries_accepted for r in rows]
    y = [100 * r.referred for r in rows]
    axes.plot(
        x,
        y,
        color="#1a73e8",
        marker="o",
        markersize=3,
        linewidth=1.5,
        label=f"policies: forgery target {pct(rows[0].far_skilled)} to {pct(rows[-1].far_skilled)}",
    )
    for row, xi, yi in ((rows[0], x[0], y[0]), (rows[-1], x[-1], y[-1])):
        axes.annotate(
            f"target {pct(row.far_skilled)}",
            (xi, yi),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=7,
            color="#1a73e8",
        )
    test = current.test if current else None
    if test and test.forgeries_accepted is not None and test.referred is not None:
        axes.plot(
            [100 * test.forgeries_accepted],
            [100 * test.referred],
            marker="*",
            markersize=14,
            color="#c5221f",
            linestyle="none",
            label=f"current policy ({pct(current.policy.far_skilled)} / {pct(current.policy.frr)})",
        )
    axes.set_xlabel("skilled forgeries accepted, test writers (%)")
    axes.set_ylabel("referred to a human (%)")
    axes.set_title(title or "Referred share against forgeries accepted", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    return figure


def _history(state: PolicyState) -> None:
    if not state.changes:
        return
    st.markdown("**Policy changes**")
    st.dataframe(
        [
            {
                "when": ui.when(c.changed_at)[:16],
                "by": c.changed_by,
                "forgeries accepted": f"{pct(c.old_far_skilled)} → {pct(c.new_far_skilled)}",
                "genuine rejected": f"{pct(c.old_frr)} → {pct(c.new_frr)}",
                "accept": f"{c.old_thresholds.accept:.4f} → {c.new_thresholds.accept:.4f}",
                "reject": f"{c.old_thresholds.reject:.4f} → {c.new_thresholds.reject:.4f}",
                "reason": c.reason,
            }
            for c in state.changes
        ],
        hide_index=True,
        width="stretch",
    )


def render_policy(client, version: ModelVersion) -> None:
    """The policy block of one version: figures at the current policy, the trade-off plot, preview and apply."""
    vid = version.id
    st.markdown("#### Operating policy")
    try:
        state = client.get_policy(vid)
    except NotFound:
        st.caption("This server does not offer operating policies.")
        return
    except ApiError as error:
        ui.show_error(error, "Cannot load the policy")
        return
    st.markdown(
        f"At most **{pct(state.far_skilled)}** of skilled forgeries accepted and **{pct(state.frr)}** of "
        f"genuine signatures rejected: genuine at a score ≥ **{state.thresholds.accept:.4f}**, "
        f"forgery below **{state.thresholds.reject:.4f}**, refer in between."
    )
    if not state.validation_scores.available:
        error = state.validation_scores.error
        message = error.message if error else "This version has no validation scores."
        st.info(f"The thresholds are the model card's. {message}", icon=":material/info:")
        _history(state)
        return

    current = state.preview
    plot, figures = st.columns([3, 2])
    figure = policy_figure(
        state.sweep, current, title=f"Policies at {pct(state.frr)} genuine rejected · {version.name}"
    )
    if figure is not None:
        plot.pyplot(figure, width="stretch")
    if current:
        figures.metric("forgeries accepted (test writers)", pct(current.test.forgeries_accepted))
        figures.metric("genuine rejected (test writers)", pct(current.test.genuine_rejected))
        figures.metric(
            "referred (test writers)",
            pct(current.test.referred),
            help="Share of the genuine signatures and skilled forgeries sent to a human. The README's "
            "'decided without a human' counts other writers' signatures (random forgeries) too, "
            "which are easy to decide, so it refers fewer.",
        )
    figures.caption(
        "Thresholds are set on the validation writers; the figures are measured on the test writers, "
        "which chose none of them."
    )

    if not ui.can(CHANGE_POLICY):
        st.caption("Only ML staff and administrators may change the policy.")
        _history(state)
        return
    _change_form(client, version, state)
    _history(state)


def _change_form(client, version: ModelVersion, state: PolicyState) -> None:
    vid = version.id
    preview_key = f"policy_preview_{vid}"
    with st.container(border=True):
        st.markdown("**Preview a policy**")
        inputs = st.columns(2)
        far = inputs[0].number_input(
            "Skilled forgeries accepted at most (%)",
            TARGET_MIN_PCT,
            TARGET_MAX_PCT,
            round(100 * state.far_skilled, 2),
            step=0.1,
            format="%.2f",
            key=f"policy_far_{vid}",
        )
        frr = inputs[1].number_input(
            "Genuine signatures rejected at most (%)",
            TARGET_MIN_PCT,
            TARGET_MAX_PCT,
            round(100 * state.frr, 2),
            step=0.1,
            format="%.2f",
            key=f"policy_frr_{vid}",
        )
        wanted = {"far_skilled": round(far / 100, 6), "frr": round(frr / 100, 6)}
        if st.button("Preview", key=f"policy_preview_button_{vid}", icon=":material/visibility:"):
            try:
                st.session_state[preview_key] = client.preview_policy(vid, **wanted)
            except ApiError as error:
                ui.show_error(error, "No preview")
        preview = st.session_state.get(preview_key)
        if not preview:
            return
        st.info(preview_sentence(preview), icon=":material/query_stats:")
        st.dataframe(outcome_rows(preview), hide_index=True, width="stretch")
        previewed = {"far_skilled": round(preview.policy.far_skilled, 6), "frr": round(preview.policy.frr, 6)}
        if previewed != wanted:
            st.warning("The targets changed since this preview: preview them again before applying.")
            return
        reason = st.text_area("Reason for the change (kept in the audit trail)", key=f"policy_reason_{vid}")
        if st.button("Apply this policy", type="primary", key=f"policy_apply_{vid}", icon=":material/check:"):
            if not reason.strip():
                st.error("Give a reason: every policy change is audited.")
                return
            try:
                client.set_policy(vid, reason=reason.strip(), **previewed)
            except ApiError as error:
                ui.show_error(error, "Policy not changed")
                return
            st.session_state.pop(preview_key, None)
            st.session_state["policy_applied"] = (
                f"Policy of {version.name} set to {pct(previewed['far_skilled'])} forgeries accepted and "
                f"{pct(previewed['frr'])} genuine rejected."
            )
            st.rerun()
