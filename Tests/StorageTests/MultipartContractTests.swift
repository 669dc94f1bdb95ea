import Integrity
import Foundation
import Testing

@testable import Storage

extension ObjectStoreContract {
    /// Multipart uploads on every implementation.
    @Suite("multipart")
    struct Multipart {
        static let partSize = Int(StoreHarness.minimumPartSize)

        static func upload(_ store: any ObjectStore, key: String = "m") async throws -> String {
            try await store.createMultipartUpload(
                bucket: "b", key: key, attributes: ObjectAttributes(contentType: "video/mp4"), checksumAlgorithm: "SHA256"
            )
        }

        static func part(
            _ store: any ObjectStore, _ id: String, _ number: Int, _ bytes: [UInt8], key: String = "m"
        ) async throws -> ObjectPart {
            try await store.uploadPart(bucket: "b", key: key, uploadID: id, partNumber: number, body: TestBody.of(bytes))
        }

        /// The S3 multipart ETag, computed independently of the store.
        static func expectedETag(_ parts: [[UInt8]]) -> String {
            md5Hex(parts.flatMap { MD5Hasher.digest($0) }) + "-\(parts.count)"
        }

        @Test(arguments: StoreKind.allCases)
        func completeAssemblesPartsInOrder(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let id = try await Self.upload(store)
            let bodies = [pattern(Self.partSize + 10, seed: 1), pattern(Self.partSize, seed: 2), pattern(7, seed: 3)]
            let p3 = try await Self.part(store, id, 3, bodies[2])
            let p1 = try await Self.part(store, id, 1, bodies[0])
            let p2 = try await Self.part(store, id, 2, bodies[1])
            #expect(p1 == ObjectPart(number: 1, size: Int64(Self.partSize + 10), etag: md5Hex(bodies[0])))
            let info = try await store.completeMultipartUpload(
                bucket: "b", key: "m", uploadID: id,
                parts: [.init(number: 1, etag: p1.etag), .init(number: 2, etag: "\"\(p2.etag)\""), .init(number: 3, etag: p3.etag.uppercased())],
                precondition: .none
            )
            #expect(info.etag == Self.expectedETag(bodies))
            #expect(info.isMultipart)
            #expect(info.size == Int64(bodies.joined().count))
            #expect(info.parts == [p1, p2, p3])
            #expect(info.attributes.contentType == "video/mp4")
            #expect(try await store.headObject(bucket: "b", key: "m") == info)
            let whole = Array(bodies.joined())
            #expect(try await contents(store, "m") == whole)
            let across = Int64(Self.partSize + 5)..<Int64(Self.partSize * 2 + 13)
            #expect(try await contents(store, "m", range: across) == Array(whole[Int(across.lowerBound)..<Int(across.upperBound)]))
            #expect(try await store.listMultipartUploads(bucket: "b", query: .init()).uploads.isEmpty)
            #expect(await storageErrorCode { _ = try await store.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 0, maxParts: 10) } == .noSuchUpload)
            if kind == .disk { #expect(harness.fileCounts().blobs == 3) }
        }

        @Test(arguments: StoreKind.allCases)
        func invalidCompletionsChangeNothing(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let id = try await Self.upload(store)
            let small = try await Self.part(store, id, 1, pattern(Self.partSize - 1))
            let big = try await Self.part(store, id, 2, pattern(Self.partSize))
            let last = try await Self.part(store, id, 3, pattern(1))
            func complete(_ parts: [CompletedPart], _ precondition: WritePrecondition = .none) async -> StorageError.Code? {
                await storageErrorCode {
                    _ = try await store.completeMultipartUpload(bucket: "b", key: "m", uploadID: id, parts: parts, precondition: precondition)
                }
            }
            #expect(await complete([]) == .invalidPart)
            #expect(await complete([.init(number: 2, etag: "00000000000000000000000000000000")]) == .invalidPart)
            #expect(await complete([.init(number: 4, etag: last.etag)]) == .invalidPart)
            #expect(await complete([.init(number: 2, etag: big.etag), .init(number: 1, etag: small.etag)]) == .invalidPartOrder)
            #expect(await complete([.init(number: 2, etag: big.etag), .init(number: 2, etag: big.etag)]) == .invalidPartOrder)
            #expect(await complete([.init(number: 1, etag: small.etag), .init(number: 3, etag: last.etag)]) == .entityTooSmall)
            try await put(store, "m", [1])
            #expect(await complete([.init(number: 2, etag: big.etag)], .ifAbsent) == .preconditionFailed)
            #expect(try await contents(store, "m") == [1])
            let listed = try await store.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 0, maxParts: 10)
            #expect(listed.parts == [small, big, last])
            // The small last part is fine; the unused part 1 is freed.
            let info = try await store.completeMultipartUpload(
                bucket: "b", key: "m", uploadID: id, parts: [.init(number: 2, etag: big.etag), .init(number: 3, etag: last.etag)],
                precondition: .none
            )
            #expect(info.etag == Self.expectedETag([pattern(Self.partSize), pattern(1)]))
            #expect(try await contents(store, "m") == pattern(Self.partSize) + pattern(1))
            if kind == .disk { #expect(harness.fileCounts() == (0, 2)) }
        }

        @Test(arguments: StoreKind.allCases)
        func partsReplaceAndAbortFrees(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let id = try await Self.upload(store)
            _ = try await Self.part(store, id, 1, pattern(100, seed: 1))
            let again = try await Self.part(store, id, 1, pattern(100, seed: 2))
            _ = try await Self.part(store, id, 2, pattern(5))
            let listed = try await store.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 0, maxParts: 10)
            #expect(listed.parts.first == again)
            if kind == .disk { #expect(harness.fileCounts().blobs == 2) }
            for number in [0, 10_001] {
                #expect(await storageErrorCode { _ = try await Self.part(store, id, number, [1]) } == .invalidPart)
            }
            #expect(await storageErrorCode { _ = try await Self.part(store, id, 3, [1], key: "other") } == .noSuchUpload)
            #expect(await storageErrorCode { _ = try await Self.part(store, "nope", 3, [1]) } == .noSuchUpload)
            await #expect(throws: TestFailure.self) {
                _ = try await store.uploadPart(bucket: "b", key: "m", uploadID: id, partNumber: 3, body: TestBody.failingMidway(after: [1, 2]))
            }
            try await store.abortMultipartUpload(bucket: "b", key: "m", uploadID: id)
            #expect(await storageErrorCode { try await store.abortMultipartUpload(bucket: "b", key: "m", uploadID: id) } == .noSuchUpload)
            #expect(await storageErrorCode { _ = try await Self.part(store, id, 1, [1]) } == .noSuchUpload)
            #expect(await storageErrorCode {
                _ = try await store.completeMultipartUpload(bucket: "b", key: "m", uploadID: id, parts: [.init(number: 1, etag: again.etag)], precondition: .none)
            } == .noSuchUpload)
            if kind == .disk { #expect(harness.fileCounts() == (0, 0)) }
        }

