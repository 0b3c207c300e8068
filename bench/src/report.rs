//! Figures as BENCHMARKS.md shows them: the median of repeated runs with their min and max, ratios
//! to the baselines, and the cost model with the public prices it uses.

/// The spread of repeated runs.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    /// Of `values` (at least one).
    pub fn of(values: &[f64]) -> Stat {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Stat { median, min: sorted[0], max: sorted[n - 1] }
    }

    /// `1.23 (1.10–1.40)`, with `decimals` places.
    pub fn show(&self, decimals: usize) -> String {
        format!("{:.d$} ({:.d$}–{:.d$})", self.median, self.min, self.max, d = decimals)
    }
}

/// The value at quantile `q` (0..=1) of `values`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index]
}

/// Public AWS prices for us-east-1 the cost model uses, in US dollars, as published on the AWS
/// pricing pages for Lambda, API Gateway, DynamoDB (on-demand, after the November 2024 reduction),
/// KMS and CloudWatch Logs. They change; the report prints them beside the result.
pub struct Prices {
    pub lambda_per_million_requests: f64,
    pub lambda_arm64_per_gb_second: f64,
    pub lambda_x86_per_gb_second: f64,
    pub http_api_per_million_requests: f64,
    pub dynamodb_per_million_read_units: f64,
    pub dynamodb_per_million_write_units: f64,
    pub kms_per_10k_requests: f64,
    pub logs_per_gb_ingested: f64,
}

/// The prices as of this harness's writing.
pub const PRICES: Prices = Prices {
    lambda_per_million_requests: 0.20,
    lambda_arm64_per_gb_second: 0.000_013_333_4,
    lambda_x86_per_gb_second: 0.000_016_666_7,
    http_api_per_million_requests: 1.00,
    dynamodb_per_million_read_units: 0.125,
    dynamodb_per_million_write_units: 0.625,
    kms_per_10k_requests: 0.03,
    logs_per_gb_ingested: 0.50,
};

/// What one request costs, per million, by line.
pub struct Cost {
    pub lines: Vec<(String, f64)>,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|(_, v)| v).sum()
    }
}

/// One request's consumption.
pub struct Usage {
    /// Billed duration (Lambda rounds up to the millisecond).
    pub billed_ms: f64,
    pub memory_mb: f64,
    /// Read units per request (an item under 4 KB: 1 for a strongly consistent read, 0.5 for an
    /// eventually consistent one).
    pub reads: f64,
    pub kms_calls: f64,
    pub log_bytes: f64,
}

/// The cost of a million requests using `usage`, on arm64.
pub fn per_million(usage: &Usage) -> Cost {
    let p = &PRICES;
    let gb_seconds = usage.billed_ms / 1000.0 * usage.memory_mb / 1024.0;
    Cost {
        lines: vec![
            ("API Gateway HTTP API requests".into(), p.http_api_per_million_requests),
            ("Lambda requests".into(), p.lambda_per_million_requests),
            (
                format!("Lambda duration ({:.0} ms billed at {:.0} MB, arm64)", usage.billed_ms, usage.memory_mb),
                gb_seconds * p.lambda_arm64_per_gb_second * 1e6,
            ),
            (format!("DynamoDB reads ({} read units per request)", usage.reads), usage.reads * p.dynamodb_per_million_read_units),
            (format!("KMS calls ({} per request)", usage.kms_calls), usage.kms_calls * p.kms_per_10k_requests * 100.0),
            (format!("CloudWatch Logs ({:.0} bytes per request)", usage.log_bytes), usage.log_bytes * 1e6 / 1e9 * p.logs_per_gb_ingested),
        ],
    }
}

/// A Markdown document under construction.
#[derive(Default)]
pub struct Markdown(pub String);

impl Markdown {
    pub fn heading(&mut self, level: usize, text: &str) {
        self.0.push_str(&format!("\n{} {text}\n\n", "#".repeat(level)));
    }

    pub fn para(&mut self, text: &str) {
        self.0.push_str(text.trim());
        self.0.push_str("\n\n");
    }

    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        self.0.push_str(&format!("| {} |\n", headers.join(" | ")));
        self.0.push_str(&format!("|{}\n", headers.iter().map(|_| "---|").collect::<String>()));
        for row in rows {
            self.0.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        self.0.push('\n');
    }
}
