//! Request counters for `/metrics` (Prometheus text format), kept without a metrics framework:
//! a handful of counters under one lock costs nothing next to a request.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex};

#[derive(Default)]
struct Inner {
    /// (method, status) → count
    requests: BTreeMap<(String, u16), u64>,
    duration_sum_s: f64,
    /// Cumulative buckets (seconds) as Prometheus histograms want them.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    bytes_out: u64,
}

const BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    pub fn record(&self, method: &str, status: u16, seconds: f64, bytes: u64) {
        let Ok(mut m) = self.0.lock() else { return };
        *m.requests.entry((method.to_owned(), status)).or_default() += 1;
        m.duration_sum_s += seconds;
        m.count += 1;
        m.bytes_out += bytes;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                m.buckets[i] += 1;
            }
        }
    }

    /// Renders the counters plus the gauges and counters given by the caller.
    pub fn render(&self, gauges: &[(&str, &str, f64)], counters: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        if let Ok(m) = self.0.lock() {
            out.push_str("# HELP arca_http_requests_total HTTP requests served.\n# TYPE arca_http_requests_total counter\n");
            for ((method, status), n) in &m.requests {
                let _ = writeln!(
                    out,
                    "arca_http_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
            out.push_str("# HELP arca_http_request_duration_seconds Time to answer a request.\n# TYPE arca_http_request_duration_seconds histogram\n");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "arca_http_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
                    m.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "arca_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                m.count
            );
            let _ = writeln!(
                out,
                "arca_http_request_duration_seconds_sum {}",
                m.duration_sum_s
            );
            let _ = writeln!(out, "arca_http_request_duration_seconds_count {}", m.count);
            out.push_str("# HELP arca_http_response_bytes_total Response body bytes sent.\n# TYPE arca_http_response_bytes_total counter\n");
            let _ = writeln!(out, "arca_http_response_bytes_total {}", m.bytes_out);
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        out
    }
}
