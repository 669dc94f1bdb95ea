#if canImport(Glibc)
import Glibc
#endif
import PostgresTestSupport
import Testing

/// The harness that starts the test PostgreSQL server.
@Suite("PostgresTestServer")
struct PostgresHarnessTests {
    /// A tool the harness starts (`pg_ctl start` leaves the server running until the end of the
    /// run) inherits no descriptor but the standard ones, not even one that is not marked
    /// close-on-exec, as NIO's accepted sockets are not: a connection a live test server closes
    /// must not stay open in the PostgreSQL server.
    @Test func toolsInheritOnlyTheStandardDescriptors() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor > 2)
        defer { close(descriptor) }
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC == 0)
        // Exits 0 only when the shell has no such descriptor.
        #expect(throws: Never.self) {
            try PostgresTestServer.run("/bin/sh", ["-c", "test ! -e /proc/self/fd/\(descriptor)"])
        }
    }
}
