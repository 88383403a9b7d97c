"""Models: versions with their metrics and ROC curves, training jobs with live progress,
and promotion (re-embedding every reference, then switching) behind a confirmation."""

from __future__ import annotations

import streamlit as st

import ui_common as ui
from api_client import ApiError

LOSSES = ["triplet-semihard", "triplet-hard", "contrastive"]
REFRESH_SECONDS = 3
ACTIVE_STATUSES = ("queued", "running")

client = ui.api()
st.title("Models")

# -- versions -----------------------------------------------------------------------------

versions = ui.guarded(client.list_model_versions, "Cannot load model versions")


def metric(version: dict, *names: str):
    for source in (version.get("metrics") or {}, (version.get("card") or {}).get("metrics") or {}):
        for name in names:
            value = source.get(name)
            if isinstance(value, (int, float)):
                return value
            if isinstance(value, dict):  # e.g. {"test": {"eer": ...}}
                for inner in ("test", "val", "value"):
                    if isinstance(value.get(inner), (int, float)):
                        return value[inner]
    return None


def roc_points(version: dict):
    """(fpr, tpr) lists when the card or metrics carry a ROC curve, else None."""
    for source in (version.get("metrics") or {}, (version.get("card") or {}).get("metrics") or {},
                   version.get("card") or {}):
        for key in ("roc", "roc_curve", "test_roc"):
            roc = source.get(key)
            if isinstance(roc, dict) and roc.get("fpr") and roc.get("tpr"):
                return roc["fpr"], roc["tpr"]
            if isinstance(roc, (list, tuple)) and roc and isinstance(roc[0], (list, tuple)) and len(roc) == 2:
                return roc[0], roc[1]
        for split in ("test", "val"):
            nested = source.get(split)
            if isinstance(nested, dict) and isinstance(nested.get("roc"), dict):
                roc = nested["roc"]
                if roc.get("fpr") and roc.get("tpr"):
                    return roc["fpr"], roc["tpr"]
    return None


def roc_figure(fpr, tpr, title: str):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3.6), dpi=100)
    axes = figure.add_subplot()
    axes.plot(fpr, tpr, color="#1a73e8", linewidth=2)
    axes.plot([0, 1], [0, 1], color="#999", linestyle=":")
    axes.set_xlabel("false accept rate (forgeries accepted)")
    axes.set_ylabel("true accept rate (genuine accepted)")
    axes.set_title(title, fontsize=10)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    figure.tight_layout()
    return figure


def fmt(value, digits=3):
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


st.subheader("Model versions")
if not versions:
    st.info("No model version is registered yet.")
else:
    st.dataframe([{
        "id": v.get("id"), "name": v.get("name"), "active": "● active" if v.get("is_active") else "",
        "EER": metric(v, "eer", "test_eer"), "AUC": metric(v, "auc", "roc_auc", "test_auc"),
        "accept at": (v.get("thresholds") or {}).get("accept"), "reject below": (v.get("thresholds") or {}).get("reject"),
        "registered": str(v.get("created_at", ""))[:16].replace("T", " "),
    } for v in versions], hide_index=True, width="stretch")

    for version in versions:
        label = f"{version.get('name')} (#{version.get('id')})" + (" · active" if version.get("is_active") else "")
        with st.expander(label, expanded=bool(version.get("is_active"))):
            left, right = st.columns([3, 2])
            with left:
                numbers = {k: v for k, v in (version.get("metrics") or {}).items() if isinstance(v, (int, float))}
                if numbers:
                    st.dataframe([{"metric": k, "value": round(v, 4)} for k, v in numbers.items()],
                                 hide_index=True, width="content")
                else:
                    st.caption("No metrics in this model card.")
                card = version.get("card") or {}
                facts = [f"sha256 `{str(version.get('sha256', ''))[:12]}…`"]
                if version.get("input_size"):
                    facts.append(f"input {' × '.join(str(s) for s in version['input_size'])}")
                if card.get("data"):
                    facts.append(f"data: {card['data'] if isinstance(card['data'], str) else ', '.join(map(str, card['data'])) if isinstance(card['data'], list) else 'see card'}")
                st.caption(" · ".join(facts))
                if not version.get("is_active"):
                    if st.button("Promote this version…", key=f"promote_{version['id']}", icon=":material/upgrade:"):
                        st.session_state["promote_pending"] = version["id"]
                        st.rerun()
            with right:
                roc = roc_points(version)
                if roc:
                    st.pyplot(roc_figure(roc[0], roc[1], f"ROC · {version.get('name')}"), width="stretch")
                else:
                    st.caption("No ROC curve stored with this version.")

