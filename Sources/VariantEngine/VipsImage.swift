import CVipsShim
import Foundation

/// libvips, started once per process (libvips itself is process-wide state).
enum Vips {
    /// Whether libvips started; the first use starts it.
    static let started: Bool = mg_vips_start() == 0

    /// Takes libvips' error text (process-global: read it right after the failure).
    static func takeError() -> String {
        var text = [CChar](repeating: 0, count: 1024)
        mg_vips_take_error(&text, text.count)
        let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// One libvips image reference, released when the value goes away.
final class VipsImage {
    let pointer: UnsafeMutableRawPointer

    init(_ pointer: UnsafeMutableRawPointer) {
        self.pointer = pointer
    }

    deinit { mg_vips_release(pointer) }

    var size: (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0
        mg_vips_size(pointer, &width, &height)
        return (Int(width), Int(height))
    }
}
