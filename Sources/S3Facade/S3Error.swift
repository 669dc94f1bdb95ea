import HTTPTypes

/// An S3 error answer: a code from AWS's list, its HTTP status and a client-safe message.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// S3 error codes this gateway returns.
    public enum Code: String, Sendable, Equatable {
        case accessDenied = "AccessDenied"
        case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
        case authorizationQueryParametersError = "AuthorizationQueryParametersError"
        case badDigest = "BadDigest"
        case bucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
        case bucketNotEmpty = "BucketNotEmpty"
        case entityTooLarge = "EntityTooLarge"
        case entityTooSmall = "EntityTooSmall"
        case incompleteBody = "IncompleteBody"
        case internalError = "InternalError"
        case invalidAccessKeyId = "InvalidAccessKeyId"
        case invalidArgument = "InvalidArgument"
        case invalidImage = "InvalidImage"
        case imageTooLarge = "ImageTooLarge"
        case invalidBucketName = "InvalidBucketName"
        case invalidDigest = "InvalidDigest"
        case invalidPart = "InvalidPart"
        case invalidPartOrder = "InvalidPartOrder"
        case invalidPartNumber = "InvalidPartNumber"
        case invalidRange = "InvalidRange"
        case invalidRequest = "InvalidRequest"
        case invalidURI = "InvalidURI"
        case keyTooLong = "KeyTooLongError"
        case malformedXML = "MalformedXML"
        case methodNotAllowed = "MethodNotAllowed"
        case missingContentLength = "MissingContentLength"
        case missingSecurityHeader = "MissingSecurityHeader"
        case noSuchBucket = "NoSuchBucket"
        case noSuchKey = "NoSuchKey"
        case noSuchUpload = "NoSuchUpload"
        case notImplemented = "NotImplemented"
        case notModified = "NotModified"
        case preconditionFailed = "PreconditionFailed"
        case requestTimeTooSkewed = "RequestTimeTooSkewed"
        case signatureDoesNotMatch = "SignatureDoesNotMatch"
        case slowDown = "SlowDown"
        case serviceUnavailable = "ServiceUnavailable"
        case xAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
        case conditionalRequestConflict = "ConditionalRequestConflict"

        /// The HTTP status S3 answers with.
        public var status: HTTPResponse.Status {
            switch self {
            case .accessDenied, .invalidAccessKeyId, .requestTimeTooSkewed, .signatureDoesNotMatch: .forbidden
            case .noSuchBucket, .noSuchKey, .noSuchUpload: .notFound
            case .bucketAlreadyOwnedByYou, .bucketNotEmpty, .conditionalRequestConflict: .conflict
            case .methodNotAllowed: .methodNotAllowed
            case .preconditionFailed: .preconditionFailed
            case .notModified: .notModified
            case .invalidRange, .invalidPartNumber: .rangeNotSatisfiable
            case .missingContentLength: .lengthRequired
            case .notImplemented: .notImplemented
            case .internalError: .internalServerError
            case .slowDown, .serviceUnavailable: .serviceUnavailable
            default: .badRequest
            }
        }
    }

    public let code: Code
    /// Safe to send to the client.
    public let message: String
    /// Extra elements for the error document (for example `BucketName`, `Key`).
    public var details: [(String, String)]

    /// Creates an error.
    public init(_ code: Code, _ message: String, details: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func == (lhs: S3Error, rhs: S3Error) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    static func noSuchBucket(_ bucket: String) -> S3Error {
        S3Error(.noSuchBucket, "The specified bucket does not exist", details: [("BucketName", bucket)])
    }

    static func noSuchKey(_ key: String) -> S3Error {
        S3Error(.noSuchKey, "The specified key does not exist.", details: [("Key", key)])
    }
}
