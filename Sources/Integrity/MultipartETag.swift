/// The ETag of a multipart object: `<hex MD5 of the concatenated binary part MD5s>-<n>`.
public enum MultipartETag {
    /// Computes the multipart ETag (without surrounding quotes) from the parts' MD5s in
    /// part order.
    ///
    /// Each element is a part's hex MD5 (its ETag); surrounding double quotes are
    /// tolerated and either case is accepted. Returns `nil` when the list is empty or
    /// an element is not 16 bytes of hex.
    public static func compute(partMD5Hex: [String]) -> String? {
        guard !partMD5Hex.isEmpty else { return nil }
        var hasher = MD5Hasher()
        for etag in partMD5Hex {
            guard let digest = Hex.decode(unquoted(etag)), digest.count == 16 else { return nil }
            hasher.update(digest)
        }
        return Hex.encode(hasher.finalize()) + "-\(partMD5Hex.count)"
    }

    /// Removes one pair of surrounding double quotes, if present.
    static func unquoted(_ etag: String) -> Substring {
        var text = Substring(etag)
        if text.count >= 2, text.first == "\"", text.last == "\"" {
            text = text.dropFirst().dropLast()
        }
        return text
    }
}
