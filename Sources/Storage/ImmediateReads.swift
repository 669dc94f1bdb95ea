import NIOCore

/// An index that can read one object's record on the calling thread, without suspending.
public protocol ImmediateObjectIndex: Sendable {
    /// The current record of `key`, or nil when there is none (or no such bucket).
    /// - Throws: when the read itself fails.
    func objectNow(bucket: String, key: String) throws -> ObjectRecord?
    /// The current records of two keys, read together (nil where missing).
    func objectsNow(bucket: String, _ first: String, _ second: String) throws -> (ObjectRecord?, ObjectRecord?)
}

/// A store that can hand over a small object whose bytes its index keeps, on the calling
/// thread and without suspending: the HTTP server answers such GETs on the connection's event
/// loop (``ObjectStore/openObject(bucket:key:)`` is the general way to read).
public protocol ImmediateObjectReads: Sendable {
    /// The object's info and all its bytes, when its record holds them. Nil when it does not,
    /// when there is no such object, or when the read fails: the caller then takes the regular
    /// path, which reports those cases.
    func inlineObjectNow(bucket: String, key: String) -> (info: ObjectInfo, bytes: ByteBuffer)?
    /// `key`'s info and bytes (nil when missing or not kept in its record) and `other`'s info,
    /// read together. Nil when the read fails or cannot be made at once.
    func inlineObjectNow(bucket: String, key: String, withInfoOf other: String) -> (object: (info: ObjectInfo, bytes: ByteBuffer)?, other: ObjectInfo?)?
}
