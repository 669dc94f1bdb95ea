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
        self.body = answer.body
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
    /// ``immediateAnswer(to:)`` of a request made in HTTP types.
    func immediateAnswer(to request: HTTPRequest) -> TypedAnswer? {
        nioHead(request).flatMap { immediateAnswer(to: $0) }.flatMap(TypedAnswer.init)
    }
}
