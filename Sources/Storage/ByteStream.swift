import NIOCore

/// A pull-based stream of byte buffers: each buffer is produced only when the consumer asks for
/// it, so a slow client never makes the server buffer a whole object.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    private let make: @Sendable () -> Iterator

    /// Creates a stream whose iterators come from `makeIterator`.
    public init(makeIterator: @escaping @Sendable () -> Iterator) {
        self.make = makeIterator
    }

    /// Wraps any sendable sequence of buffers.
    public init<S: AsyncSequence & Sendable>(_ base: S) where S.Element == ByteBuffer {
        self.make = {
            var iterator = base.makeAsyncIterator()
            return Iterator { try await iterator.next() }
        }
    }

    /// A stream of the given buffers.
    public static func buffers(_ buffers: [ByteBuffer]) -> ByteStream {
        ByteStream {
            var index = 0
            return Iterator {
                guard index < buffers.count else { return nil }
                defer { index += 1 }
                return buffers[index]
            }
        }
    }

    public func makeAsyncIterator() -> Iterator { make() }

    /// Pulls the next buffer; nil at the end.
    public struct Iterator: AsyncIteratorProtocol {
        private let pull: () async throws -> ByteBuffer?
        /// Creates an iterator from a pull function.
        public init(_ pull: @escaping () async throws -> ByteBuffer?) { self.pull = pull }
        public mutating func next() async throws -> ByteBuffer? { try await pull() }
    }
}
