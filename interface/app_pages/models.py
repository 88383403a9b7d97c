"""Models: versions with their held-out test figures, metrics and ROC curves, each version's operating
policy (the trade-off plot, preview, apply with a reason), training jobs with live progress, and
promotion (re-embedding every reference, then switching) behind a confirmation."""

from __future__ import annotations

import streamlit as st

import model_policy
import ui_common as ui
from api_client import ApiError
from api_models import ModelVersion, Promotion, TrainingJob
from sigverify.card import ModelCard

LOSSES = ["triplet-semihard", "triplet-hard", "contrastive"]
REFRESH_SECONDS = 3
ACTIVE_STATUSES = ("queued", "running")

client = ui.api()
st.title("Models")

# -- versions -----------------------------------------------------------------------------

versions: list[ModelVersion] = ui.guarded(client.list_model_versions, "Cannot load model versions")
HEADLINE_REFERENCES = 5  # the operating point: five references per signer


def headline(card: ModelCard) -> dict[str, float | None]:
    """The figures to compare versions by: skilled-forgery EER on each dataset's held-out test writers (R=5).

    Validation figures are never the headline: they chose the epoch and fitted the thresholds.
    """
    return {
        figures.dataset: figures.evaluation.skilled.eer
        for figures in card.metrics.test_figures()
        if figures.references == HEADLINE_REFERENCES
    }


def metric_rows(card: ModelCard) -> list[dict]:
    """One row per split, dataset and R: what each figure was measured on stays beside it."""
    return [
        {
            "split": "test (held-out writers)" if f.split == "test" else "validation (chose the model)",
            "dataset": f.dataset or "all, pooled",
            "R": f.references,
            "writers": f.evaluation.writers,
            "skilled EER": f.evaluation.skilled.eer,
            "skilled AUC": f.evaluation.skilled.auc,
            "random EER": f.evaluation.random.eer,
            "FRR at eer": f.evaluation.at_threshold.frr if f.evaluation.at_threshold else None,
            "FAR skilled at eer": f.evaluation.at_threshold.far_skilled if f.evaluation.at_threshold else None,
        }
        for f in card.metrics.test_figures() + card.metrics.validation_figures()
    ]


def operating_points(card: ModelCard) -> list[tuple[str, float, float]]:
    """(label, false accept rate, true accept rate) at the card's EER threshold, held-out figures first."""
    points = []
    for f in card.metrics.test_figures() + card.metrics.validation_figures():
        at = f.evaluation.at_threshold
        if at is None or at.frr is None:
            continue
        label = f"{f.split} {f.dataset or 'pooled'} R{f.references}"
        for kind, far in (("skilled", at.far_skilled), ("random", at.far_random)):
            if far is not None:
                points.append((f"{label} {kind}", far, 1 - at.frr))
    return points


def roc_figure(version: ModelVersion):
    from matplotlib.figure import Figure

    points = operating_points(version.card)
    if not points:
        return None
    figure = Figure(figsize=(4, 3.6), dpi=100)
    axes = figure.add_subplot()
    for label, far, tar in points:
        axes.plot([far], [tar], marker="o", linestyle="none", label=label)
    axes.plot([0, 1], [0, 1], color="#999", linestyle=":")
    axes.set_xlabel("false accept rate")
    axes.set_ylabel("true accept rate")
    axes.set_title(f"Operating points · {version.name}", fontsize=10)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.legend(fontsize=6, loc="lower right")
    figure.tight_layout()
    return figure


def history_figure(card: ModelCard):
    rows = card.recipe.history if card.recipe else []
    if not rows:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.6), dpi=100)
    axes = figure.add_subplot()
    epochs = [h.epoch for h in rows]
    if any(h.loss is not None for h in rows):
        axes.plot(epochs, [h.loss for h in rows], label="training loss", color="#5f6368")
    if any(h.val_eer is not None for h in rows):
        axes.plot(epochs, [h.val_eer for h in rows], label="validation EER", color="#c5221f")
    axes.set_xlabel("epoch")
    axes.legend(fontsize=7)
    axes.set_title("Training history", fontsize=10)
    figure.tight_layout()
    return figure


def fmt(value, digits=3):
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


applied = st.session_state.pop("policy_applied", None)
if applied:
    st.success(applied, icon=":material/check_circle:")

