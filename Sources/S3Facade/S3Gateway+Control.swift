import Hummingbird
import NIOCore

extension S3Gateway {
    /// `/_mediagate/health`, `/ready` and `/metrics` need no auth.
    func control(rawPath: Substring, request: Request) async -> Response {
        let path = String(rawPath)
        let method = request.method
        let isRead = method == .get || method == .head
        if isRead && path == "/_mediagate/health" {
            return Self.json(.ok, #"{"status":"ok"}"#)
        }
        if isRead && path == "/_mediagate/ready" {
            let ready = await readiness()
            return ready ? Self.json(.ok, #"{"status":"ready"}"#) : Self.json(.serviceUnavailable, #"{"status":"starting"}"#)
        }
        if method == .get && path == "/_mediagate/metrics" {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        return Self.json(.notFound, #"{"error":"NotFound","message":"No such control endpoint."}"#)
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
