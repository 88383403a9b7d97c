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


def flatten(tree, prefix: str = "") -> dict[str, float]:
    """{"validation": {"R5": {"skilled": {"eer": 0.1}}}} -> {"validation.R5.skilled.eer": 0.1}."""
    flat: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        flat[prefix] = float(tree)
    return flat


def metrics_of(version: dict) -> dict:
    return version.get("metrics") or (version.get("card") or {}).get("metrics") or {}


def headline(version: dict, name: str):
    """The figure to compare versions by: skilled-forgery EER/AUC, preferring test, then R5."""
    flat = flatten(metrics_of(version))
    candidates = [k for k in flat if k.endswith(f"skilled.{name}") or k == name or k.endswith(f".{name}")]
    if not candidates:
        return None

    def rank(key: str):
        return ("test" not in key, "R5" not in key, "skilled" not in key, len(key))

    return flat[sorted(candidates, key=rank)[0]]


def find_roc(tree):
    """The first {"fpr": [...], "tpr": [...]} anywhere in the card or metrics."""
    if isinstance(tree, dict):
        if isinstance(tree.get("fpr"), list) and isinstance(tree.get("tpr"), list) and tree["fpr"]:
            return tree["fpr"], tree["tpr"]
        for value in tree.values():
            found = find_roc(value)
            if found:
                return found
    return None


def operating_points(version: dict) -> list[tuple[str, float, float]]:
    """(label, false accept rate, true accept rate) at the EER threshold, where the card has them."""
    points = []
    for key, value in flatten(metrics_of(version)).items():
        if key.endswith("at_threshold.frr"):
            base = key[: -len("frr")]
            flat = flatten(metrics_of(version))
            for kind in ("skilled", "random"):
                far = flat.get(f"{base}far_{kind}")
                if far is not None:
                    points.append((f"{base.rstrip('.').replace('.at_threshold', '')} {kind}", far, 1 - value))
    return points


def roc_figure(version: dict):
    from matplotlib.figure import Figure

    curve = find_roc(version.get("card") or {}) or find_roc(metrics_of(version))
    points = operating_points(version)
    if not curve and not points:
        return None
    figure = Figure(figsize=(4, 3.6), dpi=100)
    axes = figure.add_subplot()
    if curve:
        axes.plot(curve[0], curve[1], color="#1a73e8", linewidth=2, label="ROC")
    for label, far, tar in points:
        axes.plot([far], [tar], marker="o", linestyle="none", label=label)
    axes.plot([0, 1], [0, 1], color="#999", linestyle=":")
    axes.set_xlabel("false accept rate")
    axes.set_ylabel("true accept rate")
    axes.set_title(f"ROC · {version.get('name')}" + ("" if curve else " (operating points)"), fontsize=10)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def history_figure(version: dict):
    history = ((version.get("card") or {}).get("recipe") or {}).get("history") or []
    rows = [h for h in history if isinstance(h, dict) and "epoch" in h]
    if not rows:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.6), dpi=100)
    axes = figure.add_subplot()
    epochs = [h["epoch"] for h in rows]
    if any("loss" in h for h in rows):
        axes.plot(epochs, [h.get("loss") for h in rows], label="training loss", color="#5f6368")
    if any(h.get("val_eer") is not None for h in rows):
        axes.plot(epochs, [h.get("val_eer") for h in rows], label="validation EER", color="#c5221f")
    axes.set_xlabel("epoch")
    axes.legend(fontsize=7)
    axes.set_title("Training history", fontsize=10)
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
        "EER (skilled)": headline(v, "eer"), "AUC (skilled)": headline(v, "auc"),
        "accept at": (v.get("thresholds") or {}).get("accept"), "reject below": (v.get("thresholds") or {}).get("reject"),
        "registered": str(v.get("created_at", ""))[:16].replace("T", " "),
    } for v in versions], hide_index=True, width="stretch")

    for version in versions:
        label = f"{version.get('name')} (#{version.get('id')})" + (" · active" if version.get("is_active") else "")
        with st.expander(label, expanded=bool(version.get("is_active"))):
            left, right = st.columns([3, 2])
            with left:
                numbers = flatten(metrics_of(version))
                if numbers:
                    st.dataframe([{"metric": k, "value": round(v, 4)} for k, v in numbers.items()],
                                 hide_index=True, width="stretch", height=min(35 * len(numbers) + 38, 320))
                else:
                    st.caption("No metrics in this model card.")
                card = version.get("card") or {}
                facts = [f"sha256 `{str(version.get('sha256', ''))[:12]}…`"]
                if version.get("input_size"):
                    facts.append(f"input {' × '.join(str(s) for s in version['input_size'])}")
                data = card.get("data")
                datasets = data.get("datasets") if isinstance(data, dict) else data
                if datasets:
                    names = [str(d).rstrip("/").rsplit("/", 1)[-1] for d in
                             (datasets if isinstance(datasets, list) else [datasets])]
                    facts.append("trained on " + ", ".join(names))
                st.caption(" · ".join(facts))
                if not version.get("is_active"):
                    if st.button("Promote this version…", key=f"promote_{version['id']}", icon=":material/upgrade:"):
                        st.session_state["promote_pending"] = version["id"]
                        st.rerun()
            with right:
                figure = roc_figure(version)
                if figure is not None:
                    st.pyplot(figure, width="stretch")
                else:
                    st.caption("No ROC curve or operating points stored with this version.")
                for plot in card.get("plots") or []:
                    try:
                        st.image(client.model_version_plot(version["id"], str(plot)), caption=str(plot))
                    except ApiError as exc:
                        st.caption(f"Plot {plot} is not available: {exc.message}")
                figure = history_figure(version)
                if figure is not None:
                    st.pyplot(figure, width="stretch")

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
                    st.session_state["promotion"] = answer
                    st.session_state.pop("promote_pending", None)
                    st.rerun()
            if cancel.button("Cancel", key="promote_cancel"):
                st.session_state.pop("promote_pending", None)
                st.rerun()


