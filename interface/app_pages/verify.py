"""Verify a cheque signature: pick the signer, upload the questioned image (a crop, or a whole
cheque on which the service proposes the signature box and the clerk drags it), and read the
decision, the score and the closest references."""

from __future__ import annotations

import streamlit as st

import signature_box
import ui_common as ui
from api_client import ApiError
from api_models import Reference

IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"]
THUMBNAILS = 8

client = ui.api()
st.title("Verify a cheque signature")

# -- 1. signer ------------------------------------------------------------------------------

left, right = st.columns([2, 3], gap="large")
signer = None
with left:
    st.subheader("1. Signer")
    query = st.text_input(
        "Find the signer by account / external id or name", key="verify_query", placeholder="e.g. ACC-00123 or Smith"
    )
    if query.strip():
        found = ui.guarded(lambda: client.list_signers(search=query.strip()), "Signer search failed")
        if not found.results:
            st.info(f"No signer matches “{query.strip()}”.")
        else:
            by_id = {row.id: row for row in found.results}
            chosen = st.selectbox(
                f"Signer ({found.count} found)",
                list(by_id),
                key="verify_signer",
                format_func=lambda i: (
                    f"{by_id[i].external_id} · {by_id[i].full_name}"
                    + (" (suspended)" if by_id[i].status == "suspended" else "")
                ),
            )
            signer = by_id.get(chosen)

references: list[Reference] = []
with right:
    if signer:
        st.subheader(signer.full_name)
        st.caption(f"External id {signer.external_id} · status {signer.status}")
        if signer.status == "suspended":
            st.warning(
                "This signer is suspended: the service will refuse to verify their cheques.", icon=":material/block:"
            )
        references = (
            ui.guarded(lambda: client.list_references(signer.external_id), "Cannot load references", stop=False) or []
        )
        if not references:
            st.warning(
                "This signer has no reference signatures yet, so nothing can be compared. "
                "Ask an integrator to enroll some.",
                icon=":material/warning:",
            )
        else:
            st.markdown(f"**Reference signatures** ({len(references)})")
            shown = references[:THUMBNAILS]
            images = [
                ui.session_bytes(
                    ("r", signer.external_id, ref.id, False),
                    lambda ref=ref: client.reference_image(signer.external_id, ref.id),
                )
                for ref in shown
            ]
            columns = st.columns(4)
            for index, (ref, data) in enumerate(zip(shown, images, strict=True)):
                with columns[index % 4]:
                    ui.show_image(data, f"#{ref.id}")
            if len(references) > THUMBNAILS:
                st.caption(f"and {len(references) - THUMBNAILS} more")
    else:
        st.info("Find and choose the signer whose signature is on the cheque.", icon=":material/search:")

st.divider()

# -- 2. questioned image ------------------------------------------------------------------

st.subheader("2. Questioned signature")
uploader_round = st.session_state.setdefault("verify_round", 0)
upload = st.file_uploader(
    "Upload the signature crop or the whole cheque scan", type=IMAGE_TYPES, key=f"verify_upload_{uploader_round}"
)
cheque_reference = st.text_input(
    "Cheque reference (optional)",
    key=f"verify_cheque_{uploader_round}",
    max_chars=100,
    placeholder="e.g. the cheque number",
)

crop = None
if upload is not None:
    content = upload.getvalue()
    picture = ui.open_picture(content)
    if picture is None:
        st.warning(
            "The interface cannot open this file as an image. You can still send it; "
            "the service will say what is wrong.",
            icon=":material/image_not_supported:",
        )
    else:
        width, height = picture.size
        looks_like_cheque = width >= 900 and width / max(height, 1) >= 1.6
        kind = st.radio(
            "What did you upload?",
            ["Signature only", "Whole cheque: mark the signature box"],
            index=1 if looks_like_cheque else 0,
            horizontal=True,
            key=f"verify_kind_{uploader_round}_{upload.file_id}",
        )
        if kind.startswith("Whole cheque"):
            key = f"{uploader_round}_{upload.file_id}"
            proposals, confidences, note = signature_box.proposed_boxes(client, upload, content, (width, height))
            st.caption(
                f"{note} Drag a new rectangle over the signature to change it. The scan is {width} × {height} pixels."
            )
            active = 0
            if len(proposals) > 1:  # a joint or company cheque: each signature is verified on its own
                active = st.radio(
                    "Which signature to verify",
                    list(range(len(proposals))),
                    format_func=lambda i: (
                        f"Signature {i + 1}" + (f" (confidence {confidences[i]:.2f})" if i < len(confidences) else "")
                    ),
                    horizontal=True,
                    key=f"crop_active_{key}",
                )
            drawn = signature_box.drag_box(picture, proposals, key=f"crop_canvas_{key}", active=active)
            proposal = proposals[active]
            back = "Back to the proposed box" + ("es" if len(proposals) > 1 else "")
            if st.button(back, icon=":material/restart_alt:", key=f"crop_reset_{key}"):
                signature_box.reset(f"crop_canvas_{key}", proposals)
                st.rerun()
            with st.expander("Cannot drag? Type the box in pixels"):
                typed = st.toggle("Use these numbers instead of the drawn box", key=f"crop_typed_{key}")
                box = st.columns(4)
                px, py, pw, ph = proposal
                x = box[0].number_input("Left (x)", 0, width - 1, px, step=10, key=f"crop_x_{key}")
                y = box[1].number_input("Top (y)", 0, height - 1, py, step=10, key=f"crop_y_{key}")
                w = box[2].number_input("Width", 1, width, pw, step=10, key=f"crop_w_{key}")
                h = box[3].number_input("Height", 1, height, ph, step=10, key=f"crop_h_{key}")
            crop = signature_box.clip_box((x, y, w, h) if typed else drawn, width, height)
            x, y, w, h = crop
            st.image(
                picture.crop((x, y, x + w, y + h)), caption=f"What will be checked ({w} × {h} px)", width=min(w, 500)
            )
        else:
            st.image(picture, caption=f"{upload.name} ({width} × {height} px)", width=min(width, 500))

ready = signer is not None and upload is not None
if st.button("Verify signature", type="primary", disabled=not ready, icon=":material/fact_check:"):
    with st.spinner("Checking the signature…"):
        try:
            record = client.verify(
                signer.external_id,
                (upload.name, upload.getvalue(), upload.type),
                crop=crop,
                cheque_reference=cheque_reference.strip() or None,
            )
        except ApiError as error:
            st.session_state.pop("verify_result", None)
            ui.show_error(error, "Not verified")
        else:
            st.session_state["verify_result"] = record
if not ready:
    st.caption("Choose a signer and upload an image to verify.")

# -- 3. result ----------------------------------------------------------------------------

record = st.session_state.get("verify_result")
if record:
    st.divider()
    st.subheader("3. Result")
    ui.render_verification(client, record, allow_review=ui.can_review(), key_prefix="verify-")
    if st.button("Start a new verification", icon=":material/restart_alt:"):
        st.session_state.pop("verify_result", None)
        st.session_state["verify_round"] = uploader_round + 1
        st.rerun()
