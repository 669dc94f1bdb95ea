import Foundation
import Testing

@testable import Storage

extension ObjectStoreContract {
    /// Listing in UTF-8 byte order with prefix, delimiter, start-after and max-keys, on every
    /// implementation, checked against a brute-force model of S3's rules.
    @Suite("listing")
    struct Listing {
        static let keys: [String] = [
            "a", "a/b", "a/b/c", "a/c", "a+b", "a//b", "a/", "..", "../x", "b", "é", "e\u{301}", "日本", "日本/写真",
            "😀", "😀/1", "photos/2024/01/a.jpg", "photos/2024/02/b.jpg", "photos/2025/c.jpg", "photos/top.jpg",
            "z z", String(repeating: "k", count: 1024), "A", "a b", "a-b", "a.b", "ab",
        ]

        /// The model: every listed key after the marker, rolled up, deduplicated, cut at `maxKeys`.
        static func model(_ query: ListQuery) -> (entries: [String], isTruncated: Bool) {
            let prefix = Array(query.prefix.utf8)
            let marker = query.startAfter.map { Array($0.utf8) }
            let delimiter = query.delimiter.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
            var entries: [[UInt8]] = []
            for key in keys.map({ Array($0.utf8) }).sorted(by: { $0.lexicographicallyPrecedes($1) })
            where key.starts(with: prefix) && (marker.map { $0.lexicographicallyPrecedes(key) } ?? true) {
                var entry = key
                if let delimiter, let cut = KeyBytes.firstEnd(of: delimiter, in: key, from: prefix.count) {
                    entry = Array(key[..<cut])
                    if let marker, !marker.lexicographicallyPrecedes(entry) { continue }
                }
                if entries.last != entry { entries.append(entry) }
            }
            // maxKeys 0 lists nothing and is not truncated (a client paging on it would never advance).
            let limit = max(0, query.maxKeys)
            return (entries.prefix(limit).map { String(decoding: $0, as: UTF8.self) }, limit > 0 && entries.count > limit)
        }

        static func entries(_ page: ListPage) -> [String] {
            (page.objects.map(\.key) + page.commonPrefixes).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }

        static func filled(_ kind: StoreKind) async throws -> StoreHarness {
            let harness = try await StoreHarness.make(kind)
            for (index, key) in keys.enumerated() { try await put(harness.store, key, [UInt8(index)]) }
            return harness
        }

        @Test(arguments: StoreKind.allCases)
        func byteOrder(kind: StoreKind) async throws {
            let harness = try await Self.filled(kind)
            defer { harness.cleanUp() }
            let page = try await harness.store.listObjects(bucket: "b", query: .init())
            let expected = Self.keys.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
            #expect(page.objects.map { Array($0.key.utf8) } == expected)
            #expect(page.commonPrefixes.isEmpty)
            #expect(page.isTruncated == false)
            #expect(page.objects.allSatisfy { $0.parts.isEmpty })
            let head = try await harness.store.headObject(bucket: "b", key: "a/b")
            var listed = try #require(page.objects.first { $0.key == "a/b" })
            listed.parts = head?.parts ?? []
            #expect(listed == head)
        }

        @Test(arguments: StoreKind.allCases)
        func matchesModel(kind: StoreKind) async throws {
            let harness = try await Self.filled(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            let prefixes = ["", "a", "a/", "photos/", "photos/2024/", "日本", "é", "zz", "e"]
            let delimiters: [String?] = [nil, "/", "+", "b", "/0", "本"]
            let markers: [String?] = [nil, "a", "a/", "a/b", "a/b/c", "photos/2024/", "photos/2024/01/a.jpg", "zzz", "", "\u{0}"]
            for prefix in prefixes {
                for delimiter in delimiters {
                    for marker in markers {
                        for maxKeys in [0, 1, 3, 1000] {
                            let query = ListQuery(prefix: prefix, delimiter: delimiter, startAfter: marker, maxKeys: maxKeys)
                            let page = try await store.listObjects(bucket: "b", query: query)
                            let model = Self.model(query)
                            #expect(Self.entries(page) == model.entries, "\(query)")
                            #expect(page.isTruncated == model.isTruncated, "\(query)")
                            #expect(page.objects.count + page.commonPrefixes.count <= max(0, maxKeys))
                            if let last = model.entries.last { #expect(page.nextMarker == last, "\(query)") }
                        }
                    }
                }
            }
        }

        @Test(arguments: StoreKind.allCases)
        func pagingYieldsTheSameSequence(kind: StoreKind) async throws {
            let harness = try await Self.filled(kind)
            defer { harness.cleanUp() }
            let store = harness.store
            for (prefix, delimiter) in [("", nil), ("", "/"), ("a", "/"), ("photos/", "/"), ("", "b")] as [(String, String?)] {
                var sequences: [[String]] = []
                for maxKeys in [1, 2, 3, 1000] {
                    var seen: [String] = []
                    var marker: String?
                    var pages = 0
                    repeat {
                        let page = try await store.listObjects(
                            bucket: "b", query: ListQuery(prefix: prefix, delimiter: delimiter, startAfter: marker, maxKeys: maxKeys)
                        )
                        seen += Self.entries(page)
                        marker = page.nextMarker
                        pages += 1
                        if !page.isTruncated { break }
                    } while pages < 100
                    sequences.append(seen)
                }
                #expect(sequences.allSatisfy { $0 == sequences[0] }, "\(prefix) \(String(describing: delimiter))")
                #expect(sequences[0] == Self.model(ListQuery(prefix: prefix, delimiter: delimiter, maxKeys: 1000)).entries)
            }
        }

        @Test
        func skipScanDoesNotReadRowsUnderACommonPrefix() {
            // 10,000 keys under "big/" and one after: listing with "/" must not fetch them one by one.
            let keys = (0..<10_000).map { Array("big/\($0)".utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
                + [Array("c".utf8)]
            var machine = ListingMachine<[UInt8]>(prefix: [], delimiter: Array("/".utf8), marker: nil, maxEntries: 1000) {
                ($0, nil)
            }
            var rowsRead = 0
            var fetches = 0
            while let window = machine.nextWindow {
                fetches += 1
                let rows = keys.filter { KeyBytes.admits(window, key: $0, tiebreak: nil) }.prefix(window.limit)
                rowsRead += rows.count
                machine.consume(Array(rows))
            }
            #expect(machine.entryCount == 2)
            #expect(fetches <= 3)
            #expect(rowsRead <= 32)
        }
    }
}
