"""Enroll signers: create a signer (or pick one) and upload several reference signatures at once."""

from __future__ import annotations

import streamlit as st

import ui_common as ui
from api_client import ApiError

IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"]
RECOMMENDED_REFERENCES = 3

client = ui.api()
st.title("Enroll signers")

# -- 1. signer ------------------------------------------------------------------------------

st.subheader("1. Signer")
mode = st.radio(
    "Signer", ["New signer", "Existing signer"], horizontal=True, label_visibility="collapsed", key="enroll_mode"
)
signer = None
if mode == "New signer":
    with st.form("create_signer", clear_on_submit=False):
        columns = st.columns(2)
        external_id = columns[0].text_input("External id (account or customer number)", max_chars=64)
        full_name = columns[1].text_input("Full name", max_chars=200)
        create = st.form_submit_button("Create signer", type="primary", icon=":material/person_add:")
    if create:
        if not external_id.strip() or not full_name.strip():
            st.warning("Please give both the external id and the full name.")
        else:
            try:
                created = client.create_signer(external_id.strip(), full_name.strip())
            except ApiError as error:
                ui.show_error(error, "Signer not created")
            else:
                st.session_state["enroll_signer"] = created
                st.session_state.pop("enroll_result", None)
                st.success(
                    f"Signer {created.external_id} ({created.full_name}) created.", icon=":material/check_circle:"
                )
    signer = st.session_state.get("enroll_signer")
else:
    query = st.text_input("Find the signer by external id or name", key="enroll_query")
    if query.strip():
        found = ui.guarded(lambda: client.list_signers(search=query.strip()), "Signer search failed")
        if not found.results:
            st.info(f"No signer matches “{query.strip()}”.")
        else:
            by_id = {row.id: row for row in found.results}
            chosen = st.selectbox(
                "Signer",
                list(by_id),
                key="enroll_signer_choice",
                format_func=lambda i: f"{by_id[i].external_id} · {by_id[i].full_name}",
            )
            signer = by_id[chosen]
            previous = st.session_state.get("enroll_signer")
            if previous is None or previous.id != signer.id:
                st.session_state.pop("enroll_result", None)
            st.session_state["enroll_signer"] = signer

if not signer:
    st.info("Create a signer or choose an existing one, then add their reference signatures.")
    st.stop()

st.markdown(
    f"Enrolling references for **{signer.external_id} · {signer.full_name}**"
    + (" (suspended)" if signer.status == "suspended" else "")
)

# -- 2. references --------------------------------------------------------------------------

st.subheader("2. Reference signatures")
round_ = st.session_state.setdefault("enroll_round", 0)
files = st.file_uploader(
    "Signature images (choose several at once)",
    type=IMAGE_TYPES,
    accept_multiple_files=True,
    key=f"enroll_files_{round_}",
)
if st.button(f"Upload {len(files or [])} reference(s)", type="primary", disabled=not files, icon=":material/upload:"):
    with st.spinner("Checking and enrolling the images…"):
        try:
            result = client.upload_references(signer.external_id, [(f.name, f.getvalue(), f.type) for f in files])
        except ApiError as error:
            ui.show_error(error, "References not uploaded")
        else:
            st.session_state["enroll_result"] = result
            st.session_state["enroll_round"] = round_ + 1
            st.rerun()

result = st.session_state.get("enroll_result")
if result:
    if result.accepted:
        st.success(f"{len(result.accepted)} image(s) accepted.", icon=":material/check_circle:")
        st.dataframe(
            [{"file": row.original_name, "reference id": row.id} for row in result.accepted],
            hide_index=True,
            width="content",
        )
    if result.flagged:
        st.warning(
            f"{len(result.flagged)} image(s) flagged: far from this signer's other references (another "
            "person's signature on the card?). They are kept out of verification until accepted below.",
            icon=":material/flag:",
        )
        st.dataframe(
            [{"file": row.original_name, "reference id": row.id, "reason": row.flag.message} for row in result.flagged],
            hide_index=True,
            width="stretch",
        )
    if result.rejected:
        st.error(f"{len(result.rejected)} image(s) rejected.", icon=":material/cancel:")
        st.dataframe(
            [{"file": row.filename, "reason": row.message, "code": row.code} for row in result.rejected],
            hide_index=True,
            width="stretch",
        )

listed = ui.guarded(lambda: client.list_references(signer.external_id), "Cannot load references", stop=False)
if listed is not None:
    references = [ref for ref in listed if ref.status == "active"]
    flagged = [ref for ref in listed if ref.status == "pending_review"]
    if flagged:
        st.subheader("Flagged references")
        st.caption(
            "Each was far from the signer's other references when it was uploaded. Accept it if it is the "
            "signer's own signature (verifications then use it); reject it if it is not."
        )
        may_settle = ui.can("signers.change_referencesignature")
        for ref in flagged:
            columns = st.columns([1, 3, 1, 1])
            with columns[0]:
                ui.show_image(
                    ui.session_bytes(
                        ("r", signer.external_id, ref.id, False),
                        lambda ref=ref: client.reference_image(signer.external_id, ref.id),
                    ),
                    f"#{ref.id}",
                )
            columns[1].markdown(f"**{ref.original_name}**  \n{ref.flag.message if ref.flag else ''}")
            for column, accept, label in ((columns[2], True, "Accept"), (columns[3], False, "Reject")):
                if column.button(label, key=f"settle_{ref.id}_{label}", disabled=not may_settle):
                    try:
                        client.settle_reference(signer.external_id, ref.id, accept=accept)
                    except ApiError as error:
                        ui.show_error(error, f"Reference {ref.id} not changed")
                    else:
                        st.rerun()
    count = len(references)
    if count < RECOMMENDED_REFERENCES:
        st.warning(
            f"{signer.external_id} has only {count} reference signature(s). "
            f"Enroll at least {RECOMMENDED_REFERENCES} so that verification is reliable.",
            icon=":material/warning:",
        )
    else:
        st.info(f"{signer.external_id} has {count} reference signatures.", icon=":material/info:")
    if references:
        columns = st.columns(6)
        for index, ref in enumerate(references[:12]):
            data = ui.session_bytes(
                ("r", signer.external_id, ref.id, False),
                lambda ref=ref: client.reference_image(signer.external_id, ref.id),
            )
            with columns[index % 6]:
                ui.show_image(data, f"#{ref.id}")
