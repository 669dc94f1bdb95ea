import Integrity
import Foundation
import NIOCore
import Testing

@testable import Storage

extension ObjectStoreContract {
    /// The ``ObjectStore`` contract for buckets and single-part objects, on every implementation.
    @Suite("buckets and objects")
    struct Objects {
        @Test(arguments: StoreKind.allCases)
        func buckets(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind, bucket: nil)
            defer { harness.cleanUp() }
            let store = harness.store
            try await store.createBucket("zeta")
            try await store.createBucket("alpha")
            #expect(await storageErrorCode { try await store.createBucket("alpha") } == .bucketAlreadyExists)
            #expect(try await store.listBuckets().map(\.name) == ["alpha", "zeta"])
            #expect(try await store.bucket("alpha")?.name == "alpha")
            #expect(try await store.bucket("missing") == nil)
            #expect(await storageErrorCode { try await store.deleteBucket("missing") } == .noSuchBucket)

            try await put(store, "k", [1], bucket: "alpha")
            #expect(await storageErrorCode { try await store.deleteBucket("alpha") } == .bucketNotEmpty)
            try await store.deleteObject(bucket: "alpha", key: "k")
            let upload = try await store.createMultipartUpload(bucket: "alpha", key: "m", attributes: .init(), checksumAlgorithm: nil)
            #expect(await storageErrorCode { try await store.deleteBucket("alpha") } == .bucketNotEmpty)
            try await store.abortMultipartUpload(bucket: "alpha", key: "m", uploadID: upload)
            try await store.deleteBucket("alpha")
            #expect(try await store.listBuckets().map(\.name) == ["zeta"])
        }

