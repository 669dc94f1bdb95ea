/// A small deterministic generator (SplitMix64) so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The byte pattern the Python oracle uses: `(i*7919 + (i>>3)*31) & 0xff`.
func patternBytes(count: Int) -> [UInt8] {
    (0..<count).map { i in UInt8(truncatingIfNeeded: i &* 7919 &+ (i >> 3) &* 31) }
}

/// Splits `bytes` at random points (including empty pieces) and returns the pieces.
func randomPieces(_ bytes: [UInt8], using rng: inout SplitMix64) -> [ArraySlice<UInt8>] {
    var pieces: [ArraySlice<UInt8>] = []
    var start = 0
    while start < bytes.count {
        let length = Int.random(in: 0...min(bytes.count - start, 300), using: &rng)
        pieces.append(bytes[start..<(start + length)])
        start += length
    }
    return pieces
}

extension Array where Element == UInt8 {
    /// The bytes of an ASCII / UTF-8 string literal.
    init(utf8 text: String) { self = Array(text.utf8) }
}
