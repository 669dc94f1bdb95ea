import Integrity
import Storage

extension ObjectInfo {
    /// The whole-object checksum S3 reports: the stored one for single-part objects; for
    /// multipart objects the composite (`<checksum of part checksums>-N`), derived from the parts
    /// when every part carries a checksum of the same algorithm.
    var effectiveChecksum: StoredChecksum? {
        if let checksum { return checksum }
        guard isMultipart, let first = parts.first?.checksum, let algorithm = ChecksumAlgorithm(rawValue: first.algorithm) else {
            return nil
        }
        var values: [String] = []
        for part in parts {
            guard let checksum = part.checksum, checksum.algorithm == first.algorithm else { return nil }
            values.append(checksum.value)
        }
        return MultipartChecksum.composite(algorithm, partChecksums: values).map {
            StoredChecksum(algorithm: first.algorithm, value: $0)
        }
    }
}
