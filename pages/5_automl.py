"""AutoML: any CSV to an EDA report, a leaderboard under a time budget, a deployed model and predictions."""

import streamlit as st

from core.automl import config
from core.ui import automl_build as build
from core.ui import automl_common as common
from core.ui import automl_figures as figures
from core.ui import automl_jobs as jobs
from core.ui import automl_predict as predict
from core.ui.page import setup_page

setup_page("automl")
st.title("AutoML")
st.caption("Pick a sample or upload a CSV, read its EDA report, and train models under a time budget in the "
           "background. Models are compared on cross-validation folds of the training rows; the winner is then "
           "scored once on test rows the search never saw, beside a default LightGBM. Deploy a model to predict "
           "single rows or a whole CSV.")
registry = common.job_registry()  # starts this process's background worker once
common.follow_new_job()
build_tab, jobs_tab, predict_tab = common.tabs()

if build_tab.open:
    with build_tab:
        common.show_flash()
        st.header("1. Data")
        data = build.data_source()
        if data is None:
            st.stop()
        st.header("2. Target and EDA report")
        target = build.target_select(data)
        profile = build.profile(data, target)
        report = build.eda_report(data, profile) if profile is not None else None
        if profile is None or report is None:
            st.stop()
        build.eda_overview(report)
        warnings_tab, columns_tab, dist_tab, target_tab, assoc_tab = st.tabs(build.EDA_TABS)
        with warnings_tab:
            build.eda_warnings(report)
        with columns_tab:
            build.eda_columns(report)
        with dist_tab:
            column = build.column_select(report)
            st.plotly_chart(figures.distribution(report.distributions[column], column,
                                                 role=report.roles.get(column, "")), key="automl_fig_distribution")
            build.distribution_download(report, column)
        with target_tab:
            build.target_caption(report)
            st.plotly_chart(figures.distribution(report.target_distribution, target, role="target", highlight=True),
                            key="automl_fig_target")
        with assoc_tab:
            st.plotly_chart(figures.associations(report.associations, target), key="automl_fig_associations")
            build.association_table(report)
            if not report.correlations.empty:
                st.plotly_chart(figures.correlations(report.correlations), key="automl_fig_correlations")
        build.eda_download(report, data)

        st.header("3. Leakage sentinel")
        build.leakage(data, profile)
        st.header("4. Columns")
        roles = build.roles_editor(profile)
        st.header("5. Problem type, time column and budget")
        choices = build.train_settings(data, profile, roles)
        st.header("6. Train")
        build.train_button(registry, data, target, roles, choices)

if jobs_tab.open:
    with jobs_tab:
        common.show_flash()
        jobs.live_jobs(registry)
        record = jobs.job_picker(registry)
        if record is None:
            st.info("No jobs yet: build one in **Build a model**.")
            st.stop()
        jobs.job_header(record)
        model = jobs.trained_model(registry, record)
        if model is not None:
            st.subheader("Leaderboard")
            jobs.headline(model)
            jobs.leaderboard(model)
            st.plotly_chart(figures.leaderboard(model.leaderboard), key="automl_fig_leaderboard")
            st.subheader("The winner on the test rows")
            jobs.test_scores(model)
            left, right = st.columns(2)
            predictions = model.test_predictions
            if model.spec.task == config.CLASSIFICATION:
                classes = figures.proba_classes(predictions)
                left.plotly_chart(figures.confusion(predictions, classes), key="automl_fig_confusion")
                right.plotly_chart(figures.roc(predictions), key="automl_fig_roc")
            else:
                left.plotly_chart(figures.predicted_vs_actual(predictions, record.target), key="automl_fig_pred")
                right.plotly_chart(figures.residuals(predictions, record.target), key="automl_fig_residuals")
            st.subheader("What the model reads, and where the time went")
            left, right = st.columns(2)
            left.plotly_chart(figures.importance(model.importance), key="automl_fig_importance")
            right.plotly_chart(figures.ledger(model.ledger, record.budget_seconds), key="automl_fig_ledger")
            with right:
                jobs.ledger_table(model)
            jobs.training_notes(model)
            jobs.result_downloads(record, model)
        st.subheader("Tags and notes")
        jobs.tags_and_notes(registry, record)
        st.subheader("Deploy, rerun, delete")
        jobs.job_actions(registry, record)
        jobs.run_card(record, model)

if predict_tab.open:
    with predict_tab:
        deployed = registry.deployed_jobs()
        if not deployed:
            st.info("No model is deployed yet: open a done job in **Jobs and results** and click **Deploy**.")
            st.stop()
        record = predict.deployed_picker(deployed)
        model = jobs.trained_model(registry, record)
        if model is None:
            st.stop()
        predict.model_downloads(registry, record)
        st.subheader("One row")
        values = predict.single_row_form(model, record.job_id)
        if values is not None:
            probabilities = predict.single_prediction(model, values)
            if probabilities is not None:
                st.plotly_chart(figures.probabilities(probabilities), key="automl_fig_probabilities")
        st.subheader("A CSV of rows")
        batch = predict.batch_predictions(model, record.job_id)
        if batch is None:
            st.info("Upload a CSV of rows to predict them all; the download adds the predictions to your columns.")
        else:
            st.subheader("Drift against the training data")
            st.plotly_chart(figures.drift(batch.drift, config.DRIFT_MODERATE_PSI, config.DRIFT_MAJOR_PSI),
                            key="automl_fig_drift")
            predict.drift_table(batch.drift)
