import Crypto
import GatewayCore

/// One trailing header of an aws-chunked body (name lowercased, value trimmed).
public struct SigV4Trailer: Sendable, Hashable {
    /// The lowercased trailer name, e.g. `x-amz-checksum-crc32`.
    public var name: String
    /// The trimmed value.
    public var value: String

    /// Creates a trailer.
    /// - Parameters:
    ///   - name: The trailer name.
    ///   - value: The trailer value.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Decodes an `aws-chunked` request body as a pure state machine: ``append(_:)-6pr8o`` bytes as
/// they arrive, then call ``next()`` until it returns `nil`; when the input ends, call ``finish()``.
///
/// Data may be emitted before its chunk is verified; the last piece of a chunk is only emitted
/// after the chunk's signature matched, and a mismatch throws. Discard everything on any error.
/// After an error, every call to ``next()`` throws it again.
public struct AWSChunkedDecoder: Sendable {
    /// The body's framing and protection.
    public enum Mode: Sendable {
        /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (`trailer: false`) or `…-PAYLOAD-TRAILER` (`trailer: true`).
        case signed(SigV4ChunkContext, trailer: Bool)
        /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
        case unsignedWithTrailer
    }

    /// What the decoder produced.
    public enum Event: Sendable, Equatable {
        /// Decoded payload bytes.
        case data([UInt8])
        /// The trailing headers (only in trailer modes; possibly empty), in the order sent,
        /// without `x-amz-trailer-signature`.
        case trailers([SigV4Trailer])
        /// The body is complete and verified. No events follow.
        case end
    }

    /// The longest accepted chunk-size line, in bytes, without its line end.
    public static let maxChunkHeaderLength = 1024
    /// The largest accepted trailer section (all trailer lines), in bytes.
    public static let maxTrailerBytes = 16 * 1024
    /// The largest accepted number of trailer lines.
    public static let maxTrailerCount = 64

    private enum State: Sendable {
        case chunkHeader
        case data(remaining: Int)
        case dataCRLF
        case finalCRLF
        case trailers
        case emitEnd
        case ended
        case failed(SigV4Error)
    }

    private let context: SigV4ChunkContext?
    private let hasTrailer: Bool
    private let maxChunkSize: Int
    private let expectedTrailers: [String]
    private var state: State = .chunkHeader
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanFrom = 0
    private var hasher = SHA256()
    private var previousSignature: String
    private var pendingSignature = ""
    private var trailerLines: [SigV4Trailer] = []
    private var trailerSignature: String?
    private var trailerBytes = 0

    /// Creates a decoder.
    /// - Parameters:
    ///   - mode: The framing, from the request's payload mode and ``SigV4Authenticated/chunkContext``.
    ///   - maxChunkSize: The largest accepted chunk, in bytes.
    ///   - expectedTrailers: Trailer names the request declared (`x-amz-trailer`, see
    ///     ``SigV4Authenticated/declaredTrailers``). When non-empty, each must arrive and no other may.
    public init(mode: Mode, maxChunkSize: Int = 16 * 1024 * 1024, expectedTrailers: [String] = []) {
        switch mode {
        case .signed(let context, let trailer):
            self.context = context
            self.hasTrailer = trailer
            self.previousSignature = context.seedSignature
        case .unsignedWithTrailer:
            self.context = nil
            self.hasTrailer = true
            self.previousSignature = ""
        }
        self.maxChunkSize = maxChunkSize
        self.expectedTrailers = expectedTrailers.map(\.asciiLowercased)
    }

