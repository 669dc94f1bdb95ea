/// Where a listing fetch starts.
public enum ListCursor: Sendable, Equatable {
    /// Rows whose key is at or after `key` (bytes).
    case atOrAfter(key: [UInt8])
    /// Rows after the position (`key`, `tiebreak`): a key after `key`, or `key` itself with a
    /// tiebreak (an upload id) after `tiebreak`. A nil tiebreak means after every row of `key`.
    case after(key: [UInt8], tiebreak: String?)
}

/// One request of a ``ListingMachine`` to its source of rows.
public struct ListingWindow: Sendable, Equatable {
    /// Rows start here, ordered by key bytes then tiebreak.
    public var start: ListCursor
    /// Rows have keys before this (exclusive) when set; nil means no upper bound.
    public var end: [UInt8]?
    /// The listing's prefix: every row's key starts with it. Implied by `start` and `end`, given
    /// for sources that prefer a `LIKE`-free `substr` filter.
    public var prefix: [UInt8]
    /// At most this many rows.
    public var limit: Int

    /// Creates a window (sources under test build their own).
    public init(start: ListCursor, end: [UInt8]?, prefix: [UInt8], limit: Int) {
        self.start = start
        self.end = end
        self.prefix = prefix
        self.limit = limit
    }
}

/// The ListObjectsV2 / ListMultipartUploads algorithm as a value: it says which window of rows
/// to fetch next and consumes the rows; the caller does the I/O (synchronously in one SQLite read
/// transaction, or asynchronously against PostgreSQL or memory). Every index uses it, so they all
/// page identically.
///
/// Semantics (S3's):
/// - Rows are keys that start with the prefix, in byte order, after the marker.
/// - With a delimiter, a key that has the delimiter after the prefix is rolled up into the common
///   prefix ending at its first such delimiter; a common prefix is returned once, and only when it
///   sorts after the marker.
/// - Rows and common prefixes together are at most `maxEntries`; the page is truncated when one
///   more entry exists.
/// - After a common prefix `P`, the next window starts at the first key after every key that
///   starts with `P` (a skip-scan), so the rows under `P` are never read one by one.
///
/// ```swift
/// var machine = ListingMachine(query: query)
/// while let window = machine.nextWindow { machine.consume(try fetch(window)) }
/// return machine.page
/// ```
public struct ListingMachine<Row> {
    /// A listed row or a rolled-up common prefix.
    public enum Entry {
        /// A row listed as itself.
        case row(Row)
        /// A common prefix (ending with the delimiter) standing for every row under it.
        case commonPrefix([UInt8])
    }

    /// The rows listed so far, in order.
    public private(set) var rows: [Row] = []
    /// The common prefixes listed so far, in order.
    public private(set) var commonPrefixes: [[UInt8]] = []
    /// The entry listed last (the page's next marker).
    public private(set) var lastEntry: Entry?
    /// Whether more entries exist after these (meaningful once ``nextWindow`` is nil).
    public private(set) var isTruncated = false
    /// Rows and common prefixes listed so far. (Rows and prefixes are kept apart, not as one
    /// array of entries: a page's rows are then handed on without copying each one.)
    public var entryCount: Int { rows.count + commonPrefixes.count }

    private let prefix: [UInt8]
    private let end: [UInt8]?
    private let delimiter: [UInt8]?
    private let marker: (key: [UInt8], tiebreak: String?)?
    private let maxEntries: Int
    private let position: (Row) -> (key: [UInt8], tiebreak: String?)
    private var cursor: ListCursor
    private var finished: Bool
    /// With a delimiter, windows start small after each common prefix (its rows are skipped, so
    /// fetching many would waste them) and grow while rows keep being listed.
    private var batch = 16

    /// Starts a listing.
    /// - Parameters:
    ///   - prefix: keys must start with these bytes.
    ///   - delimiter: rolls keys up into common prefixes; nil or empty for none.
    ///   - marker: list only after this position; see ``ListCursor/after(key:tiebreak:)``.
    ///   - maxEntries: the page size; 0 or less gives an empty, untruncated page.
    ///   - position: the key bytes and tiebreak of a row.
    public init(
        prefix: [UInt8], delimiter: [UInt8]?, marker: (key: [UInt8], tiebreak: String?)?,
        maxEntries: Int, position: @escaping (Row) -> (key: [UInt8], tiebreak: String?)
    ) {
        self.prefix = prefix
        self.end = KeyBytes.upperBound(ofPrefix: prefix)
        self.delimiter = delimiter.flatMap { $0.isEmpty ? nil : $0 }
        self.marker = marker
        self.maxEntries = maxEntries
        self.position = position
        self.finished = maxEntries <= 0
        if let marker, !marker.key.lexicographicallyPrecedes(prefix) {
            self.cursor = .after(key: marker.key, tiebreak: marker.tiebreak)
        } else {
            self.cursor = .atOrAfter(key: prefix)
        }
    }

    /// The rows to fetch next, or nil when the listing is complete. The source must return
    /// `limit` rows unless the window has fewer.
    public var nextWindow: ListingWindow? {
        guard !finished else { return nil }
        let remaining = maxEntries - entryCount + 1
        let limit = delimiter == nil ? remaining : min(remaining, batch)
        return ListingWindow(start: cursor, end: end, prefix: prefix, limit: limit)
    }

    /// Consumes the rows fetched for ``nextWindow``. Specialized here for the two row types
    /// the stores list (the generic version, called from other modules, copied every row
    /// through value witnesses: a tenth of a LIST's CPU).
    @_specialize(exported: true, where Row == ObjectInfo)
    @_specialize(exported: true, where Row == UploadInfo)
    public mutating func consume(_ rows: consuming [Row]) {
        guard let limit = nextWindow?.limit else { return }
        if let delimiter {
            consume(rows, limit: limit, rollingUpAt: delimiter)
        } else {
            consumeAll(rows)
        }
    }