# -- promotion ------------------------------------------------------------------------------

pending = st.session_state.get("promote_pending")
if pending is not None and versions:
    target = next((v for v in versions if v.get("id") == pending), None)
    active = next((v for v in versions if v.get("is_active")), None)
    if target is not None:
        with st.container(border=True):
            st.markdown(f"### Promote {target.get('name')}?")
            st.markdown(
                f"Every enrolled reference signature will be re-embedded with **{target.get('name')}**. "
                f"Only when all are done does it replace **{active.get('name') if active else 'the active model'}**"
                " for new verifications. You can roll back later by promoting the previous version.")
            confirm, cancel = st.columns([1, 4])
            if confirm.button("Yes, promote", type="primary", key="promote_confirm"):
                try:
                    answer = client.promote(pending)
                except ApiError as error:
                    ui.show_error(error, "Promotion not started")
                else:
                    st.session_state["promotion"] = {"version": pending, "answer": answer or {}}
                    st.session_state.pop("promote_pending", None)
                    st.rerun()
            if cancel.button("Cancel", key="promote_cancel"):
                st.session_state.pop("promote_pending", None)
                st.rerun()


def promotion_state(answer: dict, version: dict | None) -> dict:
    """The promotion record, from the promote answer or the version's latest promotion."""
    for candidate in (answer.get("promotion"), answer, (version or {}).get("promotion"),
                      (version or {}).get("latest_promotion")):
        if isinstance(candidate, dict) and ("done" in candidate or "status" in candidate):
            return candidate
    return {}


@st.fragment(run_every=REFRESH_SECONDS)
def promotion_progress() -> None:
    promotion = st.session_state.get("promotion")
    if not promotion:
        return
    version_id = promotion["version"]
    try:
        version = client.get_model_version(version_id)
        state = promotion_state(promotion["answer"], version)
        if state.get("id") and state.get("status") in ACTIVE_STATUSES:
            refreshed = client.get_promotion(state["id"]) if hasattr(client, "get_promotion") else None
            state = refreshed or state
    except ApiError as error:
        ui.show_error(error, "Cannot follow the promotion")
        return
    promotion["answer"] = {"promotion": state} if state else promotion["answer"]
    done, total = state.get("done") or 0, state.get("total") or 0
    status = state.get("status", "queued")
    name = version.get("name", f"#{version_id}")
    if version.get("is_active") or status == "succeeded":
        st.success(f"{name} is now the active model ({done} of {total} references re-embedded).",
                   icon=":material/check_circle:")
    elif status == "failed":
        st.error(f"Promotion of {name} failed: {state.get('error') or 'no reason given'}. "
                 "The previous model is still active.")
    else:
        st.progress(done / total if total else 0.0,
                    text=f"Re-embedding references with {name}: {done} of {total} ({status})")


promotion_progress()

# -- training jobs --------------------------------------------------------------------------

st.divider()
st.subheader("Training jobs")


