"""Pieces shared by the pages: the session's API client, error display, the pages each
user's permissions open, and the verification result view (used by Verify and History).

Everything that belongs to a user (token, who they are, fetched images) lives in
``st.session_state``, never in a cache shared between sessions.
"""

from __future__ import annotations

import csv
import html
import io
import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from api_client import ApiClient, ApiError, AuthError, ServerUnavailable
from api_models import Me, Review, Verification

log = logging.getLogger("sigverify.interface")

# Page file -> (title, icon, the permissions it needs: every one of them, as `/auth/me/` lists them).
# Like the API's views, the menu checks permissions, never group names. Order is the menu order.
PAGES: dict[str, tuple[str, str, frozenset[str]]] = {
    "app_pages/verify.py": (
        "Verify a cheque",
        ":material/fact_check:",
        frozenset({"signers.view_signer", "verifications.add_verification"}),
    ),
    "app_pages/enroll.py": (
        "Enroll signers",
        ":material/person_add:",
        frozenset({"signers.view_signer", "signers.add_signer", "signers.add_referencesignature"}),
    ),
    "app_pages/history.py": ("History", ":material/history:", frozenset({"verifications.view_verification"})),
    "app_pages/cheques.py": (
        "Cheque review",
        ":material/receipt_long:",
        frozenset({"mandates.view_chequedecision"}),
    ),
    "app_pages/accounts.py": ("Accounts", ":material/account_balance:", frozenset({"mandates.view_bankaccount"})),
    "app_pages/models.py": ("Models", ":material/model_training:", frozenset({"modelregistry.view_modelversion"})),
    "app_pages/clearing.py": ("Clearing", ":material/receipt_long:", frozenset({"clearing.view_clearingfile"})),
}
REVIEW = "verifications.add_review"

DECISION_LABELS = {"genuine": "Genuine", "refer": "Refer to supervisor", "forgery": "Forgery"}
DECISION_COLOURS = {"genuine": "#1e7e34", "refer": "#b26a00", "forgery": "#c5221f"}
DECISION_BACKGROUNDS = {"genuine": "#e6f4ea", "refer": "#fef3e0", "forgery": "#fce8e6"}

MAX_CACHED_IMAGES = 200


# -- session ------------------------------------------------------------------------------


def allowed_pages(permissions) -> list[str]:
    held = set(permissions or ())
    return [path for path, (_, _, needed) in PAGES.items() if needed <= held]


def current_user() -> Me | None:
    return st.session_state.get("me")


def can(*permissions: str) -> bool:
    """Whether the logged-in user holds every one of ``permissions``."""
    me = current_user()
    return bool(me and me.can(*permissions))


def can_review() -> bool:
    """Those who may record the final call (clerks and admins today); integrators only verify."""
    return can(REVIEW)


def api() -> ApiClient:
    """A client for this session only; built per run so the token never leaves session state."""
    return ApiClient(token=st.session_state.get("token"))


def end_session() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def show_error(error: ApiError, what: str | None = None) -> None:
    """The API's message in plain words; never a traceback."""
    prefix = f"{what}: " if what else ""
    if isinstance(error, AuthError) and not error.is_forbidden:
        st.session_state.pop("token", None)
        st.session_state.pop("me", None)
        st.error("Your session has ended. Please log in again.", icon=":material/lock:")
        if st.button("Go to the login page"):
            st.rerun()
        return
    if isinstance(error, AuthError):
        st.error(f"{prefix}Your role does not allow this. {error.message}", icon=":material/block:")
        return
    if isinstance(error, ServerUnavailable):
        st.error(f"{prefix}{error.message}", icon=":material/cloud_off:")
        return
    details = error.field_messages()
    text = f"{prefix}{error.message}"
    if details:
        text += "\n\n" + "\n".join(f"- {line}" for line in details)
    st.error(text, icon=":material/error:")


def guarded(call: Callable[[], Any], what: str | None = None, stop: bool = True) -> Any:
    """Run one API call; on failure show why and stop the page (or return None)."""
    try:
        return call()
    except ApiError as error:
        show_error(error, what)
        if stop:
            st.stop()
        return None


