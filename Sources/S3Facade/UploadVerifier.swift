import Foundation
import HTTPTypes
import Hummingbird
import Integrity
import NIOCore
import SigV4
import Storage

/// What a request says about its body: length, encoding and the digests it must match.
struct UploadExpectations: Sendable {
    /// Bytes of object data expected (decoded length for aws-chunked bodies).
    var length: Int64?
    var payload: SigV4PayloadMode
    var chunkContext: SigV4ChunkContext?
    /// Content-MD5, decoded.
    var md5: [UInt8]?
    /// The checksum algorithm to compute and store.
    var checksumAlgorithm: ChecksumAlgorithm?
    /// The expected checksum value when it came in a header (else it comes in a trailer).
    var checksumValue: String?
    /// Whether the checksum value arrives in a trailer.
    var checksumInTrailer: Bool
    /// Largest allowed object data.
    var maxLength: Int64
    /// Trailer names the request declared in `x-amz-trailer` (lowercased).
    var declaredTrailers: [String]

    /// Reads the expectations from a request's headers.
    /// - Throws: ``S3Error`` for malformed or contradictory digest headers.
    static func from(
        headers: HTTPFields, auth: SigV4Authenticated, maxLength: Int64, lengthRequired: Bool = false
    ) throws(S3Error) -> UploadExpectations {
        var length: Int64?
        if auth.payload.isChunked {
            guard let text = headers[.amzDecodedContentLength], let value = Int64(text), value >= 0 else {
                throw S3Error(.missingContentLength, "You must provide the x-amz-decoded-content-length HTTP header.")
            }
            length = value
        } else if let text = headers[.contentLength] {
            guard let value = Int64(text), value >= 0 else { throw S3Error(.invalidArgument, "Invalid Content-Length.") }
            length = value
        }
        if length == nil, lengthRequired {
            // Without a declared length a short body cannot be told from a complete one.
            throw S3Error(.missingContentLength, "You must provide the Content-Length HTTP header.")
        }
        if let length, length > maxLength {
            throw S3Error(.entityTooLarge, "Your proposed upload exceeds the maximum allowed size")
        }

        var md5: [UInt8]?
        if let text = headers[.contentMD5] {
            guard let data = Data(base64Encoded: text), data.count == 16 else {
                throw S3Error(.invalidDigest, "The Content-MD5 you specified was invalid.")
            }
            md5 = Array(data)
        }

        var algorithm: ChecksumAlgorithm?
        var value: String?
        for field in headers {
            guard let candidate = ChecksumAlgorithm(headerName: field.name.canonicalName) else { continue }
            if algorithm != nil {
                throw S3Error(.invalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
            }
            algorithm = candidate
            value = field.value
            guard let digest = Base64.decode(field.value), digest.count == candidate.digestByteCount else {
                throw S3Error(.invalidRequest, "Value for \(candidate.headerName) header is invalid.")
            }
        }
        var inTrailer = false
        if let trailer = headers[.amzTrailer] {
            let names = trailer.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            for name in names {
                guard let candidate = ChecksumAlgorithm(headerName: name) else {
                    throw S3Error(.invalidRequest, "The value specified in the x-amz-trailer header is not supported")
                }
                if algorithm != nil {
                    throw S3Error(.invalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
                }
                algorithm = candidate
                inTrailer = true
            }
            if inTrailer, auth.payload != .streamingSignedTrailer, auth.payload != .streamingUnsignedTrailer {
                throw S3Error(.invalidRequest, "x-amz-trailer requires a trailer payload mode.")
            }
        }
        if algorithm == nil, let sdk = headers[.amzSDKChecksumAlgorithm] {
            guard let candidate = ChecksumAlgorithm(rawValue: sdk.uppercased()) else {
                throw S3Error(.invalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
            }
            algorithm = candidate
        }
        return UploadExpectations(
            length: length, payload: auth.payload, chunkContext: auth.chunkContext, md5: md5,
            checksumAlgorithm: algorithm, checksumValue: value, checksumInTrailer: inTrailer, maxLength: maxLength,
            declaredTrailers: auth.declaredTrailers)
    }
}

/// Turns a request body into an ``UploadBody`` whose bytes are decoded (aws-chunked), counted and
/// hashed as they stream, and whose `finish` checks every digest before the store commits.
///
/// - Important: the state is used by one consumer at a time: the store iterates the chunks, then
///   calls `finish` once.
final class UploadVerifier: @unchecked Sendable {
    private let expectations: UploadExpectations
    private var source: RequestBody.AsyncIterator
    private var decoder: AWSChunkedDecoder?
    private let digester: PipelinedDigester
    private var pending: [ByteBuffer] = []
    private var trailers: [SigV4Trailer] = []
    private var received: Int64 = 0
    private var ended = false

    init(body: RequestBody, expectations: UploadExpectations) throws(S3Error) {
        self.expectations = expectations
        self.source = body.makeAsyncIterator()
        switch expectations.payload {
        case .streamingSigned, .streamingSignedTrailer:
            guard let context = expectations.chunkContext else {
                throw S3Error(.invalidRequest, "Missing chunk signing context.")
            }
            decoder = AWSChunkedDecoder(
                mode: .signed(context, trailer: expectations.payload == .streamingSignedTrailer),
                expectedTrailers: expectations.declaredTrailers)
        case .streamingUnsignedTrailer:
            decoder = AWSChunkedDecoder(mode: .unsignedWithTrailer, expectedTrailers: expectations.declaredTrailers)
        case .unsigned, .sha256: break
        }
        self.digester = PipelinedDigester(expectations.digester())
    }

    /// The verified body for a store.
    func uploadBody() -> UploadBody {
        var facts = UploadFacts(length: expectations.length, checksumAlgorithm: expectations.checksumAlgorithm?.rawValue)
        if case .sha256(let hex) = expectations.payload { facts.sha256Hex = hex.lowercased() }
        if let algorithm = expectations.checksumAlgorithm, !expectations.checksumInTrailer, let value = expectations.checksumValue {
            facts.checksum = StoredChecksum(algorithm: algorithm.rawValue, value: value)
        }
        return UploadBody(
            chunks: ByteStream { [self] in ByteStream.Iterator { try await self.next() } }, facts: facts,
            finish: { [self] in try await self.finish() })
    }

    private func next() async throws -> ByteBuffer? {
        while pending.isEmpty {
            if ended { return nil }
            guard let buffer = try await source.next() else {
                if var decoder {
                    try drain(&decoder)
                    try decoder.finish()
                    self.decoder = decoder
                }
                ended = true
                break
            }
            if var decoder {
                buffer.withUnsafeReadableBytes { decoder.append($0) }
                try drain(&decoder)
                self.decoder = decoder
            } else {
                try account(buffer)
                pending.append(buffer)
            }
        }
        guard !pending.isEmpty else { return nil }
        let buffer = pending.removeFirst()
        // Every buffer passes here once, in body order: hash it (counted in `account`).
        await digester.update(buffer)
        return buffer
    }

    private func drain(_ decoder: inout AWSChunkedDecoder) throws {
        while let event = try decoder.next() {
            switch event {
            case .data(let bytes):
                let buffer = ByteBuffer(bytes: bytes)
                try account(buffer)
                pending.append(buffer)
            case .trailers(let fields):
                trailers = fields
            case .end:
                ended = true
            }
        }
    }

    private func account(_ buffer: ByteBuffer) throws {
        received += Int64(buffer.readableBytes)
        try expectations.checkReceived(received)
    }

    private func finish() async throws -> UploadDigest {
        try expectations.checkComplete(received)
        // Buffers received but not handed out (a consumer that stopped early) are hashed too,
        // as every received byte always was.
        for buffer in pending { await digester.update(buffer) }
        pending.removeAll()
        return try expectations.check(await digester.finalize(), trailers: trailers)
    }
}

extension UploadExpectations {
    /// The digests a body of this request needs: MD5 always (the ETag), the payload's SHA-256
    /// when it was signed, and the requested checksum.
    func digester() -> BodyDigester {
        var sha256 = false
        if case .sha256 = payload { sha256 = true }
        return BodyDigester(md5: true, sha256: sha256, checksum: checksumAlgorithm)
    }

    /// Verifies a whole body that is at hand and not aws-chunked (a small PUT answered on the
    /// event loop): its length, then the checks ``UploadVerifier`` makes at its end.
    /// - Throws: ``S3Error``, as ``UploadVerifier`` would for the same body.
    func verify(whole body: ByteBuffer) throws(S3Error) -> UploadDigest {
        try checkReceived(Int64(body.readableBytes))
        try checkComplete(Int64(body.readableBytes))
        var digester = digester()
        body.withUnsafeReadableBytes { digester.update($0) }
        return try check(digester.finalize(), trailers: [])
    }

    /// Checks that `received` bytes of data are within the limit and the declared length.
    func checkReceived(_ received: Int64) throws(S3Error) {
        if received > maxLength {
            throw S3Error(.entityTooLarge, "Your proposed upload exceeds the maximum allowed size")
        }
        if let length, received > length {
            throw S3Error(.invalidRequest, "The request body is longer than its declared length.")
        }
    }

    /// Checks that a body that ended after `received` bytes of data had its declared length.
    func checkComplete(_ received: Int64) throws(S3Error) {
        if let length, received != length {
            throw S3Error(.incompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
        }
    }

    /// Checks a whole body's digests against the payload hash, Content-MD5 and checksum the
    /// request declared (in headers, or in `trailers`).
    /// - Returns: the ETag's MD5 and the checksum to store.
    func check(_ digests: BodyDigests, trailers: [SigV4Trailer]) throws(S3Error) -> UploadDigest {
        if case .sha256(let expected) = payload, digests.sha256Hex != expected.lowercased() {
            throw S3Error(.xAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        guard let computedMD5 = digests.md5 else { throw S3Error(.internalError, "MD5 missing") }
        if let expected = md5, expected != computedMD5 {
            throw S3Error(.badDigest, "The Content-MD5 you specified did not match what we received.")
        }
        var stored: StoredChecksum?
        if let algorithm = checksumAlgorithm, let computed = digests.checksum?.base64 {
            var expected = checksumValue
            if checksumInTrailer {
                guard let value = trailers.first(where: { $0.name == algorithm.headerName })?.value else {
                    throw S3Error(.invalidRequest, "The trailing checksum \(algorithm.headerName) was not sent.")
                }
                expected = value.trimmingCharacters(in: .whitespaces)
            }
            if let expected, expected != computed {
                throw S3Error(.badDigest, "The \(algorithm.rawValue) you specified did not match the calculated checksum.")
            }
            stored = StoredChecksum(algorithm: algorithm.rawValue, value: computed)
        }
        return UploadDigest(md5Hex: Hex.encode(computedMD5), checksum: stored)
    }
}
