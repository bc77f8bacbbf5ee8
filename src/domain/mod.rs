//! Plain data types shared by every part of mlconsole. Depends on nothing else in the crate.

pub mod alerts;
pub mod batch_prediction;
pub mod bucket;
pub mod connection;
pub mod failure;
pub mod filter;
pub mod framework;
pub mod instances;
pub mod job;
pub mod job_diff;
pub mod log_search;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod predict;
pub mod shadow;
pub mod shell;
pub mod tuning;
pub mod version_copy;
pub mod wire;

pub use batch_prediction::PredictionInput;
pub use connection::{
    Capabilities, ConnectionConfig, ConnectionId, ConnectionKind, JobKey, JobPaths, ListedJob,
    Support, VertexCredentials,
};
pub use filter::{FieldKind, FieldValue, Filter, FilterError, Filterable};
pub use framework::Framework;
pub use job::{
    AcceleratorConfig, EntrypointResources, InvalidJob, Invocation, Job, JobField, JobPage,
    JobState, ReplicaConfig, TRIAL_LABEL, TrainingInput,
};
pub use logs::{LogEntry, LogPage, LogStream, Severity};
pub use metrics::{ClusterSummary, MetricsPage, ReplicaSeries, ResourceSample};
pub use model::{
    AutoScaling, DefaultChange, EndpointTraffic, ManualScaling, Model, ModelPage, ServingMetrics,
    ServingRuntime, ServingRuntimes, ServingSample, TensorSpec, Version, VersionPage, VersionState,
};
pub use shell::shell_words;
pub use tuning::{
    Algorithm, Goal, HyperparameterMetric, HyperparameterOutput, HyperparameterSpec, ParameterSpec,
    ParameterType, ScaleType, TrainingOutput,
};