def session_bytes(key: tuple, fetch: Callable[[], bytes]) -> bytes | None:
    """Image bytes fetched once per session (never shared between users)."""
    cache = st.session_state.setdefault("_image_cache", {})
    if key not in cache:
        try:
            cache[key] = fetch()
        except ApiError as error:
            log.info("image %s not available: %s", key, error)
            cache[key] = None
        if len(cache) > MAX_CACHED_IMAGES:
            cache.pop(next(iter(cache)))
    return cache[key]


def open_picture(data: bytes):
    """Page 1 of an image as a person should see it: EXIF orientation applied, transparency on
    white, bilevel (fax-coded TIFF) as greyscale, in L or RGB; None when Pillow cannot read it.
    Browsers show no TIFF, and a multi-page TIFF's front is its page 1."""
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        image.load()
    except Exception:  # the API says what is wrong with a file; the page only shows what it can
        return None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB" if image.mode in ("RGBA", "P", "CMYK", "YCbCr") else "L")
    return image


def cropped_png(data: bytes | None, box) -> bytes | None:
    """PNG of the ``box`` (x, y, width, height) of an uploaded image's page 1; None when it
    cannot be opened."""
    picture = open_picture(data) if data else None
    if picture is None:
        return None
    x, y, w, h = (int(v) for v in box)
    buffer = io.BytesIO()
    picture.crop((x, y, x + w, y + h)).save(buffer, format="PNG")
    return buffer.getvalue()


def show_image(data: bytes | None, caption: str, width: int | str = "stretch") -> None:
    picture = open_picture(data) if data else None
    if picture is not None:
        st.image(picture, caption=caption, width=width)
    elif data:
        st.image(data, caption=caption, width=width)
    else:
        st.caption(f"{caption}: image not available")


# -- verification result ------------------------------------------------------------------


def decision_banner(decision: str) -> None:
    label = html.escape(DECISION_LABELS.get(decision, str(decision)))
    decision = html.escape(str(decision))
    colour = DECISION_COLOURS.get(decision, "#444")
    background = DECISION_BACKGROUNDS.get(decision, "#eee")
    st.markdown(
        f'<div class="sv-decision sv-{decision}" style="background:{background};color:{colour};'
        f"border:3px solid {colour};border-radius:12px;padding:14px 20px;margin:8px 0;"
        f'font-size:2.4rem;font-weight:800;text-align:center;letter-spacing:.02em">{label.upper()}</div>',
        unsafe_allow_html=True,
    )


THRESHOLD_DIGITS = 4  # a threshold such as 0.9189308 reads 0.9189, never 0.92 (which the decision does not use)


def decision_digits(scores, thresholds) -> int:
    """Decimals (4 at least) at which every score compares with every threshold as the decision
    compared them (``score >= threshold``): 0.91888 against 0.9189308 needs 5."""
    scores = [s for s in scores if s is not None]
    thresholds = [t for t in thresholds if t is not None]
    for digits in range(THRESHOLD_DIGITS, 9):
        if all((round(s, digits) >= round(t, digits)) == (s >= t) for s in scores for t in thresholds):
            return digits
    return 9


def threshold_text(value: float | None, digits: int = THRESHOLD_DIGITS) -> str:
    return "unknown" if value is None else f"{value:.{digits}f}"


def score_text(score: float | None, *thresholds: float | None) -> str:
    """The score with the decimals its comparison with the thresholds needs (see ``decision_digits``)."""
    return "–" if score is None else f"{score:.{decision_digits([score], thresholds)}f}"


def thresholds_of(record: Verification) -> tuple[float, float]:
    return record.thresholds.accept, record.thresholds.reject


