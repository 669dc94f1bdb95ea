import Foundation
import Logging
import PostgresNIO

/// The gateway's PostgreSQL database, shared by several gateway instances: a pooled
/// `PostgresClient` and the schema migrations every store registers.
///
/// - Important: ``run()`` must be running (a service, or a task) while the database is used.
public final class PostgresDatabase: Sendable {
    /// The connection pool.
    public let client: PostgresClient
    let logger: Logger

    /// Creates a client for a `postgres://user:password@host:port/database` URL.
    /// - Throws: ``PostgresURLError`` for a URL that is not of that form.
    public init(url: String, logger: Logger = Logger(label: "mediagate.postgres")) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, let user = components.user
        else { throw PostgresURLError(description: "metadata URL must be postgres://user:password@host:port/database") }
        let database = components.path.split(separator: "/").first.map(String.init)
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding, database: database, tls: .disable)
        configuration.options.maximumConnections = 16
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    /// Runs `body` in a transaction (committed when it returns, rolled back when it throws). The
    /// body's own error comes out as it is, not wrapped in `PostgresTransactionError`.
    /// - Throws: what `body` throws; PostgreSQL errors.
    public func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    /// Applies the migrations not applied yet, in order, each in its own transaction. Several
    /// instances may start at once: an advisory lock makes them take turns.
    /// - Throws: PostgreSQL errors.
    public func migrate(_ migrations: [(id: String, sql: [String])]) async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(7310273)", logger: logger)
            do {
                try await connection.query("CREATE TABLE IF NOT EXISTS mediagate_migrations (id TEXT PRIMARY KEY)", logger: logger)
                for migration in migrations {
                    let rows = try await connection.query("SELECT 1 FROM mediagate_migrations WHERE id = \(migration.id)", logger: logger)
                    var applied = false
                    for try await _ in rows { applied = true }
                    if applied { continue }
                    try await connection.withTransaction(logger: logger) { transaction in
                        for statement in migration.sql {
                            try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                        }
                        try await transaction.query("INSERT INTO mediagate_migrations (id) VALUES (\(migration.id))", logger: self.logger)
                    }
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(7310273)", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(7310273)", logger: logger)
        }
    }
}

/// A metadata URL that is not a PostgreSQL URL.
public struct PostgresURLError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
