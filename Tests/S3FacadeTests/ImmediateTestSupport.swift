import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import S3Facade
import Testing

/// An answer of ``ImmediateResponder`` in HTTP types, to compare with the regular path's.
struct TypedAnswer {
    var head: HTTPResponse
    var body: ByteBuffer?

    /// The answer as the regular path would have sent it; nil (and an issue recorded) when its
    /// head does not convert.
    init?(_ answer: ImmediateAnswer) {
        guard let head = try? HTTPResponse(answer.head) else {
            Issue.record("answer head does not convert to HTTP types: \(answer.head)")
            return nil
        }
        self.head = head
        self.body = answer.bodyBytes
    }
}

extension ImmediateAnswer {
    /// The body's bytes: kept inline, or read from its file, which is then closed.
    var bodyBytes: ByteBuffer? {
        switch body {
        case nil: return nil
        case .inline(let bytes): return bytes
        case .file(let file, _):
            defer { try? file.close() }
            // The handle was just opened: its offset is the file's start.
            return try? file.withUnsafeFileDescriptor { descriptor in
                ByteBuffer(bytes: FileHandle(fileDescriptor: descriptor, closeOnDealloc: false).readDataToEndOfFile())
            }
        }
    }
}

/// A request head in HTTP types as NIO's decoder would have made it; nil (and an issue
/// recorded) when it does not convert.
func nioHead(_ request: HTTPRequest) -> HTTPRequestHead? {
    guard let head = try? HTTPRequestHead(request) else {
        Issue.record("request head does not convert to NIO's: \(request)")
        return nil
    }
    return head
}

extension S3Gateway {
    /// ``immediateAnswer(to:sendingFiles:)`` of a request made in HTTP types.
    func immediateAnswer(to request: HTTPRequest, sendingFiles: Bool = false) -> TypedAnswer? {
        nioHead(request).flatMap { immediateAnswer(to: $0, sendingFiles: sendingFiles) }.flatMap(TypedAnswer.init)
    }

    /// An answer as a connection that cannot send files (TLS) asks for it: bodies in memory only.
    func immediateAnswer(to head: HTTPRequestHead) -> ImmediateAnswer? {
        immediateAnswer(to: head, sendingFiles: false)
    }
}
