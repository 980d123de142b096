//! Experiments on the service's side: which running experiment (and arm) a search takes part
//! in, the running set kept fresh from the database, and the admin routes that manage them.
//!
//! The running experiments are read from the `experiments` table every few seconds
//! ([`refresh`]), so one made or stopped with `disco experiment` in another process, or on
//! another replica, takes effect here without a restart. A session takes part in the first
//! running experiment (oldest first) whose traffic share draws it; experiments never overlap
//! within a session, so each report reads clean traffic.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use quality::clicks::{Mode, ReportOptions};
use quality::experiments::{self, Arm, Assignment, Experiment};
use schemas::db::Db;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::AdminState;
use crate::error::ApiError;

/// How often the running set is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// The running experiments as last read.
#[derive(Default)]
pub struct RunningExperiments {
    running: RwLock<Arc<Vec<Experiment>>>,
}

/// What one search of a session is part of.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrollment {
    pub experiment: String,
    pub arms: Enrolled,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Enrolled {
    /// A/B: served by this arm.
    Arm(Arm),
    /// Interleaving: both, merged.
    Interleave(Arm, Arm),
}

impl RunningExperiments {
    pub fn new(running: Vec<Experiment>) -> RunningExperiments {
        RunningExperiments {
            running: RwLock::new(Arc::new(running)),
        }
    }

    /// Replaces the running set (stopped ones are left out).
    pub fn set(&self, experiments: Vec<Experiment>) {
        let running: Vec<Experiment> = experiments
            .into_iter()
            .filter(Experiment::running)
            .collect();
        *self.running.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(running);
    }

    pub fn current(&self) -> Arc<Vec<Experiment>> {
        self.running
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The experiment `session` takes part in, if any.
    pub fn enroll(&self, session: &str) -> Option<Enrollment> {
        let running = self.current();
        running.iter().find_map(|experiment| {
            let arms = match experiment.assign(session)? {
                Assignment::Arm(arm) => Enrolled::Arm(arm.clone()),
                Assignment::Interleave(a, b) => Enrolled::Interleave(a.clone(), b.clone()),
            };
            Some(Enrollment {
                experiment: experiment.name.clone(),
                arms,
            })
        })
    }
}

/// Reads the running experiments into `running` now and every [`REFRESH_EVERY`]; a failed read
/// keeps the last set and is logged.
pub async fn refresh(db: Db, running: Arc<RunningExperiments>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        match experiments::running(&db).await {
            Ok(list) => running.set(list),
            Err(e) => {
                tracing::warn!(error = %e, "reading the running experiments failed; keeping the last set")
            }
        }
    }
}

/// `/admin/experiments` routes, merged by [`crate::admin::router`] under its guard.
pub(crate) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/experiments", get(list).post(create))
        .route("/admin/experiments/{name}/stop", post(stop))
        .route("/admin/experiments/{name}/report", get(report))
}

fn invalid(e: quality::QualityError) -> ApiError {
    match e {
        quality::QualityError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal(other),
    }
}

/// `GET /admin/experiments`: every experiment, oldest first.
async fn list(State(state): State<AdminState>) -> Result<Json<Value>, ApiError> {
    let all = experiments::list(state.db()).await.map_err(invalid)?;
    Ok(Json(json!({ "experiments": all })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    mode: Mode,
    arms: Vec<Arm>,
    #[serde(default = "everyone")]
    traffic: f64,
}

fn everyone() -> f64 {
    1.0
}

/// `POST /admin/experiments`: `{"name", "mode": "ab"|"interleave", "arms": [{"name",
/// "variant"}], "traffic"?}` (201 with the experiment; 400 with what is wrong).
async fn create(
    State(state): State<AdminState>,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Experiment>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let experiment = Experiment::new(&body.name, body.mode, body.arms, body.traffic, Utc::now())
        .map_err(invalid)?;
    for generation in experiment.generations() {
        if !state.generation_exists(generation) {
            return Err(ApiError::bad_request(format!(
                "experiment `{}`: there is no index generation {generation} (see GET /admin/generations)",
                experiment.name
            )));
        }
    }
    experiments::create(state.db(), &experiment)
        .await
        .map_err(invalid)?;
    tracing::info!(experiment = %experiment.name, "experiment created");
    Ok((StatusCode::CREATED, Json(experiment)))
}

/// `POST /admin/experiments/{name}/stop`.
async fn stop(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Experiment>, ApiError> {
    let experiment = experiments::stop(state.db(), &name, Utc::now())
        .await
        .map_err(invalid)?;
    tracing::info!(experiment = %name, "experiment stopped");
    Ok(Json(experiment))
}

/// `GET /admin/experiments/{name}/report`: the report `disco experiment report` prints.
async fn report(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let report = experiment_report(state.db(), &name)
        .await
        .map_err(invalid)?;
    Ok(Json(
        serde_json::to_value(&report).map_err(ApiError::internal)?,
    ))
}

/// The report of experiment `name` from the click log: the one computation the CLI and the
/// HTTP route share.
pub async fn experiment_report(
    db: &Db,
    name: &str,
) -> Result<quality::clicks::ExperimentReport, quality::QualityError> {
    let experiment = experiments::get(db, name).await?;
    let (queries, clicks) = quality::click_log::load(db, Some(name), None).await?;
    Ok(quality::clicks::report(
        &experiment.name,
        experiment.mode,
        &experiment.arm_names(),
        &queries,
        &clicks,
        &ReportOptions::default(),
    ))
}
