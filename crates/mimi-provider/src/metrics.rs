//! `/metrics` in the Prometheus text exposition format (version 0.0.4):
//! requests and errors per route and status, latency histograms per route,
//! queue depth, delivery outcomes, KeyPackage traffic and push connections.
//!
//! Labels are bounded by construction: routes are axum's matched route
//! patterns (never raw paths), statuses are HTTP codes, outcomes a fixed list.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum_secs: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *count += 1;
            }
        }
        self.sum_secs += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Requests {
    by_route_status: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Outcomes of one recipient of a `/deliver_message` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    UnknownQueue,
    UndecryptableQueueId,
    QueueRetired,
}

impl DeliveryOutcome {
    const ALL: [DeliveryOutcome; 4] = [
        DeliveryOutcome::Delivered,
        DeliveryOutcome::UnknownQueue,
        DeliveryOutcome::UndecryptableQueueId,
        DeliveryOutcome::QueueRetired,
    ];

    fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::UnknownQueue => "unknown_queue",
            DeliveryOutcome::UndecryptableQueueId => "undecryptable_queue_id",
            DeliveryOutcome::QueueRetired => "queue_retired",
        }
    }
}

/// The provider's counters. One per provider, shared by every handler.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    deliveries: [AtomicU64; 4],
    key_packages_uploaded: AtomicU64,
    key_packages_claimed: AtomicU64,
    push_connections: AtomicI64,
    /// Hub fan-out attempts: [failed, delivered].
    fanout: [AtomicU64; 2],
    hub_operations: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn requests(&self) -> std::sync::MutexGuard<'_, Requests> {
        // Counters stay meaningful after a panic elsewhere; keep counting.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one answered request.
    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests();
        *requests
            .by_route_status
            .entry((route.to_string(), status))
            .or_default() += 1;
        requests
            .latency
            .entry(route.to_string())
            .or_default()
            .observe(elapsed);
    }

    pub fn count_delivery(&self, outcome: DeliveryOutcome) {
        self.deliveries[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one outbox delivery attempt of the hub.
    pub fn count_fanout(&self, delivered: bool) {
        self.fanout[usize::from(delivered)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one group operation at the hub, by type and outcome
    /// (`accepted` or the problem kind it was refused with).
    pub fn count_hub_operation(&self, operation: &'static str, outcome: &'static str) {
        let mut ops = self
            .hub_operations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *ops.entry((operation, outcome)).or_default() += 1;
    }

    pub fn count_key_packages_uploaded(&self, n: u64) {
        self.key_packages_uploaded.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_key_packages_claimed(&self, n: u64) {
        self.key_packages_claimed.fetch_add(n, Ordering::Relaxed);
    }

    /// Tracks an open push connection until the guard is dropped.
    pub fn push_connection(&self) -> PushConnectionGuard<'_> {
        self.push_connections.fetch_add(1, Ordering::Relaxed);
        PushConnectionGuard(self)
    }

    /// The exposition text; `queue_depth` is read from storage by the caller
    /// (`None` if that failed, and then left out rather than reported as 0).
    pub fn render(&self, queue_depth: Option<u64>) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        if let Some(depth) = queue_depth {
            gauge(
                &mut out,
                "mimi_queue_depth",
                "Messages waiting unacknowledged in all client queues.",
                depth as i64,
            );
        }
        header(
            &mut out,
            "mimi_deliveries_total",
            "Recipients of /deliver_message requests, by outcome.",
            "counter",
        );
        for outcome in DeliveryOutcome::ALL {
            let n = self.deliveries[outcome as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "mimi_deliveries_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
        counter(
            &mut out,
            "mimi_key_packages_uploaded_total",
            "KeyPackages accepted from clients.",
            self.key_packages_uploaded.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "mimi_key_packages_claimed_total",
            "KeyPackages handed out to other providers.",
            self.key_packages_claimed.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "mimi_hub_fanout_attempts_total",
            "Deliveries the hub's outbox attempted, by result.",
            "counter",
        );
        for (i, result) in ["failed", "delivered"].into_iter().enumerate() {
            let n = self.fanout[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "mimi_hub_fanout_attempts_total{{result=\"{result}\"}} {n}"
            );
        }
        header(
            &mut out,
            "mimi_hub_operations_total",
            "Group operations at the hub, by operation and outcome.",
            "counter",
        );
        for ((operation, outcome), n) in self
            .hub_operations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "mimi_hub_operations_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        gauge(
            &mut out,
            "mimi_push_connections",
            "Open WebSocket push connections.",
            self.push_connections.load(Ordering::Relaxed),
        );
        out
    }

    fn render_requests(&self, out: &mut String) {
        let requests = self.requests();
        header(
            out,
            "mimi_http_requests_total",
            "HTTP requests answered, by route and status.",
            "counter",
        );
        for ((route, status), n) in &requests.by_route_status {
            let _ = writeln!(
                out,
                "mimi_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        header(
            out,
            "mimi_http_request_errors_total",
            "HTTP requests answered with a 4xx or 5xx status, by route and status.",
            "counter",
        );
        for ((route, status), n) in &requests.by_route_status {
            if *status >= 400 {
                let _ = writeln!(
                    out,
                    "mimi_http_request_errors_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        header(
            out,
            "mimi_http_request_duration_seconds",
            "Time from request to response headers, by route.",
            "histogram",
        );
        for (route, h) in &requests.latency {
            let route = escape(route);
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "mimi_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "mimi_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "mimi_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum_secs
            );
            let _ = writeln!(
                out,
                "mimi_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
    }
}

/// Counts a push connection as open while it lives.
#[derive(Debug)]
pub struct PushConnectionGuard<'a>(&'a Metrics);

impl Drop for PushConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.push_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: i64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// Label values escape `\`, `"` and line ends (exposition format).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times and counts every request under its matched route.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.observe_request(&route, status, elapsed);
    // Route patterns only: paths and bodies may carry identifiers.
    tracing::debug!(%method, route, status, elapsed_us = elapsed.as_micros() as u64, "request");
    response
}

/// The hub's outbox per destination provider (read from storage by the
/// caller): deliveries waiting, and attempts failed in a row. A destination
/// whose failures grow is a member provider that is down.
pub fn render_outbox(out: &mut String, outbox: &[mimi_storage::OutboxDepth]) {
    header(
        out,
        "mimi_hub_outbox_pending",
        "Deliveries waiting in the hub's outbox, by destination provider.",
        "gauge",
    );
    for d in outbox {
        let _ = writeln!(
            out,
            "mimi_hub_outbox_pending{{destination=\"{}\"}} {}",
            d.destination, d.pending
        );
    }
    header(
        out,
        "mimi_hub_outbox_failures",
        "Delivery attempts failed in a row, by destination provider.",
        "gauge",
    );
    for d in outbox {
        let _ = writeln!(
            out,
            "mimi_hub_outbox_failures{{destination=\"{}\"}} {}",
            d.destination, d.failures
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_hub_outbox_and_operations() {
        let m = Metrics::new();
        m.count_fanout(true);
        m.count_fanout(true);
        m.count_fanout(false);
        m.count_hub_operation("send_message", "accepted");
        m.count_hub_operation("add_clients", "stale-epoch");
        let mut text = m.render(None);
        render_outbox(
            &mut text,
            &[mimi_storage::OutboxDepth {
                destination: "c.example".into(),
                pending: 100,
                failures: 3,
            }],
        );
        for line in [
            "mimi_hub_fanout_attempts_total{result=\"delivered\"} 2",
            "mimi_hub_fanout_attempts_total{result=\"failed\"} 1",
            "mimi_hub_operations_total{operation=\"send_message\",outcome=\"accepted\"} 1",
            "mimi_hub_operations_total{operation=\"add_clients\",outcome=\"stale-epoch\"} 1",
            "mimi_hub_outbox_pending{destination=\"c.example\"} 100",
            "mimi_hub_outbox_failures{destination=\"c.example\"} 3",
            "# TYPE mimi_hub_outbox_pending gauge",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.observe_request("/deliver_message", 200, Duration::from_millis(3));
        m.observe_request("/deliver_message", 200, Duration::from_millis(30));
        m.observe_request("/deliver_message", 403, Duration::from_micros(500));
        m.count_delivery(DeliveryOutcome::Delivered);
        m.count_delivery(DeliveryOutcome::UnknownQueue);
        let guard = m.push_connection();
        let text = m.render(Some(7));
        for line in [
            "mimi_http_requests_total{route=\"/deliver_message\",status=\"200\"} 2",
            "mimi_http_requests_total{route=\"/deliver_message\",status=\"403\"} 1",
            "mimi_http_request_errors_total{route=\"/deliver_message\",status=\"403\"} 1",
            "mimi_http_request_duration_seconds_bucket{route=\"/deliver_message\",le=\"0.001\"} 1",
            "mimi_http_request_duration_seconds_bucket{route=\"/deliver_message\",le=\"0.005\"} 2",
            "mimi_http_request_duration_seconds_bucket{route=\"/deliver_message\",le=\"+Inf\"} 3",
            "mimi_http_request_duration_seconds_count{route=\"/deliver_message\"} 3",
            "mimi_queue_depth 7",
            "mimi_deliveries_total{outcome=\"delivered\"} 1",
            "mimi_deliveries_total{outcome=\"unknown_queue\"} 1",
            "mimi_deliveries_total{outcome=\"queue_retired\"} 0",
            "mimi_push_connections 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains(
                "mimi_http_request_errors_total{route=\"/deliver_message\",status=\"200\"}"
            ),
            "a 200 is not an error"
        );
        drop(guard);
        assert!(m.render(None).contains("mimi_push_connections 0"));
        assert!(!m.render(None).contains("mimi_queue_depth"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