    /// Without a delimiter every row is an entry, and the window asked for one row more than
    /// the page has room for: this one batch ends the listing, truncated when that extra row
    /// came. The batch is taken whole (moved, when it is the first).
    private mutating func consumeAll(_ rows: consuming [Row]) {
        var taken = rows
        let room = maxEntries - entryCount
        if taken.count > room {
            taken.removeSubrange(room...)
            isTruncated = true
        }
        finished = true
        guard let last = taken.last else { return }
        lastEntry = .row(last)
        if self.rows.isEmpty { self.rows = taken } else { self.rows.append(contentsOf: taken) }
    }

    /// Row by row: a key with the delimiter after the prefix ends the batch with its common
    /// prefix and a skip-scan past it.
    private mutating func consume(_ rows: [Row], limit: Int, rollingUpAt delimiter: [UInt8]) {
        for row in rows {
            let (key, tiebreak) = position(row)
            if let cut = KeyBytes.firstEnd(of: delimiter, in: key, from: prefix.count) {
                let common = Array(key[..<cut])
                if marker.map({ $0.key.lexicographicallyPrecedes(common) }) ?? true {
                    guard append(.commonPrefix(common)) else { return }
                }
                guard let next = KeyBytes.upperBound(ofPrefix: common) else {
                    finished = true
                    return
                }
                cursor = .atOrAfter(key: next)
                batch = 16
                return
            }
            guard append(.row(row)) else { return }
            cursor = .after(key: key, tiebreak: tiebreak)
        }
        if rows.count < limit { finished = true }
        batch = min(batch * 4, Int.max / 8)
    }

    /// Appends unless the page is full, in which case it marks the listing truncated and done.
    private mutating func append(_ entry: Entry) -> Bool {
        guard entryCount < maxEntries else {
            isTruncated = true
            finished = true
            return false
        }
        switch entry {
        case .row(let row): rows.append(row)
        case .commonPrefix(let common): commonPrefixes.append(common)
        }
        lastEntry = entry
        return true
    }

    /// The common prefixes as text.
    var commonPrefixTexts: [String] { commonPrefixes.map { String(decoding: $0, as: UTF8.self) } }
}

extension ListingMachine where Row == ObjectInfo {
    /// A ListObjectsV2 listing.
    public init(query: ListQuery) {
        self.init(
            prefix: Array(query.prefix.utf8), delimiter: query.delimiter.map { Array($0.utf8) },
            marker: query.startAfter.map { (Array($0.utf8), nil) }, maxEntries: query.maxKeys,
            position: { (Array($0.key.utf8), nil) }
        )
    }

    /// The page listed so far.
    public var page: ListPage {
        let nextMarker: String? = switch lastEntry {
        case .row(let info): info.key
        case .commonPrefix(let bytes): String(decoding: bytes, as: UTF8.self)
        case nil: nil
        }
        return ListPage(objects: rows, commonPrefixes: commonPrefixTexts, isTruncated: isTruncated, nextMarker: nextMarker)
    }
}

extension ListingMachine where Row == UploadInfo {
    /// A ListMultipartUploads listing, ordered by key then upload id. An `uploadIDMarker`
    /// without a `keyMarker` is ignored, as in S3.
    public init(query: UploadsQuery) {
        self.init(
            prefix: Array(query.prefix.utf8), delimiter: query.delimiter.map { Array($0.utf8) },
            marker: query.keyMarker.map { (Array($0.utf8), query.uploadIDMarker) },
            maxEntries: query.maxUploads, position: { (Array($0.key.utf8), $0.uploadID) }
        )
    }

    /// The page listed so far.
    public var page: UploadsPage {
        var page = UploadsPage(
            uploads: rows, commonPrefixes: commonPrefixTexts, isTruncated: isTruncated, nextKeyMarker: nil,
            nextUploadIDMarker: nil
        )
        switch lastEntry {
        case .row(let upload):
            page.nextKeyMarker = upload.key
            page.nextUploadIDMarker = upload.uploadID
        case .commonPrefix(let bytes):
            page.nextKeyMarker = String(decoding: bytes, as: UTF8.self)
        case nil:
            break
        }
        return page
    }
}

/// Byte-string helpers for keys.
public enum KeyBytes {
    /// The smallest byte string after every string that starts with `prefix`, or nil when there
    /// is none (an empty prefix, or one of only 0xFF bytes).
    public static func upperBound(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bound = prefix
        while let last = bound.last {
            if last < 0xFF {
                bound[bound.count - 1] = last + 1
                return bound
            }
            bound.removeLast()
        }
        return nil
    }

    /// Whether `window` admits `key` at `start` and before `end` (for sources that filter in
    /// memory).
    public static func admits(_ window: ListingWindow, key: [UInt8], tiebreak: String?) -> Bool {
        if let end = window.end, !key.lexicographicallyPrecedes(end) { return false }
        switch window.start {
        case .atOrAfter(let start):
            return !key.lexicographicallyPrecedes(start)
        case .after(let start, let startTiebreak):
            if start.lexicographicallyPrecedes(key) { return true }
            guard key == start, let startTiebreak, let tiebreak else { return false }
            return startTiebreak.utf8.lexicographicallyPrecedes(tiebreak.utf8)
        }
    }

    /// The index just past the first occurrence of `needle` in `haystack` at or after `from`.
    static func firstEnd(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = from
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) {
                return index + needle.count
            }
            index += 1
        }
        return nil
    }
}
