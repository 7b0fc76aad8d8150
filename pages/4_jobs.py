"""Job Runtime & Memory: learn stage runtime and peak memory from flow logs, predict safe requests."""

import pandas as pd
import streamlit as st

from core.errors import HeadroomError
from core.jobs.evaluation import under_prediction_curve
from core.jobs.output import write_predictions
from core.jobs.service import (
    available_records,
    compare_records,
    default_model,
    predict_frame,
    single_run_frame,
    unseen_keys,
)
from core.storage import create_db_engine
from core.ui import jobs_figures as figures
from core.ui import jobs_widgets as widgets
from core.ui.downloads import download_table
from core.ui.format import number, show_table
from core.ui.page import setup_page
from core.ui.resources import get_registry

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
runs = prepared.runs
st.markdown(f"**{len(runs):,}** usable runs of **{runs['block'].nunique()}** blocks and "
            f"**{runs['stage'].nunique()}** stages, {runs['run_date'].min():%Y-%m-%d} to "
            f"{runs['run_date'].max():%Y-%m-%d}.")
if not prepared.rejected.empty:
    with st.expander(f"{prepared.rejected['row'].nunique()} rows excluded (unreadable values, never guessed)"):
        st.dataframe(prepared.rejected, hide_index=True)
        download_table(prepared.rejected, "excluded_rows.csv", key="dl-excluded")
dist_tab, drift_tab = st.tabs(["Distributions by stage", "Drift over time"])
with dist_tab:
    for target in ("runtime", "memory"):
        st.plotly_chart(figures.distributions_by_stage(runs, target), key=f"dist-{target}")
with drift_tab:
    for target in ("runtime", "memory"):
        st.plotly_chart(figures.drift_over_time(runs, target), key=f"drift-{target}")

st.header("2. Train and validate")
trained = widgets.train_button(prepared, source=source, key="jobs-train")
just_trained: list[str] = []
if trained is None:
    st.info("Train to score the models on the latest runs (held out from training).")
else:
    result, just_trained = trained
    split = result.split
    st.caption(f"Trained on {split['train_rows']:,} runs before {split['validation_start'][:10]}; scored on the "
               f"{split['validation_rows']:,} later runs. Saved models are then refit on all runs.")
    models = [a for a in result.models if a != "history-baseline"] or ["history-baseline"]
    best = st.selectbox("Model to inspect", models, key="jobs-inspect")
    scores = result.scores.set_index(["algorithm", "target"])
    cols = st.columns(4)
    for i, target in enumerate(("runtime", "memory")):
        mine, base = scores.loc[(best, target)], scores.loc[("history-baseline", target)]
        # R² is undefined (NaN) when every held-out run took the same time: show n/a, not "nan".
        gain = mine["r2_log"] - base["r2_log"]
        cols[2 * i].metric(f"{target} R² (log)", number(mine["r2_log"], ".3f"),
                           f"{gain:+.3f} vs baseline" if pd.notna(gain) else None)
        cols[2 * i + 1].metric(f"{target} calibration factor", number(mine["calibration"], ".2f"))
    show_table(widgets.scores_table(result.scores), widgets.SCORE_FORMATS)
    download_table(result.scores, "jobs_scores.csv", key="dl-scores")
    with st.expander("Scores per stage"):
        show_table(result.stage_scores, widgets.SCORE_FORMATS)
        download_table(result.stage_scores, "jobs_stage_scores.csv", key="dl-stage-scores")
    with st.expander("Scores by history (how many earlier runs a prediction could lean on)"):
        st.caption("Runs whose block+stage ran before are predicted far better than runs of a new block, and a "
                   "stage no earlier run had (often a changed flow) is the hardest. Read a prediction's "
                   "earlier_runs and history_from columns against this table.")
        show_table(widgets.scores_table(result.history_scores), widgets.SCORE_FORMATS)
        download_table(result.history_scores, "jobs_history_scores.csv", key="dl-history-scores")
    download_table(result.predictions, "jobs_validation_predictions.csv", key="dl-validation")
    fit_tab, stage_tab, safety_tab = st.tabs(["Predicted vs actual", "Error by stage", "Cost of safety"])
    for target in ("runtime", "memory"):
        fit_tab.plotly_chart(figures.predicted_vs_actual(result.predictions, target, best), key=f"pva-{target}")
        stage_tab.plotly_chart(figures.error_by_stage(result.stage_scores, target), key=f"ebs-{target}")
    curve = under_prediction_curve(result.predictions)
    safety_tab.plotly_chart(figures.cost_of_safety(curve, "memory"), key="safety")
    with safety_tab:
        show_table(curve, widgets.SCORE_FORMATS)

