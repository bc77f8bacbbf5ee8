//! The engine's background work for models: loading new versions, and the once-a-second
//! tick that samples serving metrics and scales replicas down.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use super::bucket_artifacts::Staged;
use super::registry::ModelError;
use super::runtime::{Loaded, Prepared};
use crate::domain::Version;

/// Time between serving ticks.
const TICK: Duration = Duration::from_secs(1);

impl Engine {
    /// Records a new version CREATING and loads it in the background; a bucket artifact
    /// comes `staged` (see [`Engine::stage_artifact`]).
    pub fn create_version(
        self: &Arc<Self>,
        model: &str,
        version: Version,
        staged: Option<Staged>,
    ) -> Result<Version, ModelError> {
        let (version, source) =
            self.registry
                .begin_version(model, version, staged.as_ref().map(Staged::path))?;
        self.load_version(
            model.to_owned(),
            version.short_name().to_owned(),
            source,
            staged,
        );
        Ok(version)
    }

    fn load_version(
        self: &Arc<Self>,
        model: String,
        version: String,
        source: PathBuf,
        staged: Option<Staged>,
    ) {
        let engine = self.clone();
        tokio::spawn(async move {
            let (m, v) = (model.clone(), version.clone());
            let worker = engine.clone();
            let prepared = tokio::task::spawn_blocking(move || {
                worker.registry.import_artifact(&m, &v, &source)
            })
            .await
            .unwrap_or_else(|e| Err(format!("loading the model was lost: {e}")));
            // The version keeps its own copy: the fetched one can go.
            drop(staged);
            let loaded = match prepared {
                Ok(Prepared::Onnx(model)) => Ok(Loaded::Onnx(model)),
                Ok(Prepared::Workers(spec)) => {
                    spec.start().await.map(|(worker, ready)| Loaded::Workers {
                        worker: Box::new(worker),
                        ready,
                    })
                }
                Err(e) => Err(e),
            };
            if let Err(e) = &loaded {
                tracing::warn!("version {version} of model {model} failed: {e}");
            }
            match engine.registry.finish_version(&model, &version, loaded) {
                Ok(Some(serving)) => {
                    if let Err(e) = serving.warm_up().await {
                        tracing::warn!("cannot start replicas of {model}/{version}: {e}");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!("cannot record version {model}/{version}: {e}"),
            }
        });
    }

    /// Loads versions an earlier engine left CREATING, warms up the minimum replicas of
    /// READY ones, and starts the serving tick.
    pub fn start_serving(self: &Arc<Self>) {
        let unfinished = std::mem::take(
            &mut *self
                .unfinished_versions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (model, version, source) in unfinished {
            self.load_version(model, version, source, None);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            for serving in engine.registry.all_serving() {
                if let Err(e) = serving.warm_up().await {
                    tracing::warn!("cannot start replicas: {e}");
                }
            }
            let mut ticker = tokio::time::interval(TICK);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                for serving in engine.registry.all_serving() {
                    serving.tick(engine.config.replica_idle);
                }
            }
        });
    }
}
