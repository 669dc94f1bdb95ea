import NIOCore

/// An index that can read one object's record on the calling thread, without suspending.
public protocol ImmediateObjectIndex: Sendable {
    /// The current record of `key`, or nil when there is none (or no such bucket).
    /// - Throws: when the read itself fails.
    func objectNow(bucket: String, key: String) throws -> ObjectRecord?
    /// The current records of two keys, read together (nil where missing).
    func objectsNow(bucket: String, _ first: String, _ second: String) throws -> (ObjectRecord?, ObjectRecord?)
    /// Runs `body`, which must not block, with the reads it makes on the calling thread through
    /// this index (and whatever else reads its database the same way, such as the policy
    /// store) in one snapshot, where the index can do that more cheaply than read by read.
    func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T
}

extension ImmediateObjectIndex {
    /// Runs `body`: each read takes its own snapshot.
    public func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T {
        try body()
    }
}

/// An index that can commit an object record without the caller suspending: it reports the
/// outcome through a callback (``ObjectIndex/commitObject(_:precondition:)`` is the async form
/// of the same commit).
public protocol ImmediateObjectCommits: Sendable {
    /// Commits `record` if `precondition` holds, like ``ObjectIndex/commitObject(_:precondition:)``,
    /// and calls `done` exactly once, on whatever thread the commit ended, with the replaced
    /// version's blobs or the error.
    /// - Parameter mayRunHere: the calling thread may run the commit itself, blocking, when no
    ///   other commit is running (an event loop with no other request in progress).
    func commitObject(
        _ record: ObjectRecord, precondition: WritePrecondition, mayRunHere: Bool,
        done: @escaping @Sendable (Result<[BlobID], any Error>) -> Void)
}

/// What an immediate read hands over of an object besides its info.
public enum ImmediateBytesWanted: Sendable {
    /// Nothing (the caller answers a HEAD): every object qualifies, wherever its bytes are.
    case none
    /// The bytes the object's record keeps; an object kept elsewhere does not qualify.
    case kept
    /// The bytes the record keeps, or the one file of the store that holds them, opened, when
    /// the store expects to send it without waiting for the disk.
    case keptOrFile
}

/// A store that can hand over an object's info, with the bytes its index keeps or the one file
/// that holds them, on the calling thread and without suspending: the HTTP server answers such
/// GETs and HEADs on the connection's event loop (``ObjectStore/openObject(bucket:key:)`` is
/// the general way to read).
public protocol ImmediateObjectReads: Sendable {
    /// Runs `body`, which must not block, with the reads it makes through this store's index on
    /// the calling thread in one snapshot where the index offers that
    /// (``ImmediateObjectIndex/inOneSnapshot(_:)``).
    func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T
    /// The object's info and the bytes `wanted`: nil bytes for ``ImmediateBytesWanted/none``,
    /// otherwise all of them, kept in its record or, for ``ImmediateBytesWanted/keptOrFile``,
    /// in one file of the store that is opened here and handed over, to be sent as it is
    /// (`sendfile`). Nil when the object does not qualify, when there is no such object, when
    /// the read fails, and for objects whose file is not worth opening on the calling thread
    /// (one not in the page cache): the caller then takes the regular path, which reports
    /// those cases.
    /// - Important: the caller closes a file it is given.
    func objectNow(bucket: String, key: String, bytes wanted: ImmediateBytesWanted) -> (info: ObjectInfo, bytes: ImmediateBytes?)?
    /// ``objectNow(bucket:key:bytes:)`` of `key` (nil when that is nil), and `other`'s info,
    /// read together. Nil when the read fails or cannot be made at once.
    /// - Important: the caller closes a file it is given.
    func objectNow(bucket: String, key: String, withInfoOf other: String, bytes wanted: ImmediateBytesWanted)
        -> (object: (info: ObjectInfo, bytes: ImmediateBytes?)?, other: ObjectInfo?)?
}

extension ImmediateObjectReads {
    /// Runs `body`: each read takes its own snapshot.
    public func inOneSnapshot<T>(_ body: () throws -> T) rethrows -> T {
        try body()
    }
}

/// An object's bytes at hand: in memory, or in an open file.
public enum ImmediateBytes: Sendable {
    case inline(ByteBuffer)
    /// The whole file holds the bytes, and nothing changes it while it is open (a store's
    /// files are written once, and deleting one leaves an open descriptor reading it).
    /// - Important: whoever holds it closes it.
    case file(NIOFileHandle, size: Int64)
}

/// A store that can take a small object whose bytes are all at hand and already verified,
/// without the caller suspending: the HTTP server commits such PUTs from the connection's
/// event loop (``ObjectStore/putObject(bucket:key:attributes:precondition:origin:body:)`` is
/// the general way to write).
public protocol ImmediateObjectWrites: Sendable {
    /// The largest object ``putInlineNow(bucket:key:attributes:origin:bytes:digest:mayRunHere:done:)`` takes.
    var inlineLimit: Int64 { get }
    /// Starts committing `bytes` as the new version of `key`, kept in its index record, as
    /// `putObject` with no precondition would; calls `done` exactly once, on any thread, when
    /// the version is visible (and the version it replaced is gone) or with the error that
    /// left everything as it was.
    /// - Parameter mayRunHere: the calling thread may run the commit itself, blocking
    ///   (``ImmediateObjectCommits/commitObject(_:precondition:mayRunHere:done:)``).
    /// - Returns: false, without calling `done`, when this store does not keep such an object
    ///   in its index (too large, or an index that cannot commit without suspending).
    func putInlineNow(
        bucket: String, key: String, attributes: ObjectAttributes, origin: ObjectOrigin, bytes: ByteBuffer,
        digest: UploadDigest, mayRunHere: Bool, done: @escaping @Sendable (Result<ObjectInfo, any Error>) -> Void
    ) -> Bool
}