st.header("3. Models")
registry = get_registry()
records = available_records(registry)
table = compare_records(records)
if table.empty:
    st.info("No jobs model in the registry yet: train one above.")
    st.stop()
show_table(table, widgets.MODEL_TABLE_FORMATS)
download_table(table, "jobs_models.csv", key="dl-models")
ids = table["model_id"].tolist()
algorithm_of = {r.model_id: r.algorithm for r in records}
preferred = [m for m in just_trained if algorithm_of.get(m) == "lightgbm"]
model_id = st.selectbox("Model to use", ids, index=default_model(records, preferred), key="jobs-model",
                        format_func=lambda m: f"{m} ({algorithm_of[m]})")
if st.button("Deploy this model", key="jobs-deploy"):
    registry.deploy(model_id)
    st.success(f"{model_id} is the deployed jobs model.")
compare = st.multiselect("Compare models", ids, max_selections=2, key="jobs-compare")
if len(compare) == 2:
    st.dataframe(widgets.comparison_table(table, compare), key="jobs-compare-table")
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
        output = predict_frame(model, new, model_id=model_id, quantile=quantile, file=new_source)
    except HeadroomError as exc:
        st.error(exc.message)
    else:
        if not output.rejected.empty:
            st.warning(f"{output.rejected['row'].nunique()} rows had unreadable values (listed in the download).")
            download_table(output.rejected, "prediction_excluded_rows.csv", key="dl-pred-excluded")
        unseen = unseen_keys(model, output.predictions)
        if "stage" in unseen:
            st.warning(f"{sum(unseen['stage'].values()):,} runs are of stages this model never saw "
                       f"({', '.join(unseen['stage'])}): a changed flow? Their predictions lean on related stages "
                       "and are the least reliable (see Scores by history); retrain once some have run.")
        others = [f"{len(unseen[c])} new {c}(s) ({', '.join(unseen[c])})" for c in ("block", "platform") if c in unseen]
        if others:
            st.info(f"Not in the training runs: {'; '.join(others)}. Those predictions come from other blocks' "
                    "runs of the same stages.")
        st.dataframe(output.predictions, hide_index=True)
        download_table(output.predictions, "jobs_predictions.csv", key="dl-predictions")
        with st.expander("Write to an output database table"):
            url = widgets.database_url_input("Output database", key="jobs-out", offer_app_database=True)
            name = st.text_input("Output table (created if missing, appended with a run id)", "job_predictions",
                                 key="jobs-out-table")
            if url and st.button("Write predictions", key="jobs-write"):
                try:
                    written = write_predictions(create_db_engine(url), name, output.predictions)
                    st.success(f"Wrote {written['rows']} rows to {name} (run id {written['prediction_run_id']}).")
                except HeadroomError as exc:
                    st.error(exc.message)

st.subheader("Single run")
with st.form("jobs-single"):
    cols = st.columns(3)
    platform = cols[0].selectbox("Platform", model.platforms)
    block = cols[1].selectbox("Block", model.blocks)
    stage = cols[2].selectbox("Stage", model.stages)
    values = {c: st.number_input(c, value=None, key=f"jobs-single-{c}") for c in model.design_columns}
    submitted = st.form_submit_button("Predict this run")
if submitted:
    frame = single_run_frame(model, platform=platform, block=block, stage=stage, features=values)
    one = predict_frame(model, frame, model_id=model_id, quantile=quantile).predictions.iloc[0]
    cols = st.columns(4)
    cols[0].metric("Predicted runtime", one["predicted_runtime"])
    cols[1].metric(f"Runtime upper bound ({quantile:.0%})", one[f"runtime_upper_p{round(quantile * 100)}"])
    cols[2].metric("Predicted peak memory", one["predicted_memory"])
    cols[3].metric(f"Memory request ({quantile:.0%})", one[f"memory_request_p{round(quantile * 100)}"])
    st.caption(f"Based on {one['earlier_runs']} earlier run(s) of this block+stage"
               + ("." if one["history_from"] == "this block+stage" else f"; history from {one['history_from']}."))
    st.dataframe(pd.DataFrame([one]), hide_index=True)
