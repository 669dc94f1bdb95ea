import AsyncHTTPClient
import Foundation
import NIOCore
import Storage

/// Reads one version of an upstream object: every GET carries `If-Match` with the version's ETag,
/// so a concurrent overwrite fails the read instead of mixing versions. A transfer that breaks is
/// resumed from the next byte (same ETag) while attempts remain; after that the stream throws, and
/// the client's response is aborted rather than completed short.
struct UpstreamObjectReader: ObjectReader {
    let client: UpstreamClient
    let info: ObjectInfo

    func read(range: Range<Int64>?) -> ByteStream {
        let client = self.client
        let info = self.info
        let wanted = range ?? 0..<info.size
        return ByteStream {
            var offset = wanted.lowerBound
            var body: HTTPClientResponse.Body.AsyncIterator?
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
