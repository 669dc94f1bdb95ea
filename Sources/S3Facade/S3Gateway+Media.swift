import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import Policy
import Storage
import VariantEngine

/// `GET`/`PATCH /_mediagate/v1/media/{bucket}/{key}` (SPEC §5).
extension S3Gateway {
    func mediaRequest(path: String, rawPath: Substring, rawQuery: Substring, request: Request, control: ControlAccess, logger: Logger) async throws -> Response {
        guard let mediaInfo else { throw ControlError.notFound }
        let rest = path.dropFirst("/_mediagate/v1/media/".count)
        guard let slash = rest.firstIndex(of: "/"),
            let bucket = PercentEncoding.decode(rest[..<slash], plusAsSpace: false), !bucket.isEmpty,
            let key = PercentEncoding.decode(rest[rest.index(after: slash)...], plusAsSpace: false), !key.isEmpty
        else { throw ControlError.invalid("The path must be /_mediagate/v1/media/{bucket}/{key}.") }
        guard request.method == .get || request.method == .patch else {
            throw ControlError(status: .methodNotAllowed, code: "MethodNotAllowed", message: "Use GET or PATCH.")
        }
        let (caller, body) = try await authenticateControl(request, rawPath: rawPath, rawQuery: rawQuery, control: control)
        let principal: Principal = switch caller {
        case .admin: .root(accessKeyID: control.root.accessKeyID)
        case .tenant(let identity, _): .tenant(identity)
        }
        let tenants = try await policyStore.tenants().map(\.scope)
        let action: Action = request.method == .get ? .readObject : .writeObject
        _ = try await authorize(principal, action, bucket: bucket, key: key, tenants: tenants, presigned: nil, logger: logger, operation: "MediaInfo")
        let info: MediaInfo
        do {
            if request.method == .get {
                info = try await mediaInfo.info(bucket: bucket, key: key)
            } else {
                let patch = try ControlJSON.decode(MediaInfo.self, from: body)
                info = try await mediaInfo.fill(bucket: bucket, key: key, patch: patch)
            }
        } catch let error as StorageError where error.code == .noSuchKey || error.code == .noSuchBucket {
            throw ControlError(status: .notFound, code: error.code == .noSuchKey ? "NoSuchKey" : "NoSuchBucket", message: "No such object.")
        }
        return Self.mediaJSON(info)
    }

    /// Every SPEC field, `null` when unknown.
    static func mediaJSON(_ info: MediaInfo) -> Response {
        let values: [String: Any?] = [
            "width": info.width, "height": info.height, "orientation": info.orientation, "aspectRatio": info.aspectRatio,
            "dominantColor": info.dominantColor, "colorProfile": info.colorProfile, "sha256": info.sha256,
            "takenAt": info.takenAt, "gpsLat": info.gpsLat, "gpsLng": info.gpsLng, "duration": info.duration,
            "altText": info.altText, "caption": info.caption,
        ]
        let object = values.mapValues { $0 ?? NSNull() }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return ControlJSON.response(.ok, data: data)
    }
}