st.subheader("Model versions")
if not versions:
    st.info("No model version is registered yet.")
else:
    active_version = next((v for v in versions if v.is_active), None)
    figures = headline(active_version.card) if active_version else {}
    if figures:
        st.markdown(
            f"**{active_version.name}** (active): skilled-forgery EER on held-out test writers, "
            f"{HEADLINE_REFERENCES} references per signer"
        )
        for column, (name, eer) in zip(st.columns(len(figures)), sorted(figures.items()), strict=True):
            column.metric(f"test EER {name}", model_policy.pct(eer))
    datasets = sorted({name for v in versions for name in headline(v.card)})
    st.caption(
        f"Skilled-forgery EER on each dataset's held-out test writers, {HEADLINE_REFERENCES} references "
        "per signer (blank: the version was never evaluated on test writers)."
    )
    st.dataframe(
        [
            {
                "id": v.id,
                "name": v.name,
                "active": "● active" if v.is_active else "",
                **{f"test EER {name}": headline(v.card).get(name) for name in datasets},
                "accept at": v.thresholds.accept,
                "reject below": v.thresholds.reject,
                "registered": ui.when(v.created_at)[:16],
            }
            for v in versions
        ],
        hide_index=True,
        width="stretch",
    )

    for version in versions:
        card = version.card
        label = f"{version.name} (#{version.id})" + (" · active" if version.is_active else "")
        with st.expander(label, expanded=version.is_active):
            left, right = st.columns([3, 2])
            with left:
                rows = metric_rows(card)
                if rows:
                    st.dataframe(rows, hide_index=True, width="stretch", height=min(35 * len(rows) + 38, 320))
                else:
                    st.caption("No metrics in this model card.")
                facts = [f"sha256 `{version.sha256[:12]}…`", f"input {' × '.join(str(s) for s in version.input_size)}"]
                if card.data.datasets:
                    facts.append(
                        "trained on " + ", ".join(str(d).rstrip("/").rsplit("/", 1)[-1] for d in card.data.datasets)
                    )
                st.caption(" · ".join(facts))
                if not version.is_active and ui.can("modelregistry.add_promotion"):
                    if st.button("Promote this version…", key=f"promote_{version.id}", icon=":material/upgrade:"):
                        st.session_state["promote_pending"] = version.id
                        st.rerun()
            with right:
                figure = roc_figure(version)
                if figure is not None:
                    st.pyplot(figure, width="stretch")
                else:
                    st.caption("No operating points stored with this version.")
                for plot in card.plots:
                    try:
                        st.image(client.model_version_plot(version.id, plot), caption=plot)
                    except ApiError as exc:
                        st.caption(f"Plot {plot} is not available: {exc.message}")
                figure = history_figure(card)
                if figure is not None:
                    st.pyplot(figure, width="stretch")
            model_policy.render_policy(client, version)

# -- promotion ------------------------------------------------------------------------------

pending = st.session_state.get("promote_pending")
if pending is not None and versions:
    target = next((v for v in versions if v.id == pending), None)
    active = next((v for v in versions if v.is_active), None)
    if target is not None:
        with st.container(border=True):
            st.markdown(f"### Promote {target.name}?")
            st.markdown(
                f"Every enrolled reference signature will be re-embedded with **{target.name}**. "
                f"Only when all are done does it replace **{active.name if active else 'the active model'}**"
                " for new verifications. You can roll back later by promoting the previous version."
            )
            confirm, cancel = st.columns([1, 4])
            if confirm.button("Yes, promote", type="primary", key="promote_confirm"):
                try:
                    answer = client.promote(pending)
                except ApiError as error:
                    ui.show_error(error, "Promotion not started")
                else:
                    st.session_state["promotion"] = answer.id
                    st.session_state.pop("promote_pending", None)
                    st.rerun()
            if cancel.button("Cancel", key="promote_cancel"):
                st.session_state.pop("promote_pending", None)
                st.rerun()


