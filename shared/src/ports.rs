//! `Ports`: the adapters the flows work over, wired together once per process by the bootstrap
//! (AWS adapters on Lambda, embedded ones locally) and borrowed by every request.

use std::sync::Arc;

use crate::cache::Caches;
use crate::clock::Clock;
use crate::keyring::Keyring;
use crate::outbound::{Outbound, OutboundPolicy, RetryPolicy};
use crate::outbox::{Outbox, RefreshQueue};
use crate::settings::Settings;
use crate::store::ItemStore;

/// The ports every flow works over: a handle to the [`Adapters`] wired once per process. Each
/// request's extractors and layers take a copy of it, so a copy is one reference count, not one per
/// adapter: under load those counts are shared by every core, and each one touched is a cache line
/// moved between them.
#[derive(Clone)]
pub struct Ports(Arc<Adapters>);

impl std::ops::Deref for Ports {
    type Target = Adapters;

    fn deref(&self) -> &Adapters {
        &self.0
    }
}

impl std::ops::DerefMut for Ports {
    /// Wiring (the `with_` methods, a test swapping an adapter) happens before any copy is shared;
    /// were one shared, it would keep the adapters it had.
    fn deref_mut(&mut self) -> &mut Adapters {
        Arc::make_mut(&mut self.0)
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The adapters themselves.
#[derive(Debug, Clone)]
pub struct Adapters {
    /// What the operator configured.
    pub settings: Arc<Settings>,
    /// The item store.
    pub store: Arc<dyn ItemStore>,
    /// Envelope encryption.
    pub keyring: Keyring,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Every request Latchkey makes goes through it, under the outbound policy.
    pub outbound: Outbound,
    /// Per-instance caches of callers and connectors (the warm token path).
    pub caches: Arc<Caches>,
    /// Where webhook deliveries wait.
    pub outbox: Outbox,
    /// Where audit events go besides their log line.
    pub audit: crate::audit::AuditSink,
    /// Where connections found due wait to be refreshed.
    pub refresh_queue: RefreshQueue,
    /// Where operator metrics go.
    pub metrics: crate::metrics::MetricsSink,
}

impl Ports {
    /// Wires built adapters; webhook deliveries wait for the sweep until an outbox is given.
    pub fn new(settings: Settings, store: Arc<dyn ItemStore>, keyring: Keyring, clock: Arc<dyn Clock>) -> Self {
        let outbound = Outbound::new(OutboundPolicy { allowed_hosts: settings.outbound_allowed_hosts.clone() }, RetryPolicy::default());
        Self(Arc::new(Adapters {
            settings: Arc::new(settings),
            store,
            keyring,
            clock,
            outbound,
            caches: Arc::new(Caches::default()),
            outbox: Outbox::sweep_only(),
            audit: crate::audit::AuditSink::Log,
            refresh_queue: RefreshQueue::in_process(),
            metrics: crate::metrics::MetricsSink::Off,
        }))
    }

    /// The same ports with `sink` for metrics.
    pub fn with_metrics(mut self, sink: crate::metrics::MetricsSink) -> Self {
        self.metrics = sink;
        self
    }

    /// Records an operator metric.
    pub fn metric(&self, metric: crate::metrics::Metric) {
        self.metrics.record(metric);
    }

    /// The same ports with `sink` for audit events.
    pub fn with_audit(mut self, sink: crate::audit::AuditSink) -> Self {
        self.audit = sink;
        self
    }

    /// Hands an audit event whose log line the caller wrote to the sink.
    pub async fn audit_logged(&self, event: crate::model::AuditEvent) {
        crate::audit::hand_off(self.store.as_ref(), &self.audit, self.settings.audit_retention_days, event).await;
    }

    /// Records an audit event: its log line now, and whatever the sink does.
    pub async fn audit(&self, event: crate::model::AuditEvent) {
        crate::audit::record(self.store.as_ref(), &self.audit, self.settings.audit_retention_days, event).await;
    }

    /// The same ports with `outbox` for webhook deliveries.
    pub fn with_outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = outbox;
        self
    }

    /// The same ports with `queue` for due refreshes.
    pub fn with_refresh_queue(mut self, queue: RefreshQueue) -> Self {
        self.refresh_queue = queue;
        self
    }

    /// The same ports with other settings.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.outbound = Outbound::new(OutboundPolicy { allowed_hosts: settings.outbound_allowed_hosts.clone() }, RetryPolicy::default());
        self.settings = Arc::new(settings);
        self
    }
}
