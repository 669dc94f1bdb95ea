import Foundation
import Storage
import Testing

@testable import VariantEngine

/// SPEC §5: PATCH fills only empty fields; computed facts belong to one object version;
/// `altText` and `caption` come only from clients and outlive versions.
struct MediaInfoMergeTests {
    /// A record with every field set; `seed` makes two records differ in every field.
    static func full(_ seed: Int) -> MediaInfo {
        var info = MediaInfo()
        info.width = 100 + seed
        info.height = 200 + seed
        info.orientation = 1 + seed % 8
        info.aspectRatio = 0.5 + Double(seed)
        info.dominantColor = "#00000\(seed % 10)"
        info.colorProfile = "profile \(seed)"
        info.sha256 = String(repeating: "\(seed % 10)", count: 64)
        info.takenAt = "2020-01-0\(1 + seed % 9)T00:00:00"
        info.gpsLat = 10 + Double(seed)
        info.gpsLng = -20 - Double(seed)
        info.duration = 3 + Double(seed)
        info.altText = "alt \(seed)"
        info.caption = "caption \(seed)"
        return info
    }

    @Test("every field is set by full(_:) and named in fieldNames")
    func fieldNames() throws {
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(Self.full(1))) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == Set(MediaInfo.fieldNames))
        #expect(MediaInfo.fieldNames.count == 13)
    }

    @Test("filling(from:) fills every nil field and overwrites none")
    func filling() {
        let a = Self.full(1), b = Self.full(2)
        #expect(a != b)
        #expect(MediaInfo().filling(from: b) == b)
        #expect(a.filling(from: b) == a)
        #expect(a.filling(from: MediaInfo()) == a)

        var partial = MediaInfo()
        partial.width = 10
        partial.caption = "mine"
        var patch = MediaInfo()
        patch.width = 20
        patch.altText = "a lake"
        patch.caption = "theirs"
        patch.gpsLat = 1.5
        var expected = MediaInfo()
        expected.width = 10
        expected.caption = "mine"
        expected.altText = "a lake"
        expected.gpsLat = 1.5
        #expect(partial.filling(from: patch) == expected)
    }

    @Test("no stored record: the computed fields, without client fields")
    func mergeIntoNothing() {
        var computed = Self.full(1)
        computed.altText = nil
        computed.caption = nil
        #expect(MediaInfo.mergingComputed(computed, etag: "e1", into: nil) == computed)
    }

    @Test("same version: computed values win, PATCH-filled values stay where computation had none")
    func mergeSameVersion() {
        var stored = MediaInfo()
        stored.width = 5  // filled by PATCH before computing
        stored.dominantColor = "#123456"  // filled by PATCH; computation finds none (e.g. a bomb)
        stored.altText = "alt"
        stored.caption = "cap"
        var computed = MediaInfo()
        computed.width = 1024
        computed.height = 768
        computed.gpsLat = 43.1972
        computed.sha256 = "aa"
        let merged = MediaInfo.mergingComputed(computed, etag: "e1", into: (stored, "e1"))
        var expected = computed
        expected.dominantColor = "#123456"
        expected.altText = "alt"
        expected.caption = "cap"
        #expect(merged == expected)
    }

    @Test("new version: old computed facts (GPS, size, colour) go, altText and caption stay")
    func mergeNewVersion() {
        var stored = Self.full(1)
        stored.altText = "alt"
        stored.caption = "cap"
        var computed = MediaInfo()
        computed.width = 512
        computed.height = 512
        computed.sha256 = "bb"
        let merged = MediaInfo.mergingComputed(computed, etag: "e2", into: (stored, "e1"))
        var expected = computed
        expected.altText = "alt"
        expected.caption = "cap"
        #expect(merged == expected)
        #expect(merged.gpsLat == nil && merged.gpsLng == nil && merged.takenAt == nil && merged.dominantColor == nil)
    }

    @Test("the in-memory store: fill never overwrites, recomputing keeps client fields")
    func inMemoryStore() async throws {
        let store = InMemoryMediaInfoStore()
        var patch = MediaInfo()
        patch.altText = "first"
        #expect(try await store.fill(patch, bucket: "b", key: "k", etag: "e1").altText == "first")

        var computed = MediaInfo()
        computed.width = 100
        computed.gpsLat = 43.1972
        let saved = try await store.saveComputed(computed, bucket: "b", key: "k", etag: "e1")
        #expect(saved.width == 100 && saved.altText == "first")

        var second = MediaInfo()
        second.altText = "second"
        second.width = 5
        second.caption = "cap"
        let filled = try await store.fill(second, bucket: "b", key: "k", etag: "e1")
        #expect(filled.altText == "first" && filled.width == 100 && filled.caption == "cap")
        let record = try #require(try await store.mediaInfo(bucket: "b", key: "k"))
        #expect(record.info == filled && record.etag == "e1")

        var next = MediaInfo()
        next.width = 7
        let recomputed = try await store.saveComputed(next, bucket: "b", key: "k", etag: "e2")
        #expect(recomputed.width == 7 && recomputed.gpsLat == nil)
        #expect(recomputed.altText == "first" && recomputed.caption == "cap")
        #expect(try await store.mediaInfo(bucket: "b", key: "k")?.etag == "e2")
        // Other keys and buckets are separate.
        #expect(try await store.mediaInfo(bucket: "b", key: "other")?.etag == nil)
        #expect(try await store.mediaInfo(bucket: "c", key: "k")?.etag == nil)
    }

    @Test("concurrent fills: one value wins and every caller sees it")
    func concurrentFills() async throws {
        let store = InMemoryMediaInfoStore()
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<32 {
                group.addTask {
                    var patch = MediaInfo()
                    patch.altText = "alt \(index)"
                    return try await store.fill(patch, bucket: "b", key: "k", etag: "e1").altText
                }
            }
            var all: [String?] = []
            for try await result in group { all.append(result) }
            return all
        }
        let stored = try await store.mediaInfo(bucket: "b", key: "k")?.info.altText
        #expect(stored != nil)
        #expect(results.allSatisfy { $0 == stored })
    }

    @Test("the service: computed on first ask, PATCH fills, a new version recomputes and keeps client text")
    func service() async throws {
        let sums = try CorpusSums.all()
        let store = InMemoryObjectStore()
        try await store.createBucket("b")
        let workers = VariantWorkers(threads: 1, queueBound: 4)
        let service = MediaInfoService(store: store, records: InMemoryMediaInfoStore(), workers: workers)
        do {
            try await StoreHelper.put(store, "p/original.jpg", try Corpus.bytes("exif-gps.jpg"))
            let info = try await service.info(bucket: "b", key: "p/original.jpg")
            #expect(info.width == 1024 && info.height == 768)
            #expect(abs((info.gpsLat ?? .nan) - 43.1972) < 0.0001)
            #expect(info.sha256 == sums["exif-gps.jpg"])

            var patch = MediaInfo()
            patch.altText = "Picos de Europa"
            patch.caption = "by Aitzol Berasategi, CC BY 4.0"
            patch.width = 1
            let filled = try await service.fill(bucket: "b", key: "p/original.jpg", patch: patch)
            #expect(filled.width == 1024 && filled.altText == "Picos de Europa")

            try await StoreHelper.put(store, "p/original.jpg", try Corpus.bytes("gray.png"))
            let next = try await service.info(bucket: "b", key: "p/original.jpg")
            #expect(next.width == 512 && next.height == 512)
            #expect(next.sha256 == sums["gray.png"])
            #expect(next.gpsLat == nil && next.gpsLng == nil && next.takenAt == nil)
            #expect(next.altText == "Picos de Europa" && next.caption == "by Aitzol Berasategi, CC BY 4.0")

            let error = await #expect(throws: StorageError.self) { _ = try await service.info(bucket: "b", key: "p/none.jpg") }
            #expect(error?.code == StorageError.Code.noSuchKey)
        } catch {
            try? await workers.shutdown()
            throw error
        }
        try await workers.shutdown()
    }
}
