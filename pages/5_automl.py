"""AutoML: any CSV to an EDA report, a leaderboard under a time budget, a deployed model and predictions."""

import streamlit as st

from core.automl import config
from core.ui import automl_figures as figures
from core.ui import automl_widgets as widgets
from core.ui.page import setup_page

setup_page("automl")
st.title("AutoML")
st.caption("Pick a sample or upload a CSV, read its EDA report, and train models under a time budget in the "
           "background. Models are compared on cross-validation folds of the training rows; the winner is then "
           "scored once on test rows the search never saw, beside a default LightGBM. Deploy a model to predict "
           "single rows or a whole CSV.")
registry = widgets.job_registry()  # starts this process's background worker once
widgets.follow_new_job()
build_tab, jobs_tab, predict_tab = widgets.tabs()

if build_tab.open:
    with build_tab:
        widgets.show_flash()
        st.header("1. Data")
        data = widgets.data_source()
        if data is None:
            st.stop()
        st.header("2. Target and EDA report")
        target = widgets.target_select(data)
        profile = widgets.profile(data, target)
        report = widgets.eda_report(data, profile) if profile is not None else None
        if profile is None or report is None:
            st.stop()
        widgets.eda_overview(report)
        warnings_tab, columns_tab, dist_tab, target_tab, assoc_tab = st.tabs(widgets.EDA_TABS)
        with warnings_tab:
            widgets.eda_warnings(report)
        with columns_tab:
            widgets.eda_columns(report)
        with dist_tab:
            column = widgets.column_select(report)
            st.plotly_chart(figures.distribution(report.distributions[column], column,
                                                 role=report.roles.get(column, "")), key="automl_fig_distribution")
            widgets.distribution_download(report, column)
        with target_tab:
            widgets.target_caption(report)
            st.plotly_chart(figures.distribution(report.target_distribution, target, role="target", highlight=True),
                            key="automl_fig_target")
        with assoc_tab:
            st.plotly_chart(figures.associations(report.associations, target), key="automl_fig_associations")
            widgets.association_table(report)
            if not report.correlations.empty:
                st.plotly_chart(figures.correlations(report.correlations), key="automl_fig_correlations")
        widgets.eda_download(report, data)

        st.header("3. Leakage sentinel")
        widgets.leakage(data, profile)
        st.header("4. Columns")
        roles = widgets.roles_editor(profile)
        st.header("5. Problem type, time column and budget")
        choices = widgets.train_settings(data, profile, roles)
        st.header("6. Train")
        widgets.train_button(registry, data, target, roles, choices)

if jobs_tab.open:
    with jobs_tab:
        widgets.show_flash()
        widgets.live_jobs(registry)
        record = widgets.job_picker(registry)
        if record is None:
            st.info("No jobs yet: build one in **Build a model**.")
            st.stop()
        widgets.job_header(record)
        model = widgets.trained_model(registry, record)
        if model is not None:
            st.subheader("Leaderboard")
            widgets.headline(model)
            widgets.leaderboard(model)
            st.plotly_chart(figures.leaderboard(model.leaderboard), key="automl_fig_leaderboard")
            st.subheader("The winner on the test rows")
            widgets.test_scores(model)
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
                widgets.ledger_table(model)
            widgets.training_notes(model)
            widgets.result_downloads(record, model)
        st.subheader("Tags and notes")
        widgets.tags_and_notes(registry, record)
        st.subheader("Deploy, rerun, delete")
        widgets.job_actions(registry, record)
        widgets.run_card(record, model)

if predict_tab.open:
    with predict_tab:
        deployed = registry.deployed_jobs()
        if not deployed:
            st.info("No model is deployed yet: open a done job in **Jobs and results** and click **Deploy**.")
            st.stop()
        record = widgets.deployed_picker(deployed)
        model = widgets.trained_model(registry, record)
        if model is None:
            st.stop()
        widgets.model_downloads(registry, record)
        st.subheader("One row")
        values = widgets.single_row_form(model, record.job_id)
        if values is not None:
            probabilities = widgets.single_prediction(model, values)
            if probabilities is not None:
                st.plotly_chart(figures.probabilities(probabilities), key="automl_fig_probabilities")
        st.subheader("A CSV of rows")
        batch = widgets.batch_predictions(model, record.job_id)
        if batch is None:
            st.info("Upload a CSV of rows to predict them all; the download adds the predictions to your columns.")
        else:
            st.subheader("Drift against the training data")
            st.plotly_chart(figures.drift(batch.drift, config.DRIFT_MODERATE_PSI, config.DRIFT_MAJOR_PSI),
                            key="automl_fig_drift")
            widgets.drift_table(batch.drift)
