"""Verification history: filter, page through, export as CSV, chart, and open one record."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import ui_common as ui

EXPORT_LIMIT = 5000
DECISIONS = ["genuine", "refer", "forgery"]

client = ui.api()
st.title("Verification history")

# -- filters ------------------------------------------------------------------------------

today = dt.date.today()
work_queue = st.toggle(
    "Work queue: referred, not yet reviewed",
    key="history_queue",
    help="The cheques the model referred to a person that nobody has reviewed yet.",
)
columns = st.columns([2, 2, 2, 2])
dates = columns[0].date_input(
    "Date range", value=(today - dt.timedelta(days=30), today), max_value=today, key="history_dates"
)
signer = columns[1].text_input("Signer (external id)", key="history_signer").strip()
decision = columns[2].selectbox(
    "Decision",
    ["any"] + DECISIONS,
    key="history_decision",
    disabled=work_queue,
    format_func=lambda d: "Any" if d == "any" else ui.DECISION_LABELS[d],
)
clerk = columns[3].text_input("Clerk (username)", key="history_clerk").strip()
if work_queue:
    decision = "refer"

start, end = (
    dates
    if isinstance(dates, (list, tuple)) and len(dates) == 2
    else (dates[0] if isinstance(dates, (list, tuple)) and dates else dates, None)
)
filters = {
    "signer": signer or None,
    "decision": None if decision == "any" else decision,
    "requested_by": clerk or None,
    "date_from": start.isoformat() if start else None,  # both days inclusive
    "date_to": end.isoformat() if end else None,
    "reviewed": "false" if work_queue else None,
}
filter_key = tuple(sorted((k, v) for k, v in filters.items() if v))
if st.session_state.get("history_filter_key") != filter_key:
    st.session_state["history_filter_key"] = filter_key
    st.session_state["history_page"] = 1
    st.session_state.pop("history_all", None)

# -- table --------------------------------------------------------------------------------

page_number = st.session_state.get("history_page", 1)
page = ui.guarded(lambda: client.list_verifications(page=page_number, **filters), "Cannot load the history")
rows, total = page.results, page.count

table_row = ui.verification_row

st.caption(f"{total} verification(s) match.")
if rows:
    st.dataframe(
        pd.DataFrame([table_row(row) for row in rows]),
        hide_index=True,
        width="stretch",
        column_config={"score": st.column_config.ProgressColumn("score", min_value=0, max_value=1, format="%.3f")},
    )
    nav = st.columns([1, 2, 1])
    if nav[0].button("← Newer", disabled=not page.previous, key="history_prev"):
        st.session_state["history_page"] = page_number - 1
        st.rerun()
    nav[1].markdown(f"<div style='text-align:center'>Page {page_number}</div>", unsafe_allow_html=True)
    if nav[2].button("Older →", disabled=not page.next, key="history_next"):
        st.session_state["history_page"] = page_number + 1
        st.rerun()
elif work_queue:
    st.success(
        "The work queue is empty: every referred cheque in these dates has been reviewed.", icon=":material/task_alt:"
    )
else:
    st.info("No verification matches these filters.")

# -- every filtered row: chart and CSV ---------------------------------------------------

if total:
    all_rows = st.session_state.get("history_all")
    if all_rows is None:
        all_rows = (
            ui.guarded(
                lambda: client.all_verifications(limit=EXPORT_LIMIT, **filters),
                "Cannot load the rows for the chart and export",
                stop=False,
            )
            or []
        )
        st.session_state["history_all"] = all_rows
    if all_rows:
        chart_data = (
            pd.DataFrame(
                {
                    "day": [row.created_at.date().isoformat() for row in all_rows],
                    "decision": [ui.DECISION_LABELS.get(row.decision, row.decision) for row in all_rows],
                }
            )
            .groupby(["day", "decision"])
            .size()
            .reset_index(name="verifications")
        )
        st.markdown("**Decisions per day**")
        chart = (
            alt.Chart(chart_data, height=180)
            .mark_bar(size=28)
            .encode(
                x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=0)),
                y=alt.Y("verifications:Q", title="verifications"),
                color=alt.Color(
                    "decision:N",
                    scale=alt.Scale(
                        domain=[ui.DECISION_LABELS[d] for d in DECISIONS],
                        range=[ui.DECISION_COLOURS[d] for d in DECISIONS],
                    ),
                    legend=alt.Legend(orient="bottom"),
                ),
                tooltip=["day:O", "decision:N", "verifications:Q"],
            )
        )
        st.altair_chart(chart, width="stretch")

        note = f" (first {EXPORT_LIMIT})" if len(all_rows) >= EXPORT_LIMIT else ""
        st.download_button(
            f"Export {len(all_rows)} filtered row(s) as CSV{note}",
            ui.verifications_csv(all_rows),
            file_name=f"verifications-{today.isoformat()}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="history_csv",
        )

# -- detail -------------------------------------------------------------------------------

if rows:
    st.divider()
    st.subheader("Details")
    by_id = {row.id: row for row in rows}
    chosen = st.selectbox(
        "Open a verification",
        [None] + list(by_id),
        key="history_open",
        format_func=lambda i: (
            "Choose one…"
            if i is None
            else f"#{i} · {table_row(by_id[i])['when']} · {table_row(by_id[i])['signer']} · "
            f"{table_row(by_id[i])['decision']}"
        ),
    )
    if chosen is not None:
        record = ui.guarded(lambda: client.get_verification(chosen), "Cannot open this verification")
        ui.render_verification(client, record, allow_review=ui.can_review(), key_prefix="history-")
