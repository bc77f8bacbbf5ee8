//! Serve traffic per version from the Prometheus text Ray's nodes export (targets from
//! `/api/prometheus/sd`): request and error counters and the processing-latency
//! histogram of each `version-<v>` deployment, summed over replicas, turned into rates
//! by comparing one scrape with the one before. One scrape serves every version.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::client::RayHttp;
use crate::domain::{ServingMetrics, ServingSample};
use crate::platform::PlatformError;

/// How often the nodes are scraped at most.
const SCRAPE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept per version (an hour at one scrape per 5 s).
const KEPT: usize = 720;

const REQUESTS: &str = "ray_serve_deployment_request_counter_total";
const ERRORS: &str = "ray_serve_deployment_error_counter_total";
const LATENCY: &str = "ray_serve_deployment_processing_latency_ms_bucket";
const HEALTHY: &str = "ray_serve_deployment_replica_healthy";

/// One version's counters at one scrape, summed over its replicas.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Counters {
    pub requests: f64,
    pub errors: f64,
    /// Cumulative count per upper bound (ms), ascending.
    pub buckets: Vec<(f64, f64)>,
    pub healthy: f64,
}

/// `(application, deployment)` → counters, from one scrape's text.
pub(super) fn parse(text: &str) -> HashMap<(String, String), Counters> {
    let mut out: HashMap<(String, String), Counters> = HashMap::new();
    for line in text.lines() {
        let Some((name, labels, value)) = sample_line(line) else {
            continue;
        };
        if !matches!(name, REQUESTS | ERRORS | LATENCY | HEALTHY) {
            continue;
        }
        let (Some(app), Some(deployment)) = (labels.get("application"), labels.get("deployment"))
        else {
            continue;
        };
        let counters = out.entry((app.clone(), deployment.clone())).or_default();
        match name {
            REQUESTS => counters.requests += value,
            ERRORS => counters.errors += value,
            HEALTHY => counters.healthy += value,
            _ => {
                let le = match labels.get("le").map(String::as_str) {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => le.parse().unwrap_or(f64::INFINITY),
                    None => continue,
                };
                match counters.buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, count)) => *count += value,
                    None => counters.buckets.push((le, value)),
                }
            }
        }
    }
    for counters in out.values_mut() {
        counters.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// `name{labels} value`, or `None` for comments and other lines.
fn sample_line(line: &str) -> Option<(&str, HashMap<String, String>, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let Some(brace) = line.find('{') else {
        let mut parts = line.split_whitespace();
        let name = parts.next()?;
        return Some((name, HashMap::new(), parts.next()?.parse().ok()?));
    };
    let bytes = line.as_bytes();
    let mut i = brace + 1;
    let mut labels = HashMap::new();
    loop {
        while matches!(bytes.get(i), Some(b',' | b' ')) {
            i += 1;
        }
        if *bytes.get(i)? == b'}' {
            i += 1;
            break;
        }
        let key_start = i;
        while *bytes.get(i)? != b'=' {
            i += 1;
        }
        let key = line[key_start..i].trim().to_owned();
        i += 1;
        if *bytes.get(i)? != b'"' {
            return None;
        }
        i += 1;
        let mut value = String::new();
        loop {
            let c = line.get(i..)?.chars().next()?;
            i += c.len_utf8();
            match c {
                '\\' => {
                    let escaped = line.get(i..)?.chars().next()?;
                    i += escaped.len_utf8();
                    value.push(if escaped == 'n' { '\n' } else { escaped });
                }
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
    }
    let value = line.get(i..)?.split_whitespace().next()?.parse().ok()?;
    Some((&line[..brace], labels, value))
}

/// The `q` quantile (0–1) of the requests counted between two cumulative histograms.
fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> f64 {
    let diff: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, count)| {
            let old = before
                .iter()
                .find(|(b, _)| b == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, (count - old).max(0.0))
        })
        .collect();
    let total = diff.last().map_or(0.0, |(_, c)| *c);
    if total <= 0.0 {
        return 0.0;
    }
    let want = total * q;
    let mut lower = (0.0, 0.0);
    for &(le, count) in &diff {
        if count >= want {
            if le.is_infinite() {
                return lower.0;
            }
            // Linear within the bucket, as Prometheus's histogram_quantile.
            let share = (want - lower.1) / (count - lower.1).max(f64::MIN_POSITIVE);
            return lower.0 + (le - lower.0) * share;
        }
        lower = (le, count);
    }
    lower.0
}

#[derive(Deserialize)]
struct Target {
    #[serde(default)]
    targets: Vec<String>,
}

/// Scrapes and the samples made from them.
#[derive(Default)]
pub(super) struct Traffic {
    state: Mutex<TrafficState>,
}

#[derive(Default)]
struct TrafficState {
    last_scrape: Option<(Instant, DateTime<Utc>)>,
    last: HashMap<(String, String), Counters>,
    samples: HashMap<(String, String), VecDeque<ServingSample>>,
}

impl Traffic {
    /// A version's traffic after `since`, scraping first when the last scrape is old.
    pub(super) async fn metrics(
        &self,
        http: &RayHttp,
        app: &str,
        deployment: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<ServingMetrics, PlatformError> {
        let mut state = self.state.lock().await;
        if state
            .last_scrape
            .is_none_or(|(at, _)| at.elapsed() >= SCRAPE_EVERY)
        {
            let text = scrape(http).await?;
            let now = Utc::now();
            let counters = parse(&text);
            if let Some((at, _)) = state.last_scrape {
                let seconds = at.elapsed().as_secs_f64().max(1.0);
                let TrafficState { last, samples, .. } = &mut *state;
                for (key, after) in &counters {
                    let before = last.get(key).cloned().unwrap_or_default();
                    // A restarted replica starts its counters at zero again.
                    let reset = after.requests < before.requests;
                    let before = if reset { Counters::default() } else { before };
                    let requests = (after.requests - before.requests).max(0.0);
                    let sample = ServingSample {
                        time: now,
                        requests: (requests / seconds).round() as u64,
                        errors: ((after.errors - before.errors).max(0.0) / seconds).round() as u64,
                        latency_p50_ms: quantile(&before.buckets, &after.buckets, 0.5),
                        latency_p99_ms: quantile(&before.buckets, &after.buckets, 0.99),
                        replicas: after.healthy.max(0.0) as u32,
                    };
                    let series = samples.entry(key.clone()).or_default();
                    series.push_back(sample);
                    if series.len() > KEPT {
                        series.pop_front();
                    }
                }
            }
            state.last = counters;
            state.last_scrape = Some((Instant::now(), now));
        }
        let key = (app.to_owned(), deployment.to_owned());
        let totals = state.last.get(&key).cloned().unwrap_or_default();
        let samples = state
            .samples
            .get(&key)
            .map(|s| {
                s.iter()
                    .filter(|x| since.is_none_or(|t| x.time > t))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(ServingMetrics {
            total_requests: totals.requests as u64,
            total_errors: totals.errors as u64,
            samples,
        })
    }
}

/// The Serve lines of every node's metrics.
async fn scrape(http: &RayHttp) -> Result<String, PlatformError> {
    let targets: Vec<Target> = http
        .json(http.dashboard(Method::GET, "/api/prometheus/sd"))
        .await?;
    let mut text = String::new();
    for address in targets.iter().flat_map(|t| &t.targets) {
        let url = format!("http://{address}/metrics");
        // A target that is gone (a dead node) is skipped, not fatal.
        if let Ok(body) = http.send(http.absolute(&url)).await {
            for line in String::from_utf8_lossy(&body).lines() {
                if line.starts_with("ray_serve_deployment_") {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP ray_serve_deployment_request_counter_total The number of queries
# TYPE ray_serve_deployment_request_counter_total counter
ray_serve_deployment_request_counter_total{Component="core_worker",application="iris",deployment="version-v1",replica="a",route="/iris"} 100.0
ray_serve_deployment_request_counter_total{Component="core_worker",application="iris",deployment="version-v1",replica="b",route="/iris"} 50.0
ray_serve_deployment_error_counter_total{application="iris",deployment="version-v1",replica="a",route="/iris"} 2.0
ray_serve_deployment_processing_latency_ms_bucket{application="iris",deployment="version-v1",replica="a",le="1.0"} 40.0
ray_serve_deployment_processing_latency_ms_bucket{application="iris",deployment="version-v1",replica="a",le="2.0"} 140.0
ray_serve_deployment_processing_latency_ms_bucket{application="iris",deployment="version-v1",replica="a",le="+Inf"} 150.0
ray_serve_deployment_replica_healthy{application="iris",deployment="version-v1",replica="a"} 1.0
ray_serve_deployment_replica_healthy{application="iris",deployment="version-v1",replica="b"} 1.0
ray_serve_deployment_request_counter_total{application="other \"x\"",deployment="d",replica="c"} 5 1796159638000
"#;

    #[test]
    fn counters_sum_over_replicas() {
        let parsed = parse(SCRAPE);
        let v1 = &parsed[&("iris".to_owned(), "version-v1".to_owned())];
        assert_eq!(v1.requests, 150.0);
        assert_eq!(v1.errors, 2.0);
        assert_eq!(v1.healthy, 2.0);
        assert_eq!(
            v1.buckets,
            vec![(1.0, 40.0), (2.0, 140.0), (f64::INFINITY, 150.0)]
        );
        let other = &parsed[&("other \"x\"".to_owned(), "d".to_owned())];
        assert_eq!(other.requests, 5.0, "escapes and a timestamp");
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let before = [(1.0, 0.0), (2.0, 0.0), (f64::INFINITY, 0.0)];
        let after = [(1.0, 50.0), (2.0, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(&before, &after, 0.5) - 1.0).abs() < 1e-9);
        assert!((quantile(&before, &after, 0.99) - 1.98).abs() < 1e-9);
        assert_eq!(quantile(&after, &after, 0.5), 0.0, "no requests between");
    }
}
