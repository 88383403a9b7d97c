"""Cheque review: decide a whole cheque against an account, or open one from the work queue; see each
signature found (boxed on the cheque), whom it matched and that signatory's references by
similarity, why it was referred, and record the call: pay, return, or park a special case."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from PIL import ImageDraw

import ui_common as ui
from api_client import ApiError
from api_models import ChequeDecision

IMAGE_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"]
OUTCOME_LABELS = {"pay": "Pay", "refer": "Refer to a clerk", "return": "Return"}
OUTCOME_STYLE = {"pay": "genuine", "refer": "refer", "return": "forgery"}  # the verification colours
REVIEW_LABELS = {"pay": "Pay", "return": "Return", "park": "Park (special case)"}
BOX_COLOURS = {"genuine": "#1e7e34", "refer": "#b26a00", "forgery": "#c5221f"}
REFERENCES_SHOWN = 4

client = ui.api()
st.title("Cheque review")

# -- decide a new cheque, or pick one from the queue ----------------------------------------------

if ui.can("mandates.add_chequedecision"):
    with st.expander("Decide a cheque", expanded="cheque_id" not in st.session_state):
        round_ = st.session_state.setdefault("cheque_round", 0)
        with st.form(f"decide_cheque_{round_}"):
            cols = st.columns(3)
            account = cols[0].text_input("Account number")
            amount = cols[1].text_input("Amount", placeholder="e.g. 1250.00")
            cheque_date = cols[2].date_input("Cheque date", value=dt.date.today())
            reference = st.text_input("Cheque reference (optional)", max_chars=100)
            upload = st.file_uploader("The whole cheque (front)", type=IMAGE_TYPES)
            if st.form_submit_button("Decide", type="primary", icon=":material/fact_check:"):
                if upload is None or not account.strip() or not amount.strip():
                    st.warning("Give the account, the amount and the cheque image.")
                else:
                    try:
                        with st.spinner("Finding and checking the signatures…"):
                            decided = client.decide_cheque(
                                account.strip(),
                                amount.strip(),
                                (upload.name, upload.getvalue(), upload.type),
                                cheque_reference=reference.strip(),
                                cheque_date=cheque_date.isoformat() if cheque_date else None,
                            )
                    except ApiError as error:
                        ui.show_error(error, "Not decided")
                    else:
                        st.session_state["cheque_id"] = decided.id
                        st.session_state["cheque_round"] = round_ + 1
                        st.rerun()

queue_filter = st.radio("Show", ["Referred, not reviewed", "All cheques"], horizontal=True, key="cheque_queue_filter")
filters = {"decision": "refer", "reviewed": "false"} if queue_filter.startswith("Referred") else {}
queue = ui.guarded(lambda: client.list_cheques(limit=100, **filters), "Cannot list cheques")
by_id = {row.id: row for row in queue}
if st.session_state.get("cheque_id") not in by_id and st.session_state.get("cheque_id"):
    opened = ui.guarded(lambda: client.get_cheque(st.session_state["cheque_id"]), stop=False)
    if opened is not None:
        by_id = {opened.id: opened, **by_id}
choices = list(by_id)
chosen = st.selectbox(
    f"Cheque ({len(queue)} in the list)",
    choices,
    index=choices.index(st.session_state["cheque_id"]) if st.session_state.get("cheque_id") in by_id else None,
    format_func=lambda i: (
        f"#{i} · {by_id[i].account} · {by_id[i].amount} · {OUTCOME_LABELS.get(by_id[i].decision, by_id[i].decision)}"
        + (f" · {by_id[i].cheque_reference}" if by_id[i].cheque_reference else "")
    ),
    placeholder="Choose a cheque",
)
if chosen is None:
    st.info("Decide a cheque or choose one from the list.", icon=":material/receipt_long:")
    st.stop()
st.session_state["cheque_id"] = chosen
cheque: ChequeDecision = ui.guarded(lambda: client.get_cheque(chosen), "Cannot load the cheque")

# -- the decision and why ------------------------------------------------------------------------

st.divider()
label = OUTCOME_LABELS.get(cheque.decision, cheque.decision)
style = OUTCOME_STYLE.get(cheque.decision, "refer")
st.markdown(
    f'<div class="sv-decision sv-cheque-{cheque.decision}" style="background:{ui.DECISION_BACKGROUNDS[style]};'
    f"color:{ui.DECISION_COLOURS[style]};border:3px solid {ui.DECISION_COLOURS[style]};border-radius:12px;"
    f'padding:14px 20px;margin:8px 0;font-size:2.2rem;font-weight:800;text-align:center">{label.upper()}</div>',
    unsafe_allow_html=True,
)
st.markdown(
    f"Cheque **#{cheque.id}** on **{cheque.account_name}** · `{cheque.account}` · amount **{cheque.amount}** · "
    f"dated {cheque.cheque_date}" + (f" · reference **{cheque.cheque_reference}**" if cheque.cheque_reference else "")
)
thresholds = cheque.thresholds
# Every score on this screen and the thresholds read with the decimals the decisions need.
scores = [c.score for s in cheque.signatures for c in s.candidates]
accepts = {c.accept for s in cheque.signatures for c in s.candidates if c.accept is not None}
digits = ui.decision_digits(scores, (thresholds.accept, thresholds.reject, *accepts))
st.caption(
    f"A match is confident from {ui.threshold_text(thresholds.accept, digits)}; below "
    f"{ui.threshold_text(thresholds.reject, digits)} it matches no one. Model {cheque.model_version}."
)
if cheque.instruction:
    st.info(f"Instruction for this account: {cheque.instruction}", icon=":material/sticky_note_2:")
if cheque.mandate.reasons:
    title = {"refer": "Why it was referred", "return": "Why it would be returned"}.get(cheque.decision, "Notes")
    st.warning(f"**{title}**\n\n" + "\n".join(f"- {reason}" for reason in cheque.mandate.reasons))
satisfied = {True: "met", False: "cannot be met", None: "not decided"}[cheque.mandate.satisfied]
band = "—" if cheque.mandate.band is None else cheque.mandate.band + 1
st.caption(f"Mandate band {band}: {satisfied}.")

# -- the cheque with its signatures boxed ----------------------------------------------------------

data = ui.session_bytes(("cheque", cheque.id), lambda: client.cheque_image(cheque.id))
picture = ui.open_picture(data) if data else None
if picture is None:
    st.caption("The cheque image is not available.")
else:
    boxed = picture.convert("RGB")
    draw = ImageDraw.Draw(boxed)
    for number, signature in enumerate(cheque.signatures, start=1):
        x, y, w, h = signature.box
        colour = BOX_COLOURS.get(signature.decision, "#444444")
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=max(3, boxed.width // 300))
        draw.text((x + 4, max(0, y - 14)), str(number), fill=colour)
    full = st.toggle("Show the full cheque", value=False, key=f"cheque_full_{cheque.id}")
    if full or not cheque.signatures:
        st.image(boxed, caption=f"Cheque #{cheque.id}, {len(cheque.signatures)} signature(s) found", width="stretch")
    else:
        left = max(0, min(s.box[0] for s in cheque.signatures) - 40)
        top = max(0, min(s.box[1] for s in cheque.signatures) - 40)
        right = min(boxed.width, max(s.box[0] + s.box[2] for s in cheque.signatures) + 40)
        bottom = min(boxed.height, max(s.box[1] + s.box[3] for s in cheque.signatures) + 40)
        st.image(boxed.crop((left, top, right, bottom)), caption="The signatures (toggle for the full cheque)")

# -- each signature: whom it matched, and that signatory's references by similarity ---------------

if not cheque.signatures:
    st.warning("No signature was found on this cheque.", icon=":material/ink_eraser_off:")
for number, signature in enumerate(cheque.signatures, start=1):
    with st.container(border=True):
        matched = next((c for c in signature.candidates if c.signer == signature.signer), None)
        who = f"{matched.name} (`{matched.signer}`)" if matched else "no signatory"
        verdict = ui.DECISION_LABELS.get(signature.decision, signature.decision)
        score = "–" if signature.score is None else f"{signature.score:.{digits}f}"
        st.markdown(f"**Signature {number}** · {verdict} · matches **{who}** · score {score}")
        columns = st.columns(REFERENCES_SHOWN + 1)
        if picture is not None:
            x, y, w, h = signature.box
            columns[0].image(picture.crop((x, y, x + w, y + h)), caption=f"Signature {number}", width="stretch")
        closest = matched or (signature.candidates[0] if signature.candidates else None)
        if closest is not None:
            for index, reference_id in enumerate(closest.references[:REFERENCES_SHOWN], start=1):
                image = ui.session_bytes(
                    ("r", closest.signer, reference_id, False),
                    lambda c=closest, r=reference_id: client.reference_image(c.signer, r),
                )
                with columns[index]:
                    ui.show_image(image, f"{closest.name} #{reference_id}" + (" (most alike)" if index == 1 else ""))
        if signature.candidates:
            with st.expander("Every signatory compared"):
                st.dataframe(
                    [
                        {
                            "signatory": f"{c.name} ({c.signer})",
                            "score": f"{c.score:.{digits}f}",
                            "confident from": "–" if c.accept is None else f"{c.accept:.{digits}f}",
                            "call": ui.DECISION_LABELS.get(c.decision, c.decision),
                        }
                        for c in signature.candidates
                    ],
                    hide_index=True,
                    width="content",
                )

# -- the clerk's call ----------------------------------------------------------------------------

st.subheader("Review")
final = next((r for r in cheque.reviews if r.outcome != "park"), None)
for review in reversed(cheque.reviews):
    note = f": {review.comment}" if review.comment else ""
    st.caption(
        f"{REVIEW_LABELS.get(review.outcome, review.outcome)} by {review.reviewer} at {ui.when(review.created_at)}{note}"
    )
confirmation = st.session_state.pop("cheque_review_done", None)
if confirmation:
    st.success(confirmation, icon=":material/verified:")
if final is not None:
    st.caption("This cheque is reviewed.")
elif ui.can("mandates.add_chequereview"):
    with st.form(f"cheque_review_{cheque.id}"):
        by_label = {label: outcome for outcome, label in REVIEW_LABELS.items()}
        picked = st.radio("Your call", list(by_label), horizontal=True, index=None)
        choice = by_label.get(picked)
        comment = st.text_area("Comment (required to park, or to pay a cheque the system would return)", max_chars=2000)
        submitted = st.form_submit_button("Record review", type="primary")
    if submitted:
        if choice is None:
            st.warning("Choose your call first.")
        else:
            saved = ui.guarded(
                lambda: client.review_cheque(cheque.id, choice, comment.strip()), "Review not saved", stop=False
            )
            if saved is not None:
                st.session_state["cheque_review_done"] = (
                    f"Review recorded: {REVIEW_LABELS[saved.outcome]} for cheque #{cheque.id} by {saved.reviewer}."
                )
                st.rerun()
