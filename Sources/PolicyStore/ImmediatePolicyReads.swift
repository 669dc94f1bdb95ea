/// A policy store that can answer the reads of every S3 request (tenants, access keys) on the
/// calling thread without suspending, when it already holds the current answer (a cache that
/// is known to be current). Nil means "not at hand": the caller then uses the async reads of
/// ``PolicyStore``, which also report failures.
public protocol ImmediatePolicyReads: Sendable {
    /// Every tenant, by name, if at hand.
    func tenantsNow() -> [TenantRecord]?
    /// The access key with this id and its tenant, if at hand (nil also for an unknown id).
    func accessKeyNow(id: String) -> (key: AccessKeyRecord, tenant: TenantRecord)?
}