    /// Adds received body bytes.
    /// - Parameter bytes: The next bytes of the body.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        compactIfNeeded()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received body bytes from raw memory.
    /// - Parameter bytes: The next bytes of the body.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfNeeded()
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or `nil` when more input is needed (or after ``Event/end``).
    /// - Throws: ``SigV4Error`` with ``SigV4Error/Code/invalidChunk`` (malformed framing, a chunk larger
    ///   than `maxChunkSize`, an over-long size line, data after the end),
    ///   ``SigV4Error/Code/chunkSignatureMismatch`` (a chunk or the trailer signature does not match),
    ///   ``SigV4Error/Code/malformedTrailer`` or ``SigV4Error/Code/missingTrailer``.
    public mutating func next() throws(SigV4Error) -> Event? {
        if case .failed(let error) = state { throw error }
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Declares the end of input.
    /// - Throws: ``SigV4Error/Code/incompleteBody`` unless ``Event/end`` was reached (a body whose
    ///   verified final chunk lacks only the closing empty line is accepted, as MinIO does), or the
    ///   error that stopped decoding.
    public func finish() throws(SigV4Error) {
        switch state {
        case .ended where available == 0:
            return
        case .finalCRLF where available == 0:
            return
        case .failed(let error):
            throw error
        default:
            throw SigV4Error(.incompleteBody, "The request body terminated unexpectedly")
        }
    }

    // MARK: - State machine

    private var available: Int { buffer.count - start }

    private mutating func step() throws(SigV4Error) -> Event? {
        while true {
            switch state {
            case .chunkHeader:
                guard let line = try takeLine(limit: Self.maxChunkHeaderLength, strictCRLF: true) else { return nil }
                let size = try parseChunkHeader(line)
                if size > 0 {
                    state = .data(remaining: size)
                    hasher = SHA256()
                    continue
                }
                if context != nil { try verifyChunk(hashHex: SigV4Encoding.emptySHA256Hex) }
                state = hasTrailer ? .trailers : .finalCRLF
            case .data(let remaining):
                let n = min(remaining, available)
                guard n > 0 else { return nil }
                let piece = Array(buffer[start..<(start + n)])
                start += n
                if context != nil { hasher.update(data: piece) }
                if n == remaining {
                    if context != nil {
                        try verifyChunk(hashHex: SigV4Encoding.hex(hasher.finalize()))
                    }
                    state = .dataCRLF
                } else {
                    state = .data(remaining: remaining - n)
                }
                return .data(piece)
            case .dataCRLF:
                guard try takeCRLF() else { return nil }
                state = .chunkHeader
            case .finalCRLF:
                guard try takeCRLF() else { return nil }
                state = .ended
                return .end
            case .trailers:
                let budget = Self.maxTrailerBytes - trailerBytes
                guard let line = try takeLine(limit: max(0, budget), strictCRLF: false, trailer: true) else { return nil }
                trailerBytes += line.count + 2
                if line.isEmpty {
                    let trailers = try finishTrailers()
                    state = .emitEnd
                    return .trailers(trailers)
                }
                try addTrailerLine(line)
            case .emitEnd:
                state = .ended
                return .end
            case .ended:
                if available > 0 { throw SigV4Error(.invalidChunk, "Unexpected data after the final chunk") }
                return nil
            case .failed(let error):
                throw error
            }
        }
    }

    /// Takes one line ending in `\n` (and, when `strictCRLF`, `\r\n`), without its line end.
    private mutating func takeLine(limit: Int, strictCRLF: Bool, trailer: Bool = false) throws(SigV4Error) -> [UInt8]? {
        let end = buffer.count
        var i = max(start, scanFrom)
        while i < end, buffer[i] != UInt8(ascii: "\n") { i += 1 }
        guard i < end else {
            scanFrom = end
            if end - start > limit + 1 {
                throw trailer ? SigV4Error(.malformedTrailer, "The trailer section is too large")
                    : SigV4Error(.invalidChunk, "The chunk-size line is too long")
            }
            return nil
        }
        var lineEnd = i
        if lineEnd > start, buffer[lineEnd - 1] == UInt8(ascii: "\r") {
            lineEnd -= 1
        } else if strictCRLF {
            throw SigV4Error(.invalidChunk, "The chunk-size line must end with CRLF")
        }
        guard lineEnd - start <= limit else {
            throw trailer ? SigV4Error(.malformedTrailer, "The trailer section is too large")
                : SigV4Error(.invalidChunk, "The chunk-size line is too long")
        }
        let line = Array(buffer[start..<lineEnd])
        start = i + 1
        scanFrom = start
        return line
    }

    /// Consumes `\r\n`; `false` when more input is needed.
    private mutating func takeCRLF() throws(SigV4Error) -> Bool {
        guard available >= 2 else {
            if available == 1, buffer[start] != UInt8(ascii: "\r") {
                throw SigV4Error(.invalidChunk, "Expected CRLF after chunk data")
            }
            return false
        }
        guard buffer[start] == UInt8(ascii: "\r"), buffer[start + 1] == UInt8(ascii: "\n") else {
            throw SigV4Error(.invalidChunk, "Expected CRLF after chunk data")
        }
        start += 2
        scanFrom = start
        return true
    }

    /// Parses `hex[;chunk-signature=sig]`, returning the size and remembering the signature.
    private mutating func parseChunkHeader(_ line: [UInt8]) throws(SigV4Error) -> Int {
        let semicolon = line.firstIndex(of: UInt8(ascii: ";")) ?? line.count
        let hexDigits = line[..<semicolon]
        guard !hexDigits.isEmpty, hexDigits.count <= 16 else {
            throw SigV4Error(.invalidChunk, "Invalid chunk size")
        }
        var size = 0
        for b in hexDigits {
            guard let v = PercentEncoding.hexDigit(b) else { throw SigV4Error(.invalidChunk, "Invalid chunk size") }
            size = size << 4 | Int(v)
            guard size <= maxChunkSize else {
                throw SigV4Error(.invalidChunk, "Chunk size exceeds the limit of \(maxChunkSize) bytes")
            }
        }
        if context != nil {
            let prefix = Array(";chunk-signature=".utf8)
            let ext = line[semicolon...]
            guard ext.count == prefix.count + 64, ext.starts(with: prefix),
                  ext.dropFirst(prefix.count).allSatisfy(\.isHexDigit)
            else {
                throw SigV4Error(.invalidChunk, "Missing or malformed chunk-signature")
            }
            pendingSignature = String(decoding: ext.dropFirst(prefix.count), as: UTF8.self)
        }
        return size
    }

    private mutating func verifyChunk(hashHex: String) throws(SigV4Error) {
        guard let context else { return }
        let stringToSign = SigV4Crypto.chunkStringToSign(amzDate: context.amzDate, scope: context.scope,
                                                         previousSignature: previousSignature, chunkHashHex: hashHex)
        let expected = SigV4Crypto.signatureHex(context.signingKey, stringToSign)
        guard SigV4Encoding.constantTimeEquals(expected, pendingSignature) else {
            throw SigV4Error(.chunkSignatureMismatch, "The chunk signature does not match")
        }
        previousSignature = expected
    }

    // MARK: - Trailers

    private mutating func addTrailerLine(_ line: [UInt8]) throws(SigV4Error) {
        guard trailerLines.count < Self.maxTrailerCount else {
            throw SigV4Error(.malformedTrailer, "Too many trailing headers")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw SigV4Error(.malformedTrailer, "The trailing header line has no ':'")
        }
        let name = SigV4Canonical.trimAll(String(decoding: line[..<colon], as: UTF8.self)).asciiLowercased
        let value = SigV4Canonical.trimAll(String(decoding: line[(colon + 1)...], as: UTF8.self))
        guard !name.isEmpty, !name.utf8.contains(0x20) else {
            throw SigV4Error(.malformedTrailer, "The trailing header name is invalid")
        }
        if name == "x-amz-trailer-signature" {
            guard trailerSignature == nil else { throw SigV4Error(.malformedTrailer, "x-amz-trailer-signature is repeated") }
            trailerSignature = value
            return
        }
        guard trailerSignature == nil else {
            throw SigV4Error(.malformedTrailer, "x-amz-trailer-signature must be the last trailing header")
        }
        guard !trailerLines.contains(where: { $0.name == name }) else {
            throw SigV4Error(.malformedTrailer, "The trailing header \(name.prefix(64)) is repeated")
        }
        trailerLines.append(SigV4Trailer(name: name, value: value))
    }

    private func finishTrailers() throws(SigV4Error) -> [SigV4Trailer] {
        if !expectedTrailers.isEmpty {
            for name in expectedTrailers where !trailerLines.contains(where: { $0.name == name }) {
                throw SigV4Error(.missingTrailer, "The trailing header \(name.prefix(64)) was declared but not sent")
            }
            for t in trailerLines where !expectedTrailers.contains(t.name) {
                throw SigV4Error(.malformedTrailer, "The trailing header \(t.name.prefix(64)) was not declared in x-amz-trailer")
            }
        }
        guard let context else { return trailerLines }
        guard let signature = trailerSignature else {
            if trailerLines.isEmpty { return [] }
            throw SigV4Error(.malformedTrailer, "The trailing headers lack x-amz-trailer-signature")
        }
        // Canonical form: "name:value\n" per trailer, sorted by name; also accept the order sent.
        let sorted = trailerLines.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for candidate in sorted == trailerLines ? [sorted] : [sorted, trailerLines] {
            let text = candidate.map { "\($0.name):\($0.value)\n" }.joined()
            let stringToSign = SigV4Crypto.trailerStringToSign(
                amzDate: context.amzDate, scope: context.scope, previousSignature: previousSignature,
                trailerHashHex: SigV4Encoding.sha256Hex(Array(text.utf8)))
            if SigV4Encoding.constantTimeEquals(SigV4Crypto.signatureHex(context.signingKey, stringToSign), signature) {
                return trailerLines
            }
        }
        throw SigV4Error(.chunkSignatureMismatch, "The trailer signature does not match")
    }

    private mutating func compactIfNeeded() {
        guard start > 0, start >= buffer.count / 2 || start > 1 << 20 else { return }
        buffer.removeSubrange(0..<start)
        scanFrom -= start
        start = 0
        if scanFrom < 0 { scanFrom = 0 }
    }
}
