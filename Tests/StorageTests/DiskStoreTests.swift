import Integrity
import DiskStorage
import FileTestSupport
import Foundation
import GRDB
import GRDBSQLite
import NIOCore
import Synchronization
import Testing

@testable import SQLiteMetadata

@testable import Storage

/// What only the disk store (with SQLite) has: files, restarts, recovery, durability settings.
@Suite("DiskObjectStore")
struct DiskStoreTests {
    @Test
    func restartKeepsObjectsAndUploads() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let store = harness.store
        let info = try await put(store, "keep/me", pattern(70_000))
        try await put(store, "", [])
        let id = try await store.createMultipartUpload(bucket: "b", key: "m", attributes: .init(), checksumAlgorithm: nil)
        let part = try await store.uploadPart(bucket: "b", key: "m", uploadID: id, partNumber: 1, body: TestBody.of(pattern(10)))

        let reopened = try await harness.reopen()
        #expect(reopened.recovery == RecoveryReport())
        #expect(try await reopened.headObject(bucket: "b", key: "keep/me") == info)
        #expect(try await contents(reopened, "keep/me") == pattern(70_000))
        #expect(try await contents(reopened, "") == [])
        let parts = try await reopened.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 0, maxParts: 10)
        #expect(parts.parts == [part])
        let done = try await reopened.completeMultipartUpload(
            bucket: "b", key: "m", uploadID: id, parts: [.init(number: 1, etag: part.etag)], precondition: .none
        )
        #expect(try await contents(reopened, "m") == pattern(10))
        #expect(done.etag.hasSuffix("-1"))
    }

    @Test
    func reopenRemovesTempFilesAndOrphanBlobs() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        try await put(harness.store, "k", pattern(1000))
        let id = try await harness.store.createMultipartUpload(bucket: "b", key: "m", attributes: .init(), checksumAlgorithm: nil)
        _ = try await harness.store.uploadPart(bucket: "b", key: "m", uploadID: id, partNumber: 1, body: TestBody.of([1, 2]))
        let objects = try #require(harness.objectsDirectory)
        let files = FileManager.default
        #expect(files.createFile(atPath: objects.appendingPathComponent("tmp/0123").path, contents: Data([1])))
        try files.createDirectory(at: objects.appendingPathComponent("tmp/half"), withIntermediateDirectories: true)
        let orphan = BlobID.random()
        let orphanPath = objects.appendingPathComponent("blobs/\(orphan.fanOut)/\(orphan.rawValue)").path
        for fan in [orphan.fanOut, "00"] {
            try files.createDirectory(at: objects.appendingPathComponent("blobs/\(fan)"), withIntermediateDirectories: true)
        }
        #expect(files.createFile(atPath: orphanPath, contents: Data([7, 7])))
        let stranger = objects.appendingPathComponent("blobs/00/not-a-blob").path
        #expect(files.createFile(atPath: stranger, contents: Data()))
        #expect(harness.fileCounts() == (1, 4))

        let reopened = try await harness.reopen()
        #expect(reopened.recovery == RecoveryReport(removedTemporaryFiles: 2, removedOrphanBlobs: 1, unknownEntries: 1))
        #expect(!files.fileExists(atPath: orphanPath))
        #expect(files.fileExists(atPath: stranger))
        #expect(try files.contentsOfDirectory(atPath: objects.appendingPathComponent("tmp").path).isEmpty)
        #expect(try await contents(reopened, "k") == pattern(1000))
        let parts = try await reopened.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 0, maxParts: 10)
        #expect(parts.parts.count == 1)
    }

    @Test
    func keysNeverBecomePaths() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let directory = try #require(harness.directory)
        for key in ["../../escape", "../../../escape", "/etc/passwd", "a/../../b", "..", "tmp/x", "blobs/00/y", "\u{0}nul"] {
            try await put(harness.store, key, Array(key.utf8))
            #expect(try await contents(harness.store, key) == Array(key.utf8))
        }
        let files = FileManager.default
        #expect(try files.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix("meta.db") } == ["objects"])
        let objects = directory.appendingPathComponent("objects")
        #expect(try files.contentsOfDirectory(atPath: objects.path).sorted() == ["blobs", "tmp"])
        let blobs = objects.appendingPathComponent("blobs")
        for fan in try files.contentsOfDirectory(atPath: blobs.path) {
            for name in try files.contentsOfDirectory(atPath: blobs.appendingPathComponent(fan).path) {
                #expect(BlobID(name)?.fanOut == fan)
            }
        }
        #expect(harness.fileCounts() == (0, 8))
    }

    @Test
    func replacedBlobsWaitForTheirReaders() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let store = try #require(harness.store as? DiskObjectStore)
        let id = try await store.createMultipartUpload(bucket: "b", key: "k", attributes: .init(), checksumAlgorithm: nil)
        let first = try await store.uploadPart(bucket: "b", key: "k", uploadID: id, partNumber: 1, body: TestBody.of(pattern(100, seed: 1)))
        let second = try await store.uploadPart(bucket: "b", key: "k", uploadID: id, partNumber: 2, body: TestBody.of(pattern(50, seed: 2)))
        _ = try await store.completeMultipartUpload(
            bucket: "b", key: "k", uploadID: id, parts: [.init(number: 1, etag: first.etag), .init(number: 2, etag: second.etag)],
            precondition: .none
        )
        var reader: (any ObjectReader)? = try await store.openObject(bucket: "b", key: "k")
        #expect(store.leasedBlobCount == 2)
        try await put(store, "k", [1])
        #expect(harness.fileCounts().blobs == 3)  // the reader still holds both parts
        #expect(try await collect(try #require(reader).read(range: 90..<110)) == Array((pattern(100, seed: 1) + pattern(50, seed: 2))[90..<110]))
        reader = nil
        #expect(store.leasedBlobCount == 0)
        // Deleted in the background: waits up to 10 s (the suite runs in parallel on few cores).
        for _ in 0..<1000 where harness.fileCounts().blobs != 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(harness.fileCounts().blobs == 1)
    }

    /// Objects up to the inline limit live in their index record: no file is written, leased or
    /// deleted for them, through overwrites in both directions, ranges, a reader kept across
    /// an overwrite, a failed upload, a restart and a delete.
    @Test
    func smallObjectsLiveInTheIndex() async throws {
        let harness = try await StoreHarness.make(.diskInline)
        defer { harness.cleanUp() }
        let store = try #require(harness.store as? DiskObjectStore)
        let limit = Int(StoreHarness.inlineLimit)
        let small = pattern(limit, seed: 1)
        let info = try await put(store, "k", small)
        try await put(store, "empty", [])
        #expect(harness.fileCounts() == (0, 0))
        #expect(try await store.headObject(bucket: "b", key: "k") == info)
        #expect(try await contents(store, "k") == small)
        #expect(try await contents(store, "empty") == [])
        let reader = try await store.openObject(bucket: "b", key: "k")
        #expect(store.leasedBlobCount == 0)
        #expect(try await collect(reader.read(range: 10..<20)) == Array(small[10..<20]))
        #expect(await storageErrorCode { _ = try await collect(reader.read(range: Int64(limit)..<Int64(limit + 5))) } == .invalidRange)

        // One byte over the limit is a blob file; back under the limit frees it.
        let large = pattern(limit + 1, seed: 2)
        try await put(store, "k", large)
        #expect(harness.fileCounts() == (0, 1))
        #expect(try await contents(store, "k") == large)
        #expect(try await collect(reader.read(range: nil)) == small)
        do {
            let blobReader = try await store.openObject(bucket: "b", key: "k")
            try await put(store, "k", pattern(100, seed: 3))
            #expect(harness.fileCounts() == (0, 1))  // still being read
            #expect(try await collect(blobReader.read(range: nil)) == large)
        }
        // Deleted in the background: waits up to 10 s (the suite runs in parallel on few cores).
        for _ in 0..<1000 where harness.fileCounts().blobs != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(harness.fileCounts() == (0, 0))
        #expect(try await contents(store, "k") == pattern(100, seed: 3))

        // A failed small upload leaves the current version and writes nothing.
        await #expect(throws: TestFailure.self) {
            try await store.putObject(
                bucket: "b", key: "k", attributes: .init(), precondition: .none, origin: .client,
                body: TestBody.failingFinish(pattern(50, seed: 4))
            )
        }
        #expect(try await contents(store, "k") == pattern(100, seed: 3))

        let reopened = try await harness.reopen()
        #expect(reopened.recovery == RecoveryReport())
        #expect(try await contents(reopened, "k") == pattern(100, seed: 3))
        #expect(try await contents(reopened, "empty") == [])
        #expect(try await reopened.deleteObject(bucket: "b", key: "k", precondition: .none)?.size == 100)
        #expect(await storageErrorCode { _ = try await reopened.openObject(bucket: "b", key: "k") } == .noSuchKey)
        #expect(harness.fileCounts() == (0, 0))
    }

    /// `objectNow(bytes: .keptOrFile)`, which the HTTP server's event loop sends with
    /// `sendfile`: an object kept in one blob comes as that blob, open, and the open file keeps
    /// that version's bytes after an overwrite deleted the blob. Nothing is opened for `.kept`,
    /// for an object of several parts, for one as large as those written around the page
    /// cache, or for a blob whose length is not the object's (the regular read reports that
    /// damage). `.none` (a HEAD) hands over the info of each of them, and nothing else.
    @Test
    func objectsHandedOverAsOpenFiles() async throws {
        let harness = try await StoreHarness.make(.diskInline)
        defer { harness.cleanUp() }
        let store = try #require(harness.store as? DiskObjectStore)
        let small = pattern(100, seed: 1)
        let smallInfo = try await put(store, "small", small)
        guard case .inline(let bytes)? = store.objectNow(bucket: "b", key: "small", bytes: .keptOrFile)?.bytes else {
            Issue.record("a small object comes from its record")
            return
        }
        #expect(Array(bytes.readableBytesView) == small)
        #expect(Self.handedOver(store, "small", bytes: .kept) == "inline")
        #expect(Self.handedOver(store, "small", bytes: .none) == "info")
        #expect(store.objectNow(bucket: "b", key: "small", bytes: .none)?.info == smallInfo)
        #expect(Self.handedOver(store, "missing") == nil)
        #expect(Self.handedOver(store, "missing", bytes: .none) == nil)

        let large = pattern(Int(StoreHarness.inlineLimit) * 3 + 7, seed: 2)
        let info = try await put(store, "k", large)
        #expect(Self.handedOver(store, "k", bytes: .kept) == nil)
        #expect(store.objectNow(bucket: "b", key: "k", bytes: .none)?.info == info)
        let pinned = try PinnedPages(filesUnder: try #require(harness.objectsDirectory))
        let handed = try #require(store.objectNow(bucket: "b", key: "k", bytes: .keptOrFile))
        pinned.release()
        #expect(handed.info == info)
        guard case .file(let file, let size)? = handed.bytes else {
            Issue.record("an object in one blob comes as its file")
            return
        }
        defer { try? file.close() }
        #expect(size == Int64(large.count))
        #expect(store.leasedBlobCount == 0)
        try await put(store, "k", pattern(50, seed: 3))
        // Deleted in the background: waits up to 10 s (the suite runs in parallel on few cores).
        for _ in 0..<1000 where harness.fileCounts().blobs != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(harness.fileCounts().blobs == 0)
        #expect(try Self.readAll(file) == large)

        // Several parts.
        let id = try await store.createMultipartUpload(bucket: "b", key: "m", attributes: .init(), checksumAlgorithm: nil)
        let first = try await store.uploadPart(bucket: "b", key: "m", uploadID: id, partNumber: 1, body: TestBody.of(pattern(100, seed: 4)))
        let second = try await store.uploadPart(bucket: "b", key: "m", uploadID: id, partNumber: 2, body: TestBody.of(pattern(50, seed: 5)))
        _ = try await store.completeMultipartUpload(
            bucket: "b", key: "m", uploadID: id, parts: [.init(number: 1, etag: first.etag), .init(number: 2, etag: second.etag)],
            precondition: .none)
        #expect(Self.handedOver(store, "m") == nil)
        #expect(store.objectNow(bucket: "b", key: "m", bytes: .none)?.info.parts.count == 2)

        // As large as an upload written around the page cache.
        let huge = [UInt8](repeating: 7, count: 16 << 20)
        _ = try await store.putObject(
            bucket: "b", key: "huge", attributes: ObjectAttributes(), precondition: .none, origin: .client,
            body: TestBody.of(huge, chunkSize: 1 << 20))
        #expect(Self.handedOver(store, "huge") == nil)
        #expect(Self.handedOver(store, "huge", bytes: .none) == "info")
        try await put(store, "huge", pattern(1, seed: 6))

        // A blob cut short.
        try await put(store, "cut", large)
        for _ in 0..<1000 where harness.fileCounts().blobs != 3 { try await Task.sleep(for: .milliseconds(10)) }
        let cut = try #require(Self.blobFile(harness, size: large.count))
        #expect(truncate(cut, off_t(large.count - 1)) == 0)
        #expect(Self.handedOver(store, "cut") == nil)
        #expect(await storageErrorCode { _ = try await contents(store, "cut") } == .internalError)
    }

    /// A blob whose pages the kernel dropped from its cache is not handed over (the event loop
    /// that sent it would wait for the disk): the regular read serves it. Once its pages are
    /// back, it is handed over again.
    @Test
    func coldBlobsAreLeftToTheRegularRead() async throws {
        let harness = try await StoreHarness.make(.diskInline)
        defer { harness.cleanUp() }
        let store = try #require(harness.store as? DiskObjectStore)
        let bytes = pattern(300_001, seed: 7)
        try await put(store, "k", bytes)

        // The blob was synced when it was written, so its pages are clean and can be dropped
        // (this machine's page cache is also emptied every few seconds).
        let path = try #require(Self.blobFile(harness, size: bytes.count))
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        #expect(posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0)
        close(descriptor)
        #expect(Self.handedOver(store, "k") == nil)
        #expect(Self.handedOver(store, "k", bytes: .none) == "info")

        #expect(try await contents(store, "k") == bytes)
        let pinned = try PinnedPages(filesUnder: try #require(harness.objectsDirectory))
        #expect(Self.handedOver(store, "k") == "file")
        pinned.release()
    }

    /// A blob being read is open close-on-exec: a process the server starts meanwhile does not
    /// keep it (NIO opens files without it unless asked).
    @Test
    func blobsAreReadThroughCloseOnExecDescriptors() async throws {
        let harness = try await StoreHarness.make(.diskInline)
        defer { harness.cleanUp() }
        let bytes = pattern(3 << 20, seed: 8)
        try await put(harness.store, "k", bytes)
        let path = try #require(Self.blobFile(harness, size: bytes.count))
        var chunks = try await harness.store.openObject(bucket: "b", key: "k").read(range: nil).makeAsyncIterator()
        var read = try #require(try await chunks.next()).readableBytes
        #expect(read < bytes.count, "the file is still being read")

        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
        let onBlob = descriptors.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path }
        #expect(onBlob.count == 1)
        for descriptor in onBlob {
            #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
        }
        while let chunk = try await chunks.next() { read += chunk.readableBytes }
        #expect(read == bytes.count)
    }

    /// The path of the one blob file of `size` bytes in the harness's store.
    static func blobFile(_ harness: StoreHarness, size: Int) -> String? {
        guard let blobs = harness.objectsDirectory?.appendingPathComponent("blobs") else { return nil }
        return FileManager.default.subpaths(atPath: blobs.path)?
            .map { blobs.appendingPathComponent($0).path }
            .first { path in (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == size }
    }

    /// What `objectNow` hands over for `key`: "info" (no bytes), "inline", "file" (closed
    /// here), or nil.
    static func handedOver(_ store: DiskObjectStore, _ key: String, bytes wanted: ImmediateBytesWanted = .keptOrFile) -> String? {
        guard let handed = store.objectNow(bucket: "b", key: key, bytes: wanted) else { return nil }
        switch handed.bytes {
        case nil: return "info"
        case .inline: return "inline"
        case .file(let file, _)?:
            try? file.close()
            return "file"
        }
    }

    /// Everything in a file opened just now (its offset at the start).
    static func readAll(_ file: NIOFileHandle) throws -> [UInt8] {
        try file.withUnsafeFileDescriptor { Array(FileHandle(fileDescriptor: $0, closeOnDealloc: false).readDataToEndOfFile()) }
    }

    /// A path for a database file in a directory of its own, and what removes that directory.
    static func scratchDatabase() throws -> (path: String, cleanUp: () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory.appendingPathComponent("m.db").path, { try? FileManager.default.removeItem(at: directory) })
    }

    /// A database made before inline data (migration `storage-v1` only) opens, gains the
    /// column, reads its objects as before, and takes inline records.
    @Test
    func upgradeFromBeforeInlineData() async throws {
        let (path, cleanUp) = try Self.scratchDatabase()
        defer { cleanUp() }
        let blob = BlobID.random()
        do {
            let old = try SQLiteDatabase(path: path)
            try ObjectIndexSchema.migrator.migrate(old.pool, upTo: "storage-v1")
            let attributes = try IndexText.encodeAttributes(ObjectAttributes(contentType: "text/plain"))
            try await old.pool.write { db in
                try db.execute(sql: "INSERT INTO buckets (name, created_ms) VALUES ('b', 0)")
                try db.execute(sql: """
                    INSERT INTO objects (bucket, key, size, etag, last_modified_ms, attributes, is_multipart)
                    VALUES ('b', ?, 3, 'e', 0, ?, 0)
                    """, arguments: [Data("k".utf8), attributes])
                try db.execute(sql: """
                    INSERT INTO object_parts (bucket, key, seq, number, size, etag, blob) VALUES ('b', ?, 0, 1, 3, 'e', ?)
                    """, arguments: [Data("k".utf8), blob.rawValue])
            }
            #expect(try await old.pool.read { db in try db.columns(in: "object_parts").map(\.name) }.contains("data") == false)
        }
        let index = try SQLiteObjectIndex(database: SQLiteDatabase(path: path))
        let record = try #require(try await index.object(bucket: "b", key: "k"))
        #expect(record.blobs == [blob])
        #expect(record.inlineData == nil)
        #expect(record.info.attributes.contentType == "text/plain")
        var inline = record
        inline.info.key = "small"
        inline.blobs = [BlobID.random()]
        inline.inlineData = ByteBuffer(bytes: [1, 2, 3])
        #expect(try await index.commitObject(inline, precondition: .ifAbsent) == [])
        #expect(try await index.object(bucket: "b", key: "small") == inline)
        #expect(try await index.deleteObject(bucket: "b", key: "k", precondition: .none)?.blobs == [blob])
    }

    @Test
    func upgradeMovesInlineDataOutOfPartRows() async throws {
        let (path, cleanUp) = try Self.scratchDatabase()
        defer { cleanUp() }
        let bytes = pattern(3000, seed: 9)
        do {
            let old = try SQLiteDatabase(path: path)
            try ObjectIndexSchema.migrator.migrate(old.pool, upTo: "storage-v2-inline-data")
            let attributes = try IndexText.encodeAttributes(ObjectAttributes())
            try await old.pool.write { db in
                try db.execute(sql: "INSERT INTO buckets (name, created_ms) VALUES ('b', 0)")
                for key in ["inline", "file"] {
                    try db.execute(sql: """
                        INSERT INTO objects (bucket, key, size, etag, last_modified_ms, attributes, is_multipart)
                        VALUES ('b', ?, 3000, 'e', 0, ?, 0)
                        """, arguments: [Data(key.utf8), attributes])
                    try db.execute(sql: """
                        INSERT INTO object_parts (bucket, key, seq, number, size, etag, blob, data) VALUES ('b', ?, 0, 1, 3000, 'e', ?, ?)
                        """, arguments: [Data(key.utf8), BlobID.random().rawValue, key == "inline" ? Data(bytes) : nil])
                }
            }
        }
        let database = try SQLiteDatabase(path: path)
        let index = try SQLiteObjectIndex(database: database)
        let inline = try #require(try await index.object(bucket: "b", key: "inline"))
        #expect(inline.inlineData.map { Array($0.readableBytesView) } == bytes)
        #expect(try await index.object(bucket: "b", key: "file")?.inlineData == nil)
        func counts() async throws -> (dataRows: Int, oldColumn: Int) {
            try await database.pool.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM object_data") ?? -1,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM object_parts WHERE data IS NOT NULL") ?? -1)
            }
        }
        #expect(try await counts() == (1, 0))

        // Overwriting or deleting an inline object leaves no orphaned row behind.
        var info = inline.info
        info.size = 3
        info.parts[0].size = 3
        let replacement = ObjectRecord(info: info, blobs: [BlobID.random()], inlineData: ByteBuffer(bytes: [7, 8, 9]))
        #expect(try await index.commitObject(replacement, precondition: .none) == [])
        #expect(try await index.object(bucket: "b", key: "inline") == replacement)
        #expect(try await counts() == (1, 0))
        #expect(try await index.deleteObject(bucket: "b", key: "inline", precondition: .none)?.blobFiles == [])
        #expect(try await counts() == (0, 0))
    }

    /// The index transaction of a write runs in a task of its own (so that a cancelled request
    /// still learns its outcome); that task runs on the request's executor when the HTTP layer
    /// names one (``RequestExecutor``), not on the global pool.
    @Test
    func commitsRunOnTheRequestExecutor() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let executor = CountingExecutor()
        try await put(harness.store, "before", pattern(10))
        try await RequestExecutor.$current.withValue(executor) {
            try await put(harness.store, "during", pattern(10))
        }
        let afterPut = executor.jobs.load(ordering: .relaxed)
        #expect(afterPut > 0)
        _ = try await RequestExecutor.$current.withValue(executor) {
            try await harness.store.deleteObject(bucket: "b", key: "during", precondition: .none)
        }
        #expect(executor.jobs.load(ordering: .relaxed) > afterPut)
        try await put(harness.store, "after", pattern(10))
        #expect(try await contents(harness.store, "before") == pattern(10))
    }

    /// A task a request starts for work that outlives it (``RequestExecutor/startOutsideRequest(_:)``)
    /// sees no request executor, so its commits run on the global pool; a plain `Task {}` would
    /// inherit the task-local, which is why the helper exists.
    @Test
    func workStartedOutsideTheRequestDoesNotUseItsExecutor() async throws {
        let harness = try await StoreHarness.make(.disk)
        defer { harness.cleanUp() }
        let executor = CountingExecutor()
        let (plainTaskSees, outsideSees) = try await RequestExecutor.$current.withValue(executor) {
            let plain = Task { RequestExecutor.current != nil }
            let outside = RequestExecutor.startOutsideRequest { RequestExecutor.current != nil }
            return (await plain.value, try await outside.value)
        }
        #expect(plainTaskSees)
        #expect(!outsideSees)
        try await RequestExecutor.$current.withValue(executor) {
            _ = try await RequestExecutor.startOutsideRequest { try await put(harness.store, "background", pattern(10)) }.value
        }
        #expect(executor.jobs.load(ordering: .relaxed) == 0)
        #expect(try await contents(harness.store, "background") == pattern(10))
    }

    /// Runs jobs on a serial queue and counts them.
    final class CountingExecutor: TaskExecutor {
        let jobs = Atomic<Int>(0)
        let queue = DispatchQueue(label: "counting-executor")

        func enqueue(_ job: consuming ExecutorJob) {
            jobs.add(1, ordering: .relaxed)
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    /// In a process whose first SQLite use is a ``SQLiteDatabase`` (the server's), SQLite keeps
    /// no memory statistics: the used-memory counter stays at zero through opening, writing and
    /// reading (with statistics on it counts every allocation). Runs in a fresh process.
    @Test
    func sqliteMemoryStatisticsAreOff() async {
        await #expect(processExitsWith: .success) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mg-memstat-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try SQLiteDatabase(path: directory.appendingPathComponent("meta.db").path)
            try await database.pool.write { db in
                try db.execute(sql: "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')")
            }
            let count = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") }
            // Distinct exit codes say which condition failed; the folder goes first (exit skips defer).
            let failed: Int32 = !SQLiteDatabase.memoryStatisticsOff ? 2 : count != 1 ? 3 : sqlite3_memory_used() != 0 ? 4 : 0
            try? FileManager.default.removeItem(at: directory)
            if failed != 0 { exit(failed) }
        }
    }

    @Test
    func sqliteIsDurableAndWAL() async throws {
        let (path, cleanUp) = try Self.scratchDatabase()
        defer { cleanUp() }
        let database = try SQLiteDatabase(path: path)
        #expect(try database.durabilitySettings() == DurabilitySettings(journalMode: "wal", synchronous: 2))
        _ = try SQLiteObjectIndex(database: database)
        _ = try SQLiteObjectIndex(database: database)  // migrations are idempotent
    }

    /// Recovery's blob lookup searches both blob indexes (no table scan); the object parts' one
    /// is partial (parts kept in the index are not in it).
    @Test
    func blobLookupUsesTheBlobIndexes() async throws {
        let (path, cleanUp) = try Self.scratchDatabase()
        defer { cleanUp() }
        let database = try SQLiteDatabase(path: path)
        let index = try SQLiteObjectIndex(database: database)
        try await index.createBucket("b", creationDate: Date())
        let info = ObjectInfo(
            bucket: "b", key: "small", size: 3, etag: "e", lastModified: Date(), attributes: ObjectAttributes(), checksum: nil,
            parts: [ObjectPart(number: 1, size: 3, etag: "e", checksum: nil)], isMultipart: false, origin: .client
        )
        _ = try await index.commitObject(ObjectRecord(info: info, blobs: [.random()], inlineData: ByteBuffer(bytes: [1, 2, 3])), precondition: .none)
        var file = info
        file.key = "large"
        let fileBlob = BlobID.random()
        _ = try await index.commitObject(ObjectRecord(info: file, blobs: [fileBlob]), precondition: .none)
        let (plan, partial) = try await database.pool.read { db in
            let plan = try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN " + SQLiteObjectIndex.referencedBlobsSQL(count: 2), arguments: ["x", "y", "x", "y"]
            ).map { $0["detail"] as String }
            let partial = try Row.fetchAll(db, sql: "PRAGMA index_list(object_parts)")
                .first { ($0["name"] as String) == "object_parts_by_blob" }.map { $0["partial"] as Int }
            return (plan, partial)
        }
        let searches = plan.filter { $0.hasPrefix("SEARCH") }
        #expect(searches.count == 2, "\(plan)")
        #expect(searches.contains { $0.contains("object_parts USING") && $0.contains("INDEX object_parts_by_blob") }, "\(plan)")
        #expect(searches.contains { $0.contains("upload_parts USING") && $0.contains("INDEX upload_parts_by_blob") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
        #expect(partial == 1)
        #expect(try await index.referencedBlobs(among: [fileBlob, .random()]) == [fileBlob])
    }

    @Test
    func identifiersAndDigests() {
        #expect(md5Hex([UInt8]()) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(md5Hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(md5Hex(Array(repeating: UInt8(ascii: "a"), count: 1_000)) == "cabe45dcc9ae5b66ba86600cca6b8ba8")
        #expect(BlobID("../../../../etc/passwd0000000000") == nil)
        #expect(BlobID("ABCDEF0123456789abcdef0123456789") == nil)
        #expect(BlobID.random().rawValue.count == 32)
        let early = UploadID.make(initiated: Date(timeIntervalSince1970: 1_000))
        let late = UploadID.make(initiated: Date(timeIntervalSince1970: 2_000))
        #expect(early < late)
        #expect(early.count == 32)
    }
}
