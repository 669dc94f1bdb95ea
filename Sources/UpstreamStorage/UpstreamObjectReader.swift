import AsyncHTTPClient
import Foundation
import NIOCore
import Storage

/// Reads one version of an upstream object. The whole-object read streams the GET that
/// described the version (``UpstreamObjectStore/openObject(bucket:key:)``); any other GET (a range,
/// a resumption) carries `If-Match` with the version's ETag, so a concurrent overwrite fails the read
/// instead of mixing versions. A transfer that breaks is resumed from the next byte while attempts
/// remain; after that the stream throws, and the client's response is aborted rather than completed
/// short.
struct UpstreamObjectReader: ObjectReader {
    let client: UpstreamClient
    let info: ObjectInfo
    let opened: OpenedBody

    func read(range: Range<Int64>?) -> ByteStream {
        let client = self.client
        let info = self.info
        let wanted = range ?? 0..<info.size
        // The opened answer serves a whole-object read; for anything else it is dropped now.
        let whole = wanted == 0..<info.size
        let first = whole ? opened.take() : nil
        if !whole { _ = opened.take() }
        return ByteStream {
            var offset = wanted.lowerBound
            var body: HTTPClientResponse.Body.AsyncIterator? = first?.makeAsyncIterator()
            var failures = 0
            return ByteStream.Iterator {
                while offset < wanted.upperBound {
                    do {
                        if body == nil {
                            body = try await Self.open(client: client, info: info, range: offset..<wanted.upperBound)
                        }
                        guard var buffer = try await body?.next() else {
                            throw StorageError(.serviceUnavailable, "upstream body ended at \(offset) of \(wanted.upperBound)")
                        }
                        let room = wanted.upperBound - offset
                        if Int64(buffer.readableBytes) > room { buffer = buffer.getSlice(at: buffer.readerIndex, length: Int(room)) ?? buffer }
                        offset += Int64(buffer.readableBytes)
                        if buffer.readableBytes == 0 { continue }
                        return buffer
                    } catch let error as StorageError where error.code == .preconditionFailed || error.code == .noSuchKey {
                        // The version went away: never continue with another one.
                        throw StorageError(.serviceUnavailable, "object changed while reading: \(error)")
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        body = nil
                        failures += 1
                        if failures >= max(1, client.configuration.attempts) { throw error }
                        try await Task.sleep(for: client.configuration.retryDelay * failures)
                    }
                }
                return nil
            }
        }
    }

    private static func open(client: UpstreamClient, info: ObjectInfo, range: Range<Int64>) async throws -> HTTPClientResponse.Body.AsyncIterator {
        var request = UpstreamRequest(method: .GET, bucket: info.bucket, key: info.key)
        request.headers = [("If-Match", UpstreamMapping.quote(info.etag))]
        if range != 0..<info.size { request.headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        let response = try await client.send(request)
        return response.body.makeAsyncIterator()
    }
}

/// The body of the GET that opened an object, taken by the first read (or dropped with the reader,
/// which cancels that GET).
final class OpenedBody: @unchecked Sendable {
    private let lock = NSLock()
    private var body: HTTPClientResponse.Body?

    init(_ body: HTTPClientResponse.Body) {
        self.body = body
    }

    func take() -> HTTPClientResponse.Body? {
        lock.withLock {
            defer { body = nil }
            return body
        }
    }
}
