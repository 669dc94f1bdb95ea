import Foundation
import Testing
@testable import SigV4

/// The aws-chunked decoder fed in various ways, with valid and broken input.
@Suite("aws-chunked decoder")
struct ChunkDecoderTests {
    static let date = Fixture.exampleDate
    static let seed = String(repeating: "5", count: 64)
    static let context = SigV4ChunkContext(secretAccessKey: Fixture.secret, amzDate: "20130524T000000Z",
                                           region: "us-east-1", seedSignature: seed)
    static let body: [UInt8] = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let crc = (name: "x-amz-checksum-crc32", value: "AAAAAA==")

    static func encodeSigned(_ body: [UInt8] = body, chunkSize: Int = 4096,
                             trailers: [(name: String, value: String)]? = nil) -> [UInt8] {
        Fixture.signer.encodeSignedChunks(body, chunkSize: chunkSize, seedSignature: seed, date: date, trailers: trailers)
    }

    /// Feeds `input` in pieces of `piece` bytes and collects all events; `finish()` is called at the end.
    static func decode(_ input: [UInt8], mode: AWSChunkedDecoder.Mode = .signed(context, trailer: false), piece: Int,
                       expectedTrailers: [String] = [], maxChunkSize: Int = 16 << 20) throws(SigV4Error) -> [AWSChunkedDecoder.Event] {
        var decoder = AWSChunkedDecoder(mode: mode, maxChunkSize: maxChunkSize, expectedTrailers: expectedTrailers)
        var events: [AWSChunkedDecoder.Event] = []
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + piece)
            decoder.append(input[offset..<end])
            offset = end
            while let event = try decoder.next() { events.append(event) }
        }
        while let event = try decoder.next() { events.append(event) }
        try decoder.finish()
        return events
    }

    /// Merges consecutive data events so results from different piece sizes compare equal.
    static func normalized(_ events: [AWSChunkedDecoder.Event]) -> [AWSChunkedDecoder.Event] {
        var out: [AWSChunkedDecoder.Event] = []
        for e in events {
            if case .data(let b) = e, case .data(let a)? = out.last {
                out[out.count - 1] = .data(a + b)
            } else {
                out.append(e)
            }
        }
        return out
    }

    static func code(_ body: () throws -> Void) -> SigV4Error.Code? { Fixture.errorCode(body) }

    @Test("byte-by-byte, odd pieces and one piece give the same events", arguments: [1, 7, 4096, 100_000])
    func pieceSizes(_ piece: Int) throws {
        let events = try Self.decode(Self.encodeSigned(), piece: piece)
        #expect(Self.normalized(events) == [.data(Self.body), .end])
        #expect(events.last == .end)
    }

    @Test("signed with trailer: trailers parsed and their signature verified", arguments: [1, 13, 1 << 20])
    func signedTrailer(_ piece: Int) throws {
        let trailers = [Self.crc, (name: "x-amz-checksum-sha256", value: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")]
        let input = Self.encodeSigned(trailers: trailers)
        let events = try Self.decode(input, mode: .signed(Self.context, trailer: true), piece: piece,
                                     expectedTrailers: ["x-amz-checksum-crc32", "x-amz-checksum-sha256"])
        #expect(Self.normalized(events) == [.data(Self.body),
                                            .trailers(trailers.map { SigV4Trailer(name: $0.name, value: $0.value) }), .end])
    }

    @Test("signed trailer: a changed trailer value or signature is a mismatch")
    func signedTrailerTampered() {
        let input = Self.encodeSigned(Array(repeating: UInt8(ascii: "z"), count: 5000), trailers: [Self.crc])
        let text = String(decoding: input, as: UTF8.self)
        let changedValue = Array(text.replacingOccurrences(of: "AAAAAA==", with: "AAAAAB==").utf8)
        #expect(Self.code { _ = try Self.decode(changedValue, mode: .signed(Self.context, trailer: true), piece: 1000) } == .chunkSignatureMismatch)
        let noSignature = Array(text.replacingOccurrences(of: #"x-amz-trailer-signature:[0-9a-f]{64}\r\n"#, with: "",
                                                          options: .regularExpression).utf8)
        #expect(noSignature.count == input.count - 90)
        #expect(Self.code { _ = try Self.decode(noSignature, mode: .signed(Self.context, trailer: true), piece: 1000) } == .malformedTrailer)
    }

    @Test("a tampered data byte anywhere is a chunk signature mismatch", arguments: [0, 4095, 4096, 9999])
    func tamperedByte(_ bodyIndex: Int) {
        var input = Self.encodeSigned()
        // Locate the data byte: each full chunk has a 1000;chunk-signature=…\r\n header (86 bytes) and a trailing CRLF.
        let chunk = bodyIndex / 4096
        let fullHeader = Array("1000;chunk-signature=".utf8).count + 64 + 2
        let size = min(4096, Self.body.count - chunk * 4096)
        let header = Array("\(String(size, radix: 16));chunk-signature=".utf8).count + 64 + 2
        let chunkStart = chunk * (fullHeader + 4096 + 2)
        let hexSize = Array(String(size, radix: 16).utf8)
        #expect(Array(input[chunkStart..<(chunkStart + hexSize.count)]) == hexSize)
        let position = chunkStart + header + bodyIndex % 4096
        #expect(input[position] == Self.body[bodyIndex])
        input[position] ^= 0x01
        #expect(Self.code { _ = try Self.decode(input, piece: 512) } == .chunkSignatureMismatch)
    }

    @Test("the wrong seed signature or a reordered chunk fails")
    func chainBroken() {
        let other = SigV4ChunkContext(secretAccessKey: Fixture.secret, amzDate: "20130524T000000Z", region: "us-east-1",
                                      seedSignature: String(repeating: "6", count: 64))
        #expect(Self.code { _ = try Self.decode(Self.encodeSigned(), mode: .signed(other, trailer: false), piece: 4096) } == .chunkSignatureMismatch)
        // Swap the first two (equal-size) chunks.
        let input = Self.encodeSigned()
        let unit = Array("1000;chunk-signature=".utf8).count + 64 + 2 + 4096 + 2
        let swapped = Array(input[unit..<(2 * unit)] + input[0..<unit] + input[(2 * unit)...])
        #expect(Self.code { _ = try Self.decode(swapped, piece: 4096) } == .chunkSignatureMismatch)
    }

    @Test("truncated bodies make finish() throw incompleteBody", arguments: [1, 50, 90, 5000, 10_100])
    func truncated(_ dropped: Int) {
        let input = Self.encodeSigned()
        let cut = Array(input.dropLast(dropped))
        #expect(Self.code { _ = try Self.decode(cut, piece: 333) } == .incompleteBody)
    }

    @Test("the final empty line may be missing (no trailer mode), as MinIO accepts")
    func missingFinalCRLF() throws {
        let input = Array(Self.encodeSigned().dropLast(2))
        #expect(Self.normalized(try Self.decode(input, piece: 100)) == [.data(Self.body)])
    }

    @Test("malformed framing is invalidChunk", arguments: [
        "zz;chunk-signature=\(String(repeating: "0", count: 64))\r\n",
        ";chunk-signature=\(String(repeating: "0", count: 64))\r\n",
        "10\r\n",
        "10;chunk-signature=abc\r\n",
        "10;chunk-signature=\(String(repeating: "g", count: 64))\r\n",
        "10;chunk-signatur=\(String(repeating: "0", count: 64))\r\n",
        "10;chunk-signature=\(String(repeating: "0", count: 64))\n",
        "10000000000000000;chunk-signature=\(String(repeating: "0", count: 64))\r\n",
        "-1;chunk-signature=\(String(repeating: "0", count: 64))\r\n",
    ])
    func malformedHeader(_ line: String) {
        #expect(Self.code { _ = try Self.decode(Array(line.utf8) + [UInt8](repeating: 0, count: 40), piece: 64) } == .invalidChunk)
    }

    @Test("missing CRLF after chunk data and data after the end are invalidChunk")
    func badFraming() {
        var input = Self.encodeSigned(chunkSize: 10_000)
        let crlfIndex = 87 + 10_000 + 1  // "2710;chunk-signature=…\r\n" is 87 bytes
        input[crlfIndex] = UInt8(ascii: "X")
        #expect(Self.code { _ = try Self.decode(input, piece: 4096) } == .invalidChunk)
        let extra = Self.encodeSigned() + Array("junk".utf8)
        #expect(Self.code { _ = try Self.decode(extra, piece: 4096) } == .invalidChunk)
    }

    @Test("size lines and chunk sizes are bounded")
    func bounds() {
        // A size line that never ends fails once it exceeds the limit, without waiting for the rest.
        var decoder = AWSChunkedDecoder(mode: .signed(Self.context, trailer: false))
        decoder.append([UInt8](repeating: UInt8(ascii: "1"), count: AWSChunkedDecoder.maxChunkHeaderLength + 2))
        #expect(Self.code { _ = try decoder.next() } == .invalidChunk)
        // After an error the decoder keeps failing.
        #expect(Self.code { _ = try decoder.next() } == .invalidChunk)
        // A chunk above maxChunkSize is refused from its header alone.
        let big = Self.encodeSigned(chunkSize: 8192)
        #expect(Self.code { _ = try Self.decode(big, piece: 100, maxChunkSize: 4096) } == .invalidChunk)
        // Trailer section size is bounded too.
        var input = Array("0\r\n".utf8)
        input += Array("x-amz-big:".utf8) + [UInt8](repeating: UInt8(ascii: "v"), count: AWSChunkedDecoder.maxTrailerBytes + 10)
        #expect(Self.code { _ = try Self.decode(input, mode: .unsignedWithTrailer, piece: 1000) } == .malformedTrailer)
    }

    @Test("unsigned trailer mode", arguments: [1, 100, 1 << 20])
    func unsignedTrailer(_ piece: Int) throws {
        let input = SigV4Signer.encodeUnsignedChunks(Self.body, chunkSize: 3000, trailers: [Self.crc])
        let events = try Self.decode(input, mode: .unsignedWithTrailer, piece: piece, expectedTrailers: ["x-amz-checksum-crc32"])
        #expect(Self.normalized(events) == [.data(Self.body), .trailers([SigV4Trailer(name: Self.crc.name, value: Self.crc.value)]), .end])
    }

    @Test("unsigned trailer mode tolerates LF-only trailer lines and chunk extensions")
    func unsignedTolerance() throws {
        let input = Array("5;ext=1\r\nhello\r\n0\r\nX-Amz-Checksum-CRC32 : abc= \n\n".utf8)
        let events = try Self.decode(input, mode: .unsignedWithTrailer, piece: 3)
        #expect(Self.normalized(events) == [.data(Array("hello".utf8)),
                                            .trailers([SigV4Trailer(name: "x-amz-checksum-crc32", value: "abc=")]), .end])
    }

    @Test("declared trailers must arrive, undeclared ones are refused, lines need a colon")
    func trailerChecks() {
        let input = SigV4Signer.encodeUnsignedChunks(Self.body, chunkSize: 3000, trailers: [Self.crc])
        #expect(Self.code { _ = try Self.decode(input, mode: .unsignedWithTrailer, piece: 100, expectedTrailers: ["x-amz-checksum-sha256"]) } == .missingTrailer)
        let both = SigV4Signer.encodeUnsignedChunks([], chunkSize: 1, trailers: [Self.crc])
        #expect(Self.code { _ = try Self.decode(both, mode: .unsignedWithTrailer, piece: 100, expectedTrailers: ["x-amz-checksum-crc32", "x-amz-checksum-crc32c"]) } == .missingTrailer)
        let noColon = Array("0\r\nx-amz-checksum-crc32 AAAA\r\n\r\n".utf8)
        #expect(Self.code { _ = try Self.decode(noColon, mode: .unsignedWithTrailer, piece: 100) } == .malformedTrailer)
        let repeated = Array("0\r\na:1\r\na:2\r\n\r\n".utf8)
        #expect(Self.code { _ = try Self.decode(repeated, mode: .unsignedWithTrailer, piece: 100) } == .malformedTrailer)
    }

    @Test("an empty body is just the final chunk")
    func emptyBody() throws {
        let events = try Self.decode(Self.encodeSigned([]), piece: 1)
        #expect(events == [.end])
        let unsigned = try Self.decode(SigV4Signer.encodeUnsignedChunks([], chunkSize: 1, trailers: []), mode: .unsignedWithTrailer, piece: 1)
        #expect(unsigned == [.trailers([]), .end])
    }

    @Test("random splits always produce the original body", arguments: 0..<8)
    func randomSplits(_ seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed))
        let body = (0..<Int(rng.next() % 50_000)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let input = Self.encodeSigned(body, chunkSize: Int(rng.next() % 9000) + 1, trailers: [Self.crc])
        var decoder = AWSChunkedDecoder(mode: .signed(Self.context, trailer: true))
        var out = [UInt8]()
        var offset = 0
        var sawEnd = false
        while offset < input.count {
            let end = min(input.count, offset + Int(rng.next() % 3000) + 1)
            input[offset..<end].withUnsafeBytes { decoder.append($0) }
            offset = end
            while let event = try decoder.next() {
                if case .data(let b) = event { out += b }
                if event == .end { sawEnd = true }
            }
        }
        try decoder.finish()
        #expect(sawEnd)
        #expect(out == body)
    }
}

/// A tiny deterministic PRNG for reproducible tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
