import HTTPTypes
import Integrity

/// Header names S3 uses that HTTPTypes does not predefine.
extension HTTPField.Name {
    static let contentMD5 = HTTPField.Name("Content-MD5")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    /// Set by ``ExpectContinueHandler`` only: the ticket of an owed `100 Continue`.
    static let mediagateContinue = HTTPField.Name("x-mediagate-continue")!
    static let amzBucketRegion = HTTPField.Name("x-amz-bucket-region")!
    static let amzChecksumAlgorithm = HTTPField.Name("x-amz-checksum-algorithm")!
    static let amzChecksumMode = HTTPField.Name("x-amz-checksum-mode")!
    static let amzChecksumType = HTTPField.Name("x-amz-checksum-type")!
    static let amzCopySource = HTTPField.Name("x-amz-copy-source")!
    static let amzCopySourceIfMatch = HTTPField.Name("x-amz-copy-source-if-match")!
    static let amzCopySourceIfModifiedSince = HTTPField.Name("x-amz-copy-source-if-modified-since")!
    static let amzCopySourceIfNoneMatch = HTTPField.Name("x-amz-copy-source-if-none-match")!
    static let amzCopySourceIfUnmodifiedSince = HTTPField.Name("x-amz-copy-source-if-unmodified-since")!
    static let amzCopySourceRange = HTTPField.Name("x-amz-copy-source-range")!
    static let amzMetadataDirective = HTTPField.Name("x-amz-metadata-directive")!
    static let amzMpPartsCount = HTTPField.Name("x-amz-mp-parts-count")!
    static let amzRequestID = HTTPField.Name("x-amz-request-id")!
    static let amzSDKChecksumAlgorithm = HTTPField.Name("x-amz-sdk-checksum-algorithm")!
    static let amzTrailer = HTTPField.Name("x-amz-trailer")!
    static let amzDecodedContentLength = HTTPField.Name("x-amz-decoded-content-length")!

    /// The header of an `x-amz-checksum-*` algorithm, for example `x-amz-checksum-crc32`.
    static func amzChecksum(_ algorithm: ChecksumAlgorithm) -> HTTPField.Name {
        HTTPField.Name(algorithm.headerName)!  // a fixed lowercase token per algorithm
    }
}
