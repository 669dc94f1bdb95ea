import Foundation

/// A real PostgreSQL server (Debian's `postgresql`) for the tests of this process: a fresh
/// cluster in a temp dir, on a free loopback port, started once and stopped at exit. Each test
/// gets a database of its own.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    /// The cluster's start, shared by every test that asks while it runs; a failed start is
    /// forgotten, so that the next test tries again.
    private var start: Task<Int, any Error>?

    /// A new, empty database; its URL.
    public func makeDatabaseURL() async throws -> String {
        let port = try await startedPort()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await Self.offPool {
            try Self.run(Self.binary("psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "mediagate", "-d", "postgres",
                                                "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"])
        }
        return "postgres://mediagate@127.0.0.1:\(port)/\(name)"
    }

    private func startedPort() async throws -> Int {
        let starting = start ?? Task { try await Self.offPool(Self.startCluster) }
        start = starting
        do {
            return try await starting.value
        } catch {
            if start == starting { start = nil }
            throw error
        }
    }

    /// Runs `work`, which blocks (it waits for child processes), on a thread of its own: on
    /// Swift's cooperative pool it would hold one of its few threads (two on this machine kind)
    /// for as long as `initdb` or `pg_ctl start` run, and stall the tests running beside it.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// Makes a cluster in a temp dir and starts it on a free loopback port; its port.
    private static func startCluster() throws -> Int {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-pg-\(UUID().uuidString)")
        let data = directory.appendingPathComponent("data").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        // initdb refuses root: run the server as `postgres`, which must own its folders.
        let asRoot = getuid() == 0
        let chosen = freePort()
        do {
            if asRoot { try run("/bin/chown", ["-R", "postgres:postgres", directory.path]) }
            try run(binary("initdb"), ["-D", data, "-A", "trust", "-U", "mediagate", "--no-sync", "-E", "UTF8"], asPostgres: asRoot)
            try run(binary("pg_ctl"), [
                "-D", data, "-l", directory.appendingPathComponent("log").path, "-w", "-t", "60",
                "-o", "-p \(chosen) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start",
            ], asPostgres: asRoot)
        } catch {
            // A start that timed out may have left the server running; nothing of this attempt stays.
            try? run(binary("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], asPostgres: asRoot)
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        PostgresCleanup.register(directory: directory.path, dataDirectory: data, asPostgres: asRoot,
                                 pgCtl: binary("pg_ctl"))
        return chosen
    }

    static func binary(_ name: String) -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root))?.sorted(by: >) ?? []
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/\(name)") {
            return "\(root)/\(version)/bin/\(name)"
        }
        return name
    }

    /// Runs a tool to its end. posix_spawn and waitpid, not Foundation's `Process`: `pg_ctl
    /// start` leaves a server running that inherits the descriptor `Process` watches for the
    /// child's exit, and `waitUntilExit()` would never return.
    ///
    /// The tool gets no descriptor of this process but its standard ones. NIO does not mark the
    /// sockets it accepts close-on-exec, so a server started here used to inherit the sockets of
    /// every connection the tests had open at that moment, and kept them until the end of the
    /// run: a connection a live server closed then stayed open for its client, with no FIN sent
    /// (the idle-timeout test saw closes minutes late, and none at all in clean-clone CI runs).
    public static func run(_ tool: String, _ arguments: [String], asPostgres: Bool = false) throws {
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments
            : [tool.hasPrefix("/") ? tool : "/usr/bin/\(tool)"] + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("mediagate-pg-out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard let closeFrom = Self.addCloseFrom, closeFrom(&actions, 3) == 0 else {
            throw PostgresHarnessError(description: "posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later)")
        }
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw PostgresHarnessError(description: "cannot start \(argv[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
        guard exited else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw PostgresHarnessError(description: "\(argv.joined(separator: " ")) failed (status \(status)): \(text)")
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: Glibc's Swift
    /// module leaves it out (it is declared only under `_GNU_SOURCE`).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct PostgresHarnessError: Error, CustomStringConvertible {
    let description: String
}

/// Stops the test cluster when the test process exits and deletes its folder (a cluster with
/// the tests' databases is several hundred megabytes).
enum PostgresCleanup {
    nonisolated(unsafe) static var command: [String] = []
    nonisolated(unsafe) static var directory = ""

    static func register(directory: String, dataDirectory: String, asPostgres: Bool, pgCtl: String) {
        let stop = [pgCtl, "-D", dataDirectory, "-m", "immediate", "-w", "stop"]
        command = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + stop : stop
        Self.directory = directory
        atexit {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PostgresCleanup.command[0])
            process.arguments = Array(PostgresCleanup.command.dropFirst())
            try? process.run()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: PostgresCleanup.directory)
        }
    }
}
