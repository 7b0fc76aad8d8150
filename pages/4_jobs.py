"""Job Runtime & Memory: learn stage runtime and peak memory from flow logs, predict safe requests."""

import streamlit as st

from core.errors import HeadroomError
from core.jobs import config
from core.jobs import service as jobs
from core.ui import jobs_figures as figures
from core.ui import jobs_widgets as widgets
from core.ui.downloads import download_table
from core.ui.page import setup_page
from core.ui.resources import app_settings, get_registry

setup_page("jobs")
st.title("Job Runtime & Memory")
st.caption("Learn how long each flow stage runs and how much memory it peaks at, from your own logs. "
           "Every score is measured on the latest runs, held out from training, beside a history baseline "
           "(median of the last 3 runs of the same block and stage).")

st.header("1. Runs")
raw, source = widgets.source_frame(key="jobs-train")
if raw is None:
    st.info("Choose a source of stage runs to start.")
    st.stop()
with st.expander("Column mapping (detected, editable)", expanded=False):
    mapping, unit = widgets.column_mapping(raw, key="jobs-map")
prepared = widgets.prepared_runs(raw, mapping, unit, source)
if prepared is None:
    st.stop()
widgets.runs_summary(prepared)
dist_tab, drift_tab = st.tabs(["Distributions by stage", "Drift over time"])
for target in ("runtime", "memory"):
    dist_tab.plotly_chart(figures.distributions_by_stage(prepared.runs, target), key=f"dist-{target}")
    drift_tab.plotly_chart(figures.drift_over_time(prepared.runs, target), key=f"drift-{target}")

st.header("2. Train and validate")
trained = widgets.train_button(prepared, source=source, key="jobs-train")
if trained is None:
    st.info("Train to score the models on the latest runs (held out from training).")
else:
    split = trained.split
    st.caption(f"Trained on {split['train_rows']:,} runs before {split['validation_start'][:10]}; scored on the "
               f"{split['validation_rows']:,} later runs. Saved models are then refit on all runs.")
    inspected = st.selectbox("Model to inspect", trained.algorithms, key="jobs-inspect") or trained.algorithms[0]
    widgets.score_cards(jobs.headline_scores(trained.scores, inspected))
    widgets.scores_tables(trained.scores, more="Requests at 95% and 99% (more columns)")
    download_table(jobs.scores_download(trained.scores), "jobs_scores.csv", key="dl-scores")
    with st.expander("Scores per stage"):
        widgets.scores_tables(trained.stage_scores)
        download_table(jobs.scores_download(trained.stage_scores), "jobs_stage_scores.csv", key="dl-stage-scores")
    with st.expander("Scores by history (how many earlier runs a prediction could lean on)"):
        st.caption("Runs whose block+stage ran before are predicted far better than runs of a new block, and a "
                   "stage no earlier run had (often a changed flow) is the hardest. Read a prediction's "
                   "earlier_runs and history_from columns against this table.")
        widgets.scores_tables(trained.history_scores)
        download_table(jobs.scores_download(trained.history_scores), "jobs_history_scores.csv",
                       key="dl-history-scores")
    download_table(trained.predictions, "jobs_validation_predictions.csv", key="dl-validation")
    fit_tab, stage_tab, safety_tab = st.tabs(["Predicted vs actual", "Error by stage", "Cost of safety"])
    for target in ("runtime", "memory"):
        fit_tab.plotly_chart(figures.predicted_vs_actual(trained.predictions, target, inspected), key=f"pva-{target}")
        stage_tab.plotly_chart(figures.error_by_stage(trained.stage_scores, target), key=f"ebs-{target}")
    safety_tab.plotly_chart(figures.cost_of_safety(trained.safety_curve, "memory"), key="safety")
    with safety_tab:
        widgets.safety_table(trained.safety_curve)

st.header("3. Models")
registry = get_registry()
preferred = trained.preferred_model_id if trained else None  # just trained: offered first
models = jobs.models_table(registry, preferred)
if models.empty:
    st.info("No jobs model in the registry yet: train one above.")
    st.stop()
overview = st.container()  # filled after a Deploy click, so the table shows the new status
model_id = st.selectbox("Model to use", models.model_ids, index=models.default_index, key="jobs-model",
                        format_func=models.label) or models.model_ids[0]
if st.button("Deploy this model", key="jobs-deploy"):
    jobs.deploy(registry, model_id)
    models = jobs.models_table(registry, preferred)
    st.success(f"{model_id} is the deployed jobs model.")
with overview:
    widgets.models_overview(models, model_id)
    download_table(models.table, "jobs_models.csv", key="dl-models")
compare = st.multiselect("Compare models", models.model_ids, max_selections=2, key="jobs-compare")
if len(compare) == 2:
    st.dataframe(jobs.comparison_table(models.table, compare), key="jobs-compare-table")
try:
    model = widgets.load_model(model_id)
except HeadroomError as exc:
    st.error(exc.message)
    st.stop()

st.header("4. Predict")
quantile = widgets.quantile_select(key="jobs-quantile")
new, new_source = widgets.source_frame(key="jobs-predict", allow_bundled=False)
if new is None:
    st.info("Upload new runs (or pick a table) to predict them; runtime and memory columns are not needed.")
else:
    try:
        output = jobs.predict(model, new, model_id=model_id, quantile=quantile, file=new_source)
    except HeadroomError as exc:
        st.error(exc.message)
    else:
        if not output.rejected.empty:
            st.warning(f"{output.rejected['row'].nunique()} rows had unreadable values (listed in the download).")
            download_table(output.rejected, "prediction_excluded_rows.csv", key="dl-pred-excluded")
        widgets.unseen_notes(output.unseen)
        st.dataframe(output.predictions, hide_index=True)
        download_table(output.predictions, "jobs_predictions.csv", key="dl-predictions")
        with st.expander("Write to an output database table"):
            url = widgets.database_url_input("Output database", key="jobs-out")
            name = st.text_input("Output table (created if missing, appended with a run id)",
                                 config.DEFAULT_OUTPUT_TABLE, key="jobs-out-table")
            if url and st.button("Write predictions", key="jobs-write"):
                try:
                    written = jobs.save_predictions(url, name, output.predictions, app_settings())
                    st.success(f"Wrote {written.rows} rows to {written.table} (run id {written.prediction_run_id}).")
                except HeadroomError as exc:
                    st.error(exc.message)

st.subheader("Single run")
request = widgets.single_run_form(model)
if request is not None:
    widgets.single_run_result(jobs.predict_single_run(
        model, model_id=model_id, quantile=quantile, platform=request.platform, block=request.block,
        stage=request.stage, features=request.features))