        @Test(arguments: StoreKind.allCases)
        func listPartsPages(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let id = try await Self.upload(store)
            for number in [5, 1, 4, 2, 3] { _ = try await Self.part(store, id, number, [UInt8(number)]) }
            var numbers: [Int] = []
            var marker = 0
            while true {
                let page = try await store.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: marker, maxParts: 2)
                #expect(page.upload.uploadID == id)
                #expect(page.upload.checksumAlgorithm == "SHA256")
                #expect(page.parts.count <= 2)
                numbers += page.parts.map(\.number)
                guard page.isTruncated, let next = page.nextPartNumberMarker else { break }
                marker = next
            }
            #expect(numbers == [1, 2, 3, 4, 5])
            let tail = try await store.listParts(bucket: "b", key: "m", uploadID: id, partNumberMarker: 4, maxParts: 2)
            #expect(tail.parts.map(\.number) == [5])
            #expect(tail.isTruncated == false)
        }

        @Test(arguments: StoreKind.allCases)
        func listUploadsPages(kind: StoreKind) async throws {
            let harness = try await StoreHarness.make(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            var expected: [(String, String)] = []
            for key in ["x/2", "a", "x/1", "a", "é", "e\u{301}", "x/1"] {
                let id = try await Self.upload(store, key: key)
                expected.append((key, id))
                try await Task.sleep(for: .milliseconds(2))  // distinct initiation times
            }
            expected.sort { lhs, rhs in
                lhs.0.utf8.elementsEqual(rhs.0.utf8) ? lhs.1 < rhs.1 : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
            }
            let all = try await store.listMultipartUploads(bucket: "b", query: .init())
            #expect(all.uploads.map { [$0.key, $0.uploadID] } == expected.map { [$0.0, $0.1] })
            for maxUploads in [1, 2, 3] {
                var seen: [[String]] = []
                var query = UploadsQuery(maxUploads: maxUploads)
                while true {
                    let page = try await store.listMultipartUploads(bucket: "b", query: query)
                    seen += page.uploads.map { [$0.key, $0.uploadID] }
                    guard page.isTruncated else { break }
                    query.keyMarker = page.nextKeyMarker
                    query.uploadIDMarker = page.nextUploadIDMarker
                }
                #expect(seen == expected.map { [$0.0, $0.1] }, "maxUploads \(maxUploads)")
            }
            let grouped = try await store.listMultipartUploads(bucket: "b", query: UploadsQuery(delimiter: "/", maxUploads: 1000))
            #expect(grouped.commonPrefixes == ["x/"])
            #expect(grouped.uploads.map(\.key) == ["a", "a", "e\u{301}", "é"].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            let afterA = try await store.listMultipartUploads(bucket: "b", query: UploadsQuery(keyMarker: "a"))
            #expect(afterA.uploads.allSatisfy { $0.key != "a" })
            let firstA = expected[0].1
            let secondA = try await store.listMultipartUploads(bucket: "b", query: UploadsQuery(keyMarker: "a", uploadIDMarker: firstA))
            #expect(secondA.uploads.first?.uploadID == expected[1].1)
        }
    }
}
