/// S3's composite ("checksum of checksums") value of a multipart upload:
/// `<base64 of hash(concatenated binary part checksums)>-<n>`.
public enum MultipartChecksum {
    /// Computes the composite checksum of the parts' base64 checksums, in part order.
    ///
    /// Returns `nil` when the list is empty or a part value is not valid base64 of the
    /// algorithm's digest length. Full-object CRC combination is not provided.
    public static func composite(_ algorithm: ChecksumAlgorithm, partChecksums: [String]) -> String? {
        guard !partChecksums.isEmpty else { return nil }
        var hasher = ChecksumHasher(algorithm)
        for value in partChecksums {
            guard let digest = Base64.decode(value), digest.count == algorithm.digestByteCount else {
                return nil
            }
            hasher.update(digest)
        }
        return hasher.finalize() + "-\(partChecksums.count)"
    }
}