def score_figure(score: float, accept: float | None, reject: float | None):
    """A horizontal 0..1 bar: red below reject, amber between, green above accept, marker at the score.
    Only the thresholds the API gave are drawn: without one, its side of the bar is left blank."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 1.5), dpi=100)
    axes = figure.add_subplot()
    digits = decision_digits([score], (accept, reject))
    bands = []
    if reject is not None:
        bands.append((0.0, reject, "forgery"))
    if accept is not None:
        bands.append((accept, 1.0, "genuine"))
    if accept is not None and reject is not None:
        bands.append((reject, accept, "refer"))
    for start, end, decision in bands:
        axes.barh(0, end - start, left=start, color=DECISION_BACKGROUNDS[decision], edgecolor="none", height=0.6)
    if accept is None or reject is None:
        axes.set_title("thresholds unknown", fontsize=8, color="#5f6368")
    for value, name, colour, align, nudge in (
        (reject, "forgery below", DECISION_COLOURS["forgery"], "right", -0.01),
        (accept, "genuine from", DECISION_COLOURS["genuine"], "left", 0.01),
    ):
        if value is not None:
            axes.axvline(value, ymin=0.2, ymax=0.8, color=colour, linestyle="--", linewidth=1.5)
            axes.text(
                value + nudge,
                0.45,
                f"{name} {threshold_text(value, digits)}",
                color=colour,
                ha=align,
                va="bottom",
                fontsize=8,
            )
    axes.plot([score], [0], marker="v", markersize=16, color="#202124")
    axes.text(
        score,
        -0.45,
        f"score {score_text(score, accept, reject)}",
        ha="center",
        va="top",
        fontsize=10,
        fontweight="bold",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.8, 0.8)
    axes.set_yticks([])
    axes.set_xlabel("score (0 = unlike the references, 1 = like them)", fontsize=8)
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    return figure


def signer_label(record: Verification) -> str:
    return f"{record.signer_external_id} {record.signer_name}".strip()


def when(value) -> str:
    return str(value or "")[:19].replace("T", " ")


def render_verification(
    client: ApiClient, record: Verification, allow_review: bool = True, closest: int = 3, key_prefix: str = ""
) -> None:
    """Decision (and why, when the image could not be judged), score bar, the questioned part
    as uploaded and as the model saw it, the closest references, distances, review."""
    decision_banner(record.decision)
    if record.reason is not None and record.reason.code == "image_quality":
        st.warning(
            f"**Referred for image quality.** {record.reason.message} Checks failed: "
            + ", ".join(f"`{check}`" for check in record.reason.checks)
            + ". The score below is not a decision: judge the signature yourself, or ask for a better scan.",
            icon=":material/image_not_supported:",
        )
    elif record.reason is not None:  # e.g. whole_cheque: a forgery call on a box found on a whole cheque
        st.warning(f"**Referred.** {record.reason.message}", icon=":material/policy:")

    accept, reject = thresholds_of(record)
    distances = record.closest_first()
    columns = st.columns(4)
    columns[0].metric("Score", score_text(record.score, accept, reject))
    digits = decision_digits([record.score], (accept, reject))
    columns[1].metric("Genuine at or above", threshold_text(accept, digits))
    columns[2].metric("Forgery below", threshold_text(reject, digits))
    columns[3].metric(
        "Closest reference",
        f"{distances[0].distance:.3f}" if distances else "–",
        help="Cosine distance to the most alike reference: 0 is identical.",
    )
    st.pyplot(score_figure(record.score, accept, reject), width="stretch")

    facts = [f"Verification **#{record.id}**", f"signer **{signer_label(record)}**"]
    if record.cheque_reference:
        facts.append(f"cheque **{record.cheque_reference}**")
    if record.requested_by:
        facts.append(f"by **{record.requested_by}**")
    facts.append(f"at {when(record.created_at)}")
    if record.model_version:
        facts.append(f"model {record.model_version}")
    facts.append(f"{record.processing_ms} ms")
    st.caption(" · ".join(facts))

    verification_id = record.id
    signer = record.signer_external_id

    st.subheader("Questioned signature and closest references")
    st.caption(
        "Top row: as uploaded (of a whole cheque, the box that was checked). Bottom row: as the model saw it, "
        "with printed lines and text removed, resized."
    )
    shown = distances[:closest]
    columns = st.columns(1 + max(len(shown), 1))
    with columns[0]:
        uploaded = session_bytes(("v", verification_id, False), lambda: client.verification_image(verification_id))
        if record.crop:
            x, y, w, h = record.crop
            show_image(cropped_png(uploaded, record.crop), f"Questioned: the box checked ({w} × {h} px at {x}, {y})")
        else:
            show_image(uploaded, "Questioned")
        show_image(
            session_bytes(
                ("v", verification_id, True), lambda: client.verification_image(verification_id, preprocessed=True)
            ),
            "Questioned, preprocessed",
        )
    for column, row in zip(columns[1:], shown, strict=False):  # one empty column when nothing is shown
        ref = row.reference
        with column:
            show_image(
                session_bytes(("r", signer, ref, False), lambda ref=ref: client.reference_image(signer, ref)),
                f"Reference {ref} · distance {row.distance:.3f}",
            )
            show_image(
                session_bytes(
                    ("r", signer, ref, True), lambda ref=ref: client.reference_image(signer, ref, preprocessed=True)
                ),
                f"Reference {ref}, preprocessed",
            )
    if not shown:
        columns[1].info("No per-reference distances in this record.")

    if distances:
        st.markdown("**Distance to each reference** (smaller is more alike)")
        st.dataframe(
            [{"reference": row.reference, "distance": round(row.distance, 4)} for row in distances],
            hide_index=True,
            width="content",
        )

    render_review(client, record, allow_review, key_prefix)


def render_review(client: ApiClient, record: Verification, allow_review: bool, key_prefix: str = "") -> None:
    """Show the human's final call, or a form to record it (genuine or forgery, with a comment)."""
    st.subheader("Review")
    review = record.review
    model_decision = record.decision
    if review:
        final = review.final_decision
        if model_decision == "refer":
            verb = "decided"
        elif final == model_decision:
            verb = "confirmed the model"
        else:
            verb = "overruled the model"
        st.success(
            f"Final call: **{DECISION_LABELS.get(final, final)}** ({review.reviewer} {verb}).",
            icon=":material/verified:",
        )
        if review.comment:
            st.markdown(f"> {review.comment}")
        return
    if not allow_review:
        st.caption("Not reviewed yet.")
        return

    verification_id = record.id
    if model_decision in ("genuine", "forgery"):
        other = "forgery" if model_decision == "genuine" else "genuine"
        options = {
            f"Confirm: {DECISION_LABELS[model_decision]}": model_decision,
            f"Overrule: {DECISION_LABELS[other]}": other,
        }
    else:
        options = {"Genuine": "genuine", "Forgery": "forgery"}
    with st.form(key=f"{key_prefix}review-{verification_id}"):
        label = "Your call" if model_decision != "refer" else "Your final call after checking"
        # Nothing preselected: the clerk must make the call, not accept a default.
        choice = st.radio(label, list(options), horizontal=True, index=None)
        comment = st.text_area("Comment (required when you overrule the model)", max_chars=2000)
        submitted = st.form_submit_button("Record review", type="primary")
    if not submitted:
        return
    if choice is None:
        st.warning("Choose your call first.")
        return
    decision = options[choice]
    if model_decision in ("genuine", "forgery") and decision != model_decision and not comment.strip():
        st.warning("Please explain in the comment why you overrule the model.")
        return
    saved: Review | None = guarded(
        lambda: client.review(verification_id, decision, comment.strip()), "Review not saved", stop=False
    )
    if saved is not None:
        record.review = saved
        st.toast("Review recorded.")
        st.rerun()


def verification_row(row: Verification) -> dict:
    """One verification as a table row (also the CSV columns)."""
    final = row.review.final_decision if row.review else ""
    return {
        "id": row.id,
        "when": when(row.created_at),
        "signer": signer_label(row),
        "cheque": row.cheque_reference,
        "decision": DECISION_LABELS.get(row.decision, row.decision),
        "score": round(row.score, 3),
        "clerk": row.requested_by or "",
        "review": DECISION_LABELS.get(final, final),
        "model": row.model_version,
    }


def verifications_csv(rows: list[Verification]) -> str:
    buffer = io.StringIO()
    writer = None
    for row in rows:
        accept, reject = thresholds_of(row)
        line = {
            **verification_row(row),
            "accept_threshold": accept,
            "reject_threshold": reject,
            "reviewer": row.review.reviewer if row.review else "",
            "review_comment": row.review.comment if row.review else "",
        }
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(line))
            writer.writeheader()
        writer.writerow(line)
    return buffer.getvalue()
