"""Clearing: upload an image cash letter, follow its run, read and filter the decision on every
check in it, open one, export them all."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui_common as ui
from api_client import ApiError

ITEM_DECISIONS = {"pay": "Pay", "refer": "Refer to a clerk", "return": "Return"}
REFRESH_S = 2.0
UPLOAD_LIMIT_MB = 500  # clearing files are larger than the 10 MB images the other pages take

client = ui.api()
st.title("Clearing files")

# -- upload ---------------------------------------------------------------------------------

if ui.can("clearing.add_clearingfile"):
    with st.form("clearing_upload", clear_on_submit=True):
        chosen = st.file_uploader(
            "Image cash letter (X9.37 / X9.100-187)",
            type=None,
            key="clearing_file_upload",
            max_upload_size=UPLOAD_LIMIT_MB,
            help="ASCII or EBCDIC, with or without record lengths. The file is read once before it is "
            f"accepted; one that cannot be read is refused with the record number and why. Up to "
            f"{UPLOAD_LIMIT_MB} MB here (the page holds it in memory); larger files go through the API.",
        )
        if st.form_submit_button("Send for clearing", icon=":material/upload:") and chosen is not None:
            try:
                accepted = client.upload_clearing_file((chosen.name, chosen.getvalue(), "application/octet-stream"))
            except ApiError as error:
                ui.show_error(error, "The file was refused")
            else:
                st.session_state["clearing_selected"] = accepted.id
                st.success(f"Accepted as clearing file {accepted.id}: {accepted.items.total} checks.")

# -- the files --------------------------------------------------------------------------------

files = ui.guarded(lambda: client.list_clearing_files(page_size=50), "Cannot load the clearing files").results
if not files:
    st.info("No clearing file yet.")
    st.stop()

labels = {f.id: f"#{f.id} {f.file_name or 'clearing file'} ({f.status}, {f.items.total} checks)" for f in files}
ids = list(labels)
selected = st.session_state.get("clearing_selected")
chosen_id = st.selectbox(
    "Clearing file",
    ids,
    index=ids.index(selected) if selected in ids else 0,
    format_func=labels.get,
    key="clearing_file_choice",
)
st.session_state["clearing_selected"] = chosen_id


@st.fragment(run_every=REFRESH_S)
def progress(file_id: int) -> None:
    """The run's state, refreshed every few seconds until it ends."""
    current = ui.guarded(lambda: client.get_clearing_file(file_id), "Cannot load the clearing file")
    st.progress(
        min(1.0, current.progress.fraction),
        text=f"{current.status}: {current.progress.items_finished} of {current.items.total} checks finished",
    )
    columns = st.columns(5)
    columns[0].metric("Pay", current.decisions.pay)
    columns[1].metric("Refer", current.decisions.refer)
    columns[2].metric("Return", current.decisions.return_)
    columns[3].metric("Failed", current.items.failed)
    columns[4].metric("Total (cents)", f"{current.amount_total_cents:,}")
    if current.totals_reconciled:
        st.caption(":material/check_circle: Item count and amounts agree with the file's control records.")
    else:
        st.warning("The file's control totals do not agree with its items:\n\n- " + "\n- ".join(current.discrepancies))
    if current.returns_skipped or current.credits_skipped:
        st.caption(f"Skipped: {current.returns_skipped} return(s), {current.credits_skipped} credit(s).")
    if current.error:
        st.error(current.error)
    if current.finished and st.session_state.get("clearing_finished") != file_id:
        st.session_state["clearing_finished"] = file_id
        st.rerun()  # the items table below is read once the run has ended


progress(chosen_id)

# -- the items --------------------------------------------------------------------------------

filters = st.columns([2, 2, 2])
decision = filters[0].selectbox(
    "Decision", ["any", *ITEM_DECISIONS], format_func=lambda d: ITEM_DECISIONS.get(d, "Any"), key="clearing_decision"
)
status = filters[1].selectbox("Status", ["any", "decided", "failed"], key="clearing_status")
account = filters[2].text_input("Account", key="clearing_account").strip()
query = {
    "decision": None if decision == "any" else decision,
    "status": None if status == "any" else status,
    "account": account or None,
}
page_key = (chosen_id, tuple(sorted((k, v) for k, v in query.items() if v)))
if st.session_state.get("clearing_page_key") != page_key:
    st.session_state["clearing_page_key"] = page_key
    st.session_state["clearing_page"] = 1
page_number = st.session_state.get("clearing_page", 1)
items = ui.guarded(
    lambda: client.list_clearing_items(chosen_id, page=page_number, page_size=50, **query), "Cannot load the items"
)
st.caption(f"{items.count} item(s) match.")
if items.results:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "item": item.key,
                    "account": item.account or "",
                    "amount": item.amount or "",
                    "decision": ITEM_DECISIONS.get(item.decision or "", ""),
                    "why": "; ".join(item.reasons) if item.decision else (item.failure.reason if item.failure else ""),
                }
                for item in items.results
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    nav = st.columns([1, 2, 1])
    if nav[0].button("← Previous", disabled=not items.previous, key="clearing_prev"):
        st.session_state["clearing_page"] = page_number - 1
        st.rerun()
    if nav[2].button("Next →", disabled=not items.next, key="clearing_next"):
        st.session_state["clearing_page"] = page_number + 1
        st.rerun()

    by_key = {item.key: item for item in items.results}
    opened = st.selectbox("Open an item", list(by_key), key="clearing_open")
    item = by_key[opened]
    with st.container(border=True):
        st.markdown(f"**Item {item.key}** (record {item.record_number}): account {item.account or '—'}, {item.amount}")
        if item.decision:
            st.markdown(f"Decision: **{ITEM_DECISIONS[item.decision]}**")
            for reason in item.reasons:
                st.markdown(f"- {reason}")
            if item.cheque:
                try:
                    st.image(client.cheque_image(item.cheque), caption="Front of the cheque")
                except ApiError as error:
                    ui.show_error(error, "Cannot load the cheque image")
        elif item.failure:
            st.error(f"Not decided ({item.failure.code}): {item.failure.reason}")

# -- export -----------------------------------------------------------------------------------

exports = st.columns(2)
for column, kind, mime in ((exports[0], "csv", "text/csv"), (exports[1], "json", "application/json")):
    data = ui.guarded(
        lambda kind=kind: client.export_clearing_file(chosen_id, kind, **query), "Cannot export", stop=False
    )
    column.download_button(
        f"Export {kind.upper()}",
        help="The items the filters above select, every page.",
        data=data or b"",
        disabled=data is None,
        file_name=f"clearing-{chosen_id}.{kind}",
        mime=mime,
        key=f"clearing_export_{kind}",
        icon=":material/download:",
    )
