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
        _ = registry.makeCounter(descriptor: Self.variantDerivations, labels: [])
        _ = registry.makeCounter(descriptor: Self.variantCacheHits, labels: [])
    }

    // The families, named `mediagate[_<subsystem>]_<name>_<unit>`; computed, because the
    // descriptor type is not `Sendable`, and read only when a series is made.
    private static var requests: MetricNameDescriptor {
        .init(namespace: "mediagate", metricName: "requests", unitName: "total",
              helpText: "S3 and control requests answered.")
    }

    private static var requestDuration: MetricNameDescriptor {
        .init(namespace: "mediagate", metricName: "request_duration", unitName: "seconds",
              helpText: "Time from request head to response head.")
    }

    private static var variantDerivations: MetricNameDescriptor {
        .init(namespace: "mediagate", subsystem: "variant", metricName: "derivations", unitName: "total",
              helpText: "Image variants derived from a source.")
    }

    private static var variantDerivationTime: MetricNameDescriptor {
        .init(namespace: "mediagate", subsystem: "variant", metricName: "derivation", unitName: "seconds",
              helpText: "Time to derive one variant (decode, resize, encode), queue wait excluded.")
    }

    private static var variantCacheHits: MetricNameDescriptor {
        .init(namespace: "mediagate", subsystem: "variant", metricName: "cache_hits", unitName: "total",
              helpText: "Variant reads served from a stored variant.")
    }

    /// Records one finished request.
    func record(operation: String, status: Int, duration: Duration) {
        let key = SeriesKey(operation: operation, status: status)
        let made = series.withLock { $0[key] } ?? {
            let made = (
                counter: registry.makeCounter(
                    descriptor: Self.requests, labels: [("operation", operation), ("status", String(status))]),
                histogram: registry.makeDurationHistogram(
                    descriptor: Self.requestDuration, labels: [("operation", operation)], buckets: Self.buckets)
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
        let derivations = registry.makeCounter(descriptor: Self.variantDerivations, labels: [])
        let derivationTime = registry.makeDurationHistogram(
            descriptor: Self.variantDerivationTime, labels: [], buckets: Self.buckets)
        let hits = registry.makeCounter(descriptor: Self.variantCacheHits, labels: [])
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
