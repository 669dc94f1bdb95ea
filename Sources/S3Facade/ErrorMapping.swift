import Logging
import Policy
import VariantEngine
import S3XML
import SigV4
import Storage

/// The one table that turns any error a request can raise into an S3 error answer.
///
/// Unknown errors become `InternalError`; their details go to the log with the request id and
/// never to the client.
enum ErrorMapping {
    static func s3Error(for error: any Error, logger: Logger) -> S3Error {
        switch error {
        case let error as S3Error:
            return error
        case let error as StorageError:
            return map(error, logger: logger)
        case let error as SigV4Error:
            return map(error)
        case let error as ContentRefusal:
            return map(error)
        case let error as VariantError:
            // libvips' text can name internals: log it, send a fixed message.
            logger.info("variant not derived", metadata: ["reason": "\(error.detail)"])
            switch error.code {
            case .invalidImage: return S3Error(.invalidImage, "The source image cannot be decoded.")
            case .imageTooLarge: return S3Error(.imageTooLarge, "The source image exceeds the size or pixel limits.")
            case .busy: return S3Error(.slowDown, "Please reduce your request rate.")
            }
        case let error as XMLParseError:
            logger.debug("malformed XML", metadata: ["reason": "\(error)"])
            return S3Error(.malformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
        case is CancellationError:
            return S3Error(.incompleteBody, "The request body terminated unexpectedly.")
        default:
            logger.error("internal error", metadata: ["error": "\(String(reflecting: error))"])
            return S3Error(.internalError, "We encountered an internal error. Please try again.")
        }
    }

    private static func map(_ error: StorageError, logger: Logger) -> S3Error {
        switch error.code {
        case .noSuchBucket: return S3Error(.noSuchBucket, "The specified bucket does not exist")
        case .bucketAlreadyExists: return S3Error(.bucketAlreadyOwnedByYou, "Your previous request to create the named bucket succeeded and you already own it.")
        case .bucketNotEmpty: return S3Error(.bucketNotEmpty, "The bucket you tried to delete is not empty")
        case .noSuchKey: return S3Error(.noSuchKey, "The specified key does not exist.")
        case .preconditionFailed: return S3Error(.preconditionFailed, "At least one of the pre-conditions you specified did not hold")
        case .noSuchUpload: return S3Error(.noSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
        case .invalidPart: return S3Error(.invalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
        case .invalidPartOrder: return S3Error(.invalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
        case .entityTooSmall: return S3Error(.entityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.")
        case .invalidRange: return S3Error(.invalidRange, "The requested range is not satisfiable")
        case .incompleteBody: return S3Error(.incompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
        case .slowDown:
            logger.warning("upstream asks to slow down", metadata: ["error": "\(error.detail)"])
            return S3Error(.slowDown, "Please reduce your request rate.")
        case .serviceUnavailable:
            logger.warning("upstream unavailable", metadata: ["error": "\(error.detail)"])
            return S3Error(.serviceUnavailable, "The storage behind this gateway is unavailable. Please try again.")
        case .upstreamRefused:
            logger.info("upstream refused", metadata: ["error": "\(error.detail)"])
            return S3Error(.invalidRequest, "The storage behind this gateway refused the request (\(error.detail)).")
        case .internalError:
            logger.error("storage failure", metadata: ["error": "\(error.detail)"])
            return S3Error(.internalError, "We encountered an internal error. Please try again.")
        }
    }

    private static func map(_ error: ContentRefusal) -> S3Error {
        switch error.kind {
        case .typeNotAllowed, .signatureMismatch:
            return S3Error(.invalidArgument, error.message, details: [("ArgumentName", "Content-Type")])
        case .tooLarge(let maxSize):
            return S3Error(.entityTooLarge, error.message, details: [("MaxSizeAllowed", String(maxSize))])
        }
    }

    private static func map(_ error: SigV4Error) -> S3Error {
        switch error.code {
        case .missingSecurityHeader: return S3Error(.accessDenied, "Access Denied")
        case .authorizationHeaderMalformed: return S3Error(.authorizationHeaderMalformed, error.message)
        case .authorizationQueryParametersError: return S3Error(.authorizationQueryParametersError, error.message)
        case .invalidAccessKeyID: return S3Error(.invalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.")
        case .signatureDoesNotMatch: return S3Error(.signatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        case .requestTimeTooSkewed: return S3Error(.requestTimeTooSkewed, "The difference between the request time and the current time is too large.")
        case .requestExpired: return S3Error(.accessDenied, "Request has expired")
        case .requestNotYetValid: return S3Error(.accessDenied, "Request is not valid yet")
        case .headersNotSigned: return S3Error(.accessDenied, "There were headers present in the request which were not signed")
        case .unsupportedAlgorithm: return S3Error(.authorizationHeaderMalformed, error.message)
        case .invalidPayloadHash: return S3Error(.invalidArgument, error.message)
        case .contentSHA256Mismatch: return S3Error(.xAmzContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        case .incompleteBody: return S3Error(.incompleteBody, "The request body terminated unexpectedly.")
        case .invalidChunk: return S3Error(.invalidRequest, error.message)
        case .chunkSignatureMismatch: return S3Error(.signatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        case .missingTrailer: return S3Error(.invalidRequest, error.message)
        case .malformedTrailer: return S3Error(.invalidRequest, error.message)
        }
    }
}