@st.fragment(run_every=REFRESH_SECONDS)
def promotion_progress() -> None:
    """The promotion started here, and any other one in flight, with its re-embedding progress."""
    started = st.session_state.get("promotion")
    try:
        promotions = {p["id"]: p for p in client.list_promotions(status="running")}
        promotions.update({p["id"]: p for p in client.list_promotions(status="queued")})
        if started and started.get("id") not in promotions:
            promotions[started["id"]] = client.get_promotion(started["id"])
    except ApiError as error:
        ui.show_error(error, "Cannot follow promotions")
        return
    for promotion in promotions.values():
        version = promotion.get("model_version") or {}
        name = version.get("name", "?")
        done, total = promotion.get("done") or 0, promotion.get("total") or 0
        status = promotion.get("status", "queued")
        if status == "succeeded":
            st.success(f"{name} is now the active model: {done} of {total} references re-embedded.",
                       icon=":material/check_circle:")
            if started and started.get("id") == promotion["id"] and not started.get("finished"):
                started["finished"] = True
                st.rerun()  # refresh the version table above
        elif status == "failed":
            st.error(f"Promotion of {name} failed: {promotion.get('error') or 'no reason given'}. "
                     "The previous model is still active.", icon=":material/error:")
        else:
            st.progress(done / total if total else 0.0,
                        text=f"Promoting {name}: re-embedded {done} of {total} references ({status})")


promotion_progress()

# -- training jobs --------------------------------------------------------------------------

st.divider()
st.subheader("Training jobs")


@st.fragment(run_every=REFRESH_SECONDS)
def training_jobs() -> None:
    try:
        active = {job["id"]: job for status in ACTIVE_STATUSES for job in client.list_training_jobs(status=status)
                  if job.get("status") in ACTIVE_STATUSES}
        recent = client.list_training_jobs(limit=20)
    except ApiError as error:
        ui.show_error(error, "Cannot load training jobs")
        return
    running = sorted(active.values(), key=lambda job: job["id"], reverse=True)
    if not running:
        st.caption("No job is running.")
    for job in running:
        with st.container(border=True):
            progress = job.get("progress") or {}
            epochs = progress.get("epochs") or job.get("epochs") or 0
            epoch = progress.get("epoch") or 0
            head, cancel = st.columns([5, 1])
            head.markdown(f"**Job #{job['id']}** · {job.get('status')} · loss {job.get('loss')} · "
                          f"by {job.get('requested_by') or '–'}")
            st.progress(min(epoch / epochs, 1.0) if epochs else 0.0, text=f"epoch {epoch} of {epochs}")
            figures = st.columns(4)
            figures[0].metric("training loss", fmt(progress.get("loss")))
            figures[1].metric("validation EER", fmt(progress.get("val_eer")))
            figures[2].metric("images / s", fmt(progress.get("images_per_s"), 1))
            figures[3].metric("last heartbeat", str(progress.get("heartbeat_at") or "")[11:19] or "–")
            if job.get("cancel_requested"):
                cancel.caption("cancelling…")
            elif cancel.button("Cancel", key=f"cancel_{job['id']}"):
                try:
                    client.cancel_training(job["id"])
                except ApiError as error:
                    ui.show_error(error, "Not cancelled")
                else:
                    st.toast(f"Job #{job['id']} will stop at the next step.")
    finished = [job for job in recent if job.get("status") not in ACTIVE_STATUSES]
    if finished:
        st.markdown("**Finished jobs**")
        st.dataframe([{
            "id": job.get("id"), "status": job.get("status"),
            "epochs": f"{(job.get('progress') or {}).get('epoch', 0)}/{job.get('epochs')}",
            "loss": job.get("loss"), "val EER": (job.get("progress") or {}).get("val_eer"),
            "model version": (job.get("model_version") or {}).get("name") if isinstance(job.get("model_version"), dict)
            else job.get("model_version"),
            "finished": str(job.get("finished_at") or "")[:16].replace("T", " "),
            "error": (job.get("error") or "")[:120],
        } for job in finished[:20]], hide_index=True, width="stretch")


training_jobs()

with st.expander("Start a training job", icon=":material/model_training:"):
    with st.form("start_training"):
        datasets = st.text_input("Datasets in organized_data/ (comma separated)", placeholder="cedar, gpds")
        st.caption("The worker chooses the device (the GPU queue) and its threads.")
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
        patience = row[3].number_input("Early-stop patience (epochs)", 1, 100, 6)
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
                            "embedding_dim": int(embedding_dim), "patience": int(patience)},
            }
            try:
                job = client.start_training(parameters)
            except ApiError as error:
                ui.show_error(error, "Training not started")
            else:
                st.success(f"Training job #{job.get('id')} is {job.get('status', 'queued')}.",
                           icon=":material/rocket_launch:")