@st.fragment(run_every=REFRESH_SECONDS)
def training_jobs() -> None:
    try:
        jobs = client.list_training_jobs()
    except ApiError as error:
        ui.show_error(error, "Cannot load training jobs")
        return
    running = [job for job in jobs if job.get("status") in ACTIVE_STATUSES]
    if not running:
        st.caption("No job is running.")
    for job in running:
        with st.container(border=True):
            epochs = job.get("epochs") or 0
            epoch = job.get("epoch") or 0
            head, cancel = st.columns([5, 1])
            head.markdown(f"**Job #{job['id']}** · {job.get('status')} · loss {job.get('loss')} · "
                          f"by {job.get('requested_by') or '–'}")
            st.progress(min(epoch / epochs, 1.0) if epochs else 0.0, text=f"epoch {epoch} of {epochs}")
            figures = st.columns(4)
            figures[0].metric("training loss", fmt(job.get("current_loss")))
            figures[1].metric("validation EER", fmt(job.get("val_eer")))
            figures[2].metric("images / s", fmt(job.get("images_per_s"), 1))
            figures[3].metric("heartbeat", str(job.get("heartbeat_at") or "–")[11:19] or "–")
            if job.get("cancel_requested"):
                cancel.caption("cancelling…")
            elif cancel.button("Cancel", key=f"cancel_{job['id']}"):
                try:
                    client.cancel_training(job["id"])
                except ApiError as error:
                    ui.show_error(error, "Not cancelled")
                else:
                    st.toast(f"Job #{job['id']} will stop at the next step.")
    finished = [job for job in jobs if job.get("status") not in ACTIVE_STATUSES]
    if finished:
        st.markdown("**Finished jobs**")
        st.dataframe([{
            "id": job.get("id"), "status": job.get("status"), "epochs": f"{job.get('epoch')}/{job.get('epochs')}",
            "loss": job.get("loss"), "val EER": job.get("val_eer"),
            "model version": (job.get("model_version") or {}).get("name") if isinstance(job.get("model_version"), dict)
            else job.get("model_version"),
            "finished": str(job.get("finished_at") or "")[:16].replace("T", " "),
            "error": (job.get("error") or "")[:120],
        } for job in finished[:20]], hide_index=True, width="stretch")


training_jobs()

with st.expander("Start a training job", icon=":material/model_training:"):
    with st.form("start_training"):
        datasets = st.text_input("Datasets in organized_data/ (comma separated)", placeholder="cedar, gpds")
        options = st.columns(2)
        include_references = options[0].checkbox("Include enrolled reference signatures", value=True)
        include_reviewed = options[1].checkbox("Include reviewed verifications", value=True)
        row = st.columns(4)
        epochs = row[0].number_input("Epochs", 1, 500, 30)
        loss = row[1].selectbox("Loss", LOSSES)
        seed = row[2].number_input("Seed", 0, 2**31 - 1, 0)
        lr = row[3].number_input("Learning rate", 1e-6, 1.0, 1e-3, format="%.5f")
        row = st.columns(4)
        height = row[0].number_input("Input height", 32, 512, 128, step=16)
        width = row[1].number_input("Input width", 48, 768, 192, step=16)
        embedding_dim = row[2].number_input("Embedding size", 16, 2048, 256, step=16)
        device = row[3].selectbox("Device", ["auto", "cuda", "cpu"])
        submitted = st.form_submit_button("Start training", type="primary")
    if submitted:
        names = [name.strip() for name in datasets.split(",") if name.strip()]
        if not names and not include_references and not include_reviewed:
            st.warning("Choose at least one dataset or include the bank's own signatures.")
        else:
            parameters = {
                "datasets": names, "include_references": include_references, "include_reviewed": include_reviewed,
                "epochs": int(epochs), "loss": loss, "seed": int(seed),
                "options": {"lr": float(lr), "input_size": [int(height), int(width)],
                            "embedding_dim": int(embedding_dim), "device": device},
            }
            try:
                job = client.start_training(parameters)
            except ApiError as error:
                ui.show_error(error, "Training not started")
            else:
                st.success(f"Training job #{job.get('id')} is {job.get('status', 'queued')}.",
                           icon=":material/rocket_launch:")