        @Test(arguments: StoreKind.allCases)
        func missingBucket(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            #expect(await storageErrorCode { try await put(store, "k", [1], bucket: "nope") } == .noSuchBucket)
            #expect(await storageErrorCode { _ = try await store.headObject(bucket: "nope", key: "k") } == .noSuchBucket)
            #expect(await storageErrorCode { _ = try await store.openObject(bucket: "nope", key: "k") } == .noSuchBucket)
            #expect(await storageErrorCode { try await store.deleteObject(bucket: "nope", key: "k") } == .noSuchBucket)
            #expect(await storageErrorCode { _ = try await store.listObjects(bucket: "nope", query: .init()) } == .noSuchBucket)
            #expect(await storageErrorCode {
                _ = try await store.createMultipartUpload(bucket: "nope", key: "k", attributes: .init(), checksumAlgorithm: nil)
            } == .noSuchBucket)
            #expect(await storageErrorCode {
                _ = try await store.listMultipartUploads(bucket: "nope", query: .init())
            } == .noSuchBucket)
        }

        @Test(arguments: StoreKind.allCases)
        func putHeadOpenDelete(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let attributes = ObjectAttributes(
                contentType: "image/jpeg", cacheControl: "max-age=60", contentDisposition: "inline",
                contentEncoding: "identity", contentLanguage: "fr", expires: "Wed, 21 Oct 2037 07:28:00 GMT",
                userMetadata: ["subject": "anna", "shot": "1"]
            )
            let bytes = pattern(5000)
            let checksum = StoredChecksum(algorithm: "CRC32", value: "AAAAAA==")
            let info = try await store.putObject(
                bucket: "b", key: "photos/1.jpg", attributes: attributes, precondition: .none,
                origin: .derived(sourceETag: "abc"), body: TestBody.of(bytes, chunkSize: 333, checksum: checksum)
            )
            #expect(info.size == 5000)
            #expect(info.etag == md5Hex(bytes))
            #expect(info.attributes == attributes)
            #expect(info.checksum == checksum)
            #expect(info.origin == .derived(sourceETag: "abc"))
            #expect(info.isMultipart == false)
            #expect(info.parts == [ObjectPart(number: 1, size: 5000, etag: md5Hex(bytes), checksum: checksum)])
            #expect(try await store.headObject(bucket: "b", key: "photos/1.jpg") == info)
            let reader = try await store.openObject(bucket: "b", key: "photos/1.jpg")
            #expect(reader.info == info)
            #expect(try await collect(reader.read(range: nil)) == bytes)

            let second = try await put(store, "photos/1.jpg", [9, 9])
            #expect(try await contents(store, "photos/1.jpg") == [9, 9])
            #expect(try await store.deleteObject(bucket: "b", key: "photos/1.jpg") == second)
            #expect(try await store.deleteObject(bucket: "b", key: "photos/1.jpg") == nil)
            #expect(try await store.headObject(bucket: "b", key: "photos/1.jpg") == nil)
            #expect(await storageErrorCode { _ = try await store.openObject(bucket: "b", key: "photos/1.jpg") } == .noSuchKey)
        }

        @Test(arguments: StoreKind.allCases)
        func zeroByteObject(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let info = try await put(store, "empty", [])
            #expect(info.size == 0)
            #expect(info.etag == "d41d8cd98f00b204e9800998ecf8427e")
            #expect(try await contents(store, "empty") == [])
            let reader = try await store.openObject(bucket: "b", key: "empty")
            await #expect(throws: StorageError(.invalidRange, "0..<1 of 0 bytes")) {
                _ = try await collect(reader.read(range: 0..<1))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func keysAreBytes(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let precomposed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            #expect(precomposed == decomposed)  // Swift's String equality: canonical equivalence
            try await put(store, precomposed, [1])
            try await put(store, decomposed, [2])
            #expect(try await contents(store, precomposed) == [1])
            #expect(try await contents(store, decomposed) == [2])
            let keys = try await store.listObjects(bucket: "b", query: .init()).objects.map { Array($0.key.utf8) }
            #expect(keys == [Array(decomposed.utf8), Array(precomposed.utf8)])
            try await store.deleteObject(bucket: "b", key: decomposed)
            #expect(try await contents(store, precomposed) == [1])
            #expect(try await store.headObject(bucket: "b", key: decomposed) == nil)
        }

        @Test(arguments: StoreKind.allCases)
        func ranges(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let size = 2 * ReadRange.chunkSize + 12345
            let bytes = pattern(size)
            try await put(store, "big", bytes)
            let reader = try await store.openObject(bucket: "b", key: "big")
            for range: Range<Int64> in [0..<1, 5..<6, 0..<Int64(size), 100..<2_000_000, Int64(size - 1)..<Int64(size)] {
                #expect(try await collect(reader.read(range: range)) == Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)]))
            }
            // The end is clamped to the object; a range that starts past it, or is empty, is invalid.
            #expect(try await collect(reader.read(range: Int64(size - 3)..<Int64(size + 100))) == Array(bytes[(size - 3)...]))
            for range: Range<Int64> in [Int64(size)..<Int64(size + 1), 10..<10, -1..<3] {
                await #expect(throws: StorageError.self) { _ = try await collect(reader.read(range: range)) }
            }
            var chunks = 0
            for try await chunk in reader.read(range: nil) {
                #expect(chunk.readableBytes <= ReadRange.chunkSize)
                chunks += 1
            }
            #expect(chunks >= 3)
        }

        @Test(arguments: StoreKind.allCases)
        func preconditions(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let first = try await put(store, "k", [1], precondition: .ifAbsent)
            #expect(await storageErrorCode { try await put(store, "k", [2], precondition: .ifAbsent) } == .preconditionFailed)
            #expect(await storageErrorCode { try await put(store, "k", [3], precondition: .ifMatch(etag: "0000")) } == .preconditionFailed)
            #expect(await storageErrorCode { try await put(store, "new", [3], precondition: .ifMatch(etag: first.etag)) } == .noSuchKey)
            #expect(try await contents(store, "k") == [1])
            try await put(store, "k", [4], precondition: .ifMatch(etag: first.etag))
            #expect(try await contents(store, "k") == [4])
            #expect(try await store.headObject(bucket: "b", key: "new") == nil)
        }

        /// A variant and its source opened together: the reader streams the first key, the
        /// info is the second's; a missing key gives nil, a missing bucket throws.
        @Test(arguments: StoreKind.allCases)
        func openWithInfoOfAnother(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let thumb = try await put(store, "d/thumb.jpg", pattern(3000, seed: 4))
            let source = try await put(store, "d/original.jpg", pattern(900, seed: 5))
            let both = try await store.openObject(bucket: "b", key: "d/thumb.jpg", withInfoOf: "d/original.jpg")
            #expect(both.reader?.info.etag == thumb.etag)
            #expect(both.other?.etag == source.etag && both.other?.size == 900)
            if let reader = both.reader {
                #expect(try await collect(reader.read(range: nil)) == pattern(3000, seed: 4))
            }
            let noVariant = try await store.openObject(bucket: "b", key: "d/none.jpg", withInfoOf: "d/original.jpg")
            #expect(noVariant.reader == nil && noVariant.other?.etag == source.etag)
            let noSource = try await store.openObject(bucket: "b", key: "d/thumb.jpg", withInfoOf: "e/original.jpg")
            #expect(noSource.reader?.info.etag == thumb.etag && noSource.other == nil)
            #expect(await storageErrorCode {
                _ = try await store.openObject(bucket: "nope", key: "k", withInfoOf: "j")
            } == .noSuchBucket)
        }

        @Test(arguments: StoreKind.allCases)
        func concurrentIfAbsentHasOneWinner(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let outcomes = try await withThrowingTaskGroup(of: (Int, StorageError.Code?).self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        let code = await storageErrorCode {
                            try await put(store, "once", pattern(3000, seed: UInt8(writer)), precondition: .ifAbsent)
                        }
                        return (writer, code)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == nil }.map(\.0)
            #expect(winners.count == 1)
            #expect(outcomes.filter { $0.1 == .preconditionFailed }.count == 15)
            if let winner = winners.first {
                #expect(try await contents(store, "once") == pattern(3000, seed: UInt8(winner)))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func failedBodiesLeaveNoTrace(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let original = try await put(store, "k", pattern(4000))
            let before = harness.fileCounts()
            await #expect(throws: TestFailure.self) {
                try await store.putObject(
                    bucket: "b", key: "k", attributes: .init(), precondition: .none, origin: .client,
                    body: TestBody.failingMidway(after: pattern(3 << 20, seed: 2))
                )
            }
            await #expect(throws: TestFailure.self) {
                try await store.putObject(
                    bucket: "b", key: "k", attributes: .init(), precondition: .none, origin: .client,
                    body: TestBody.failingFinish(pattern(1000, seed: 3))
                )
            }
            await #expect(throws: TestFailure.self) {
                try await store.putObject(
                    bucket: "b", key: "fresh", attributes: .init(), precondition: .none, origin: .client,
                    body: TestBody.failingFinish([])
                )
            }
            #expect(try await store.headObject(bucket: "b", key: "k") == original)
            #expect(try await contents(store, "k") == pattern(4000))
            #expect(try await store.headObject(bucket: "b", key: "fresh") == nil)
            let after = harness.fileCounts()
            #expect(after.tmp == 0)
            #expect(after.blobs == before.blobs)
            if kind == .disk { #expect(after.blobs == 1) }
        }

        @Test(arguments: StoreKind.allCases)
        func readerKeepsItsVersion(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let v1 = pattern(3 * ReadRange.chunkSize + 7, seed: 1)
            try await put(store, "k", v1)
            let reader = try await store.openObject(bucket: "b", key: "k")
            let started = try await store.openObject(bucket: "b", key: "k")
            var iterator = started.read(range: nil).makeAsyncIterator()
            let firstChunk = try await iterator.next()
            try await put(store, "k", pattern(100, seed: 2))
            #expect(try await collect(reader.read(range: nil)) == v1)
            try await store.deleteObject(bucket: "b", key: "k")
            #expect(try await collect(reader.read(range: 5..<10)) == Array(v1[5..<10]))
            var rest = Array(firstChunk?.readableBytesView ?? ByteBuffer().readableBytesView)
            while let chunk = try await iterator.next() { rest += chunk.readableBytesView }
            #expect(rest == v1)
            #expect(await storageErrorCode { _ = try await store.openObject(bucket: "b", key: "k") } == .noSuchKey)
        }

        @Test(arguments: StoreKind.allCases)
        func readsNeverMixVersions(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            try await put(store, "k", pattern(3000, seed: 0))
            let torn = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    for version in 1...40 { try await put(store, "k", pattern(1000 + version * 97, seed: UInt8(version))) }
                    try await store.deleteObject(bucket: "b", key: "k")
                    return 0
                }
                for _ in 0..<4 {
                    group.addTask {
                        var torn = 0
                        for _ in 0..<40 {
                            guard let reader = try? await store.openObject(bucket: "b", key: "k") else { continue }
                            let bytes = try await collect(reader.read(range: nil))
                            if md5Hex(bytes) != reader.info.etag || bytes.count != reader.info.size { torn += 1 }
                        }
                        return torn
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(torn == 0)
            if kind == .disk {
                // Deleted in the background: waits up to 10 s (the suite runs in parallel on few cores).
                for _ in 0..<1000 where harness.fileCounts().blobs != 0 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(harness.fileCounts() == (0, 0))
            }
        }

        @Test(arguments: StoreKind.allCases)
        func consumerMayStopEarly(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            try await put(store, "k", pattern(3 * ReadRange.chunkSize))
            for _ in 0..<3 {
                let reader = try await store.openObject(bucket: "b", key: "k")
                var iterator = reader.read(range: nil).makeAsyncIterator()
                #expect(try await iterator.next()?.readableBytes == ReadRange.chunkSize)
            }
            #expect(try await contents(store, "k", range: 0..<3) == Array(pattern(3)))
        }
    }
}