@st.fragment(run_every=REFRESH_SECONDS)
def promotion_progress() -> None:
    """The promotion started here, and any other one in flight, with its re-embedding progress."""
    started: int | None = st.session_state.get("promotion")
    try:
        promotions: dict[int, Promotion] = {p.id: p for p in client.list_promotions(status="running")}
        promotions.update({p.id: p for p in client.list_promotions(status="queued")})
        if started is not None and started not in promotions:
            promotions[started] = client.get_promotion(started)
    except ApiError as error:
        ui.show_error(error, "Cannot follow promotions")
        return
    for promotion in promotions.values():
        name, done, total = promotion.model_version.name, promotion.done, promotion.total
        if promotion.status == "succeeded":
            st.success(
                f"{name} is now the active model: {done} of {total} references re-embedded.",
                icon=":material/check_circle:",
            )
            if promotion.id == started:
                st.session_state.pop("promotion", None)
                st.rerun()  # refresh the version table above
        elif promotion.status == "failed":
            st.error(
                f"Promotion of {name} failed: {promotion.error or 'no reason given'}. "
                "The previous model is still active.",
                icon=":material/error:",
            )
        else:
            st.progress(
                done / total if total else 0.0,
                text=f"Promoting {name}: re-embedded {done} of {total} references ({promotion.status})",
            )


if ui.can("modelregistry.view_promotion"):
    promotion_progress()

# -- training jobs --------------------------------------------------------------------------

if not ui.can("training.view_trainingjob"):
    st.stop()

st.divider()
st.subheader("Training jobs")


@st.fragment(run_every=REFRESH_SECONDS)
def training_jobs() -> None:
    try:
        active: dict[int, TrainingJob] = {
            job.id: job
            for status in ACTIVE_STATUSES
            for job in client.list_training_jobs(status=status)
            if job.status in ACTIVE_STATUSES
        }
        recent = client.list_training_jobs(limit=20)
    except ApiError as error:
        ui.show_error(error, "Cannot load training jobs")
        return
    running = sorted(active.values(), key=lambda job: job.id, reverse=True)
    if not running:
        st.caption("No job is running.")
    for job in running:
        with st.container(border=True):
            progress = job.progress
            epochs = progress.epochs or job.epochs
            head, cancel = st.columns([5, 1])
            head.markdown(f"**Job #{job.id}** · {job.status} · loss {job.loss} · by {job.requested_by or '–'}")
            st.progress(
                min(progress.epoch / epochs, 1.0) if epochs else 0.0, text=f"epoch {progress.epoch} of {epochs}"
            )
            figures = st.columns(4)
            figures[0].metric("training loss", fmt(progress.loss))
            figures[1].metric("validation EER", fmt(progress.val_eer))
            figures[2].metric("images / s", fmt(progress.images_per_s, 1))
            figures[3].metric(
                "last heartbeat", progress.heartbeat_at.strftime("%H:%M:%S") if progress.heartbeat_at else "–"
            )
            if job.cancel_requested:
                cancel.caption("cancelling…")
            elif ui.can("training.change_trainingjob") and cancel.button("Cancel", key=f"cancel_{job.id}"):
                try:
                    client.cancel_training(job.id)
                except ApiError as error:
                    ui.show_error(error, "Not cancelled")
                else:
                    st.toast(f"Job #{job.id} will stop at the next step.")
    finished = [job for job in recent if job.status not in ACTIVE_STATUSES]
    if finished:
        st.markdown("**Finished jobs**")
        st.dataframe(
            [
                {
                    "id": job.id,
                    "status": job.status,
                    "epochs": f"{job.progress.epoch}/{job.epochs}",
                    "loss": job.loss,
                    "val EER": job.progress.val_eer,
                    "model version": job.model_version.name if job.model_version else None,
                    "finished": ui.when(job.finished_at)[:16],
                    "error": job.error[:120],
                }
                for job in finished[:20]
            ],
            hide_index=True,
            width="stretch",
        )


training_jobs()

if not ui.can("training.add_trainingjob"):
    st.stop()

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
                "datasets": names,
                "include_references": include_references,
                "include_reviewed": include_reviewed,
                "epochs": int(epochs),
                "loss": loss,
                "seed": int(seed),
                "options": {
                    "lr": float(lr),
                    "input_size": [int(height), int(width)],
                    "embedding_dim": int(embedding_dim),
                    "patience": int(patience),
                },
            }
            try:
                job = client.start_training(parameters)
            except ApiError as error:
                ui.show_error(error, "Training not started")
            else:
                st.success(f"Training job #{job.id} is {job.status}.", icon=":material/rocket_launch:")
