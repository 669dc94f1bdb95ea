import Prometheus
import Synchronization
import VariantEngine

/// The gateway's Prometheus metrics, owned by one gateway instance (no global registry).
public final class GatewayMetrics: Sendable {
    /// The registry rendered at `/_mediagate/metrics`.
    public let registry: PrometheusCollectorRegistry
    /// The per-request series already made, by operation and status: the registry's own lookup
    /// (label strings built and hashed under its lock) was about 1% of a small GET.
    private let series = Mutex<[SeriesKey: (counter: Counter, histogram: DurationHistogram)]>([:])

    private struct SeriesKey: Hashable {
        let operation: String
        let status: Int
    }

    /// Creates the metrics in a fresh registry.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // Register the families up front so they appear before the first request.
        _ = registry.makeCounter(name: "mediagate_variant_derivations_total", labels: [], help: "Image variants derived from a source.")
        _ = registry.makeCounter(name: "mediagate_variant_cache_hits_total", labels: [], help: "Variant reads served from a stored variant.")
    }

    /// Records one finished request.
    func record(operation: String, status: Int, duration: Duration) {
        let key = SeriesKey(operation: operation, status: status)
        let made = series.withLock { $0[key] } ?? {
            let made = (
                counter: registry.makeCounter(
                    name: "mediagate_requests_total",
                    labels: [("operation", operation), ("status", String(status))],
                    help: "S3 and control requests answered."),
                histogram: registry.makeDurationHistogram(
                    name: "mediagate_request_duration_seconds",
                    labels: [("operation", operation)],
                    buckets: Self.buckets,
                    help: "Time from request head to response head.")
            )
            series.withLock { $0[key] = made }
            return made
        }()
        made.counter.increment()
        made.histogram.recordNanoseconds(duration.nanoseconds)
    }

    /// Callbacks for a ``VariantService`` that count into these metrics.
    public var variantEvents: VariantEvents {
        // Made once: a registry lookup per cache hit was a visible part of a cached variant GET.
        let derivations = registry.makeCounter(
            name: "mediagate_variant_derivations_total", labels: [], help: "Image variants derived from a source.")
        let derivationTime = registry.makeDurationHistogram(
            name: "mediagate_variant_derivation_seconds", labels: [], buckets: Self.buckets,
            help: "Time to derive one variant (decode, resize, encode), queue wait excluded.")
        let hits = registry.makeCounter(
            name: "mediagate_variant_cache_hits_total", labels: [], help: "Variant reads served from a stored variant.")
        return VariantEvents(
            derived: { duration in
                derivations.increment()
                derivationTime.recordNanoseconds(duration.nanoseconds)
            },
            cacheHit: { hits.increment() })
    }

    /// The Prometheus text exposition.
    func render() -> [UInt8] { registry.emitToBuffer() }

    private static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
