import Foundation
import PolicyStore

/// Root credentials and the admin token: from the environment, or generated on first start and
/// kept in the data dir (mode 0600). Secrets are never logged.
struct Secrets: Sendable {
    var rootAccessKey: String
    var rootSecretKey: String
    var adminToken: String
    /// Whether this start generated anything (the caller prints it once).
    var generated: Bool

    /// Loads or creates the secrets for a data dir.
    /// - Throws: when the data dir cannot be written or a stored file is damaged.
    static func load(dataDir: String, environment: [String: String]) throws -> Secrets {
        let directory = URL(fileURLWithPath: dataDir).appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var generated = false

        let access: String
        let secret: String
        if let envAccess = environment["MEDIAGATE_ROOT_ACCESS_KEY"], let envSecret = environment["MEDIAGATE_ROOT_SECRET_KEY"],
            !envAccess.isEmpty, !envSecret.isEmpty
        {
            access = envAccess
            secret = envSecret
        } else {
            let file = directory.appendingPathComponent("root-credentials")
            if let stored = try? String(contentsOf: file, encoding: .utf8) {
                let parts = stored.split(whereSeparator: \.isWhitespace)
                guard parts.count == 2 else { throw SettingsError("\(file.path) is damaged: expected 'ACCESS_KEY SECRET_KEY'") }
                access = String(parts[0])
                secret = String(parts[1])
            } else {
                access = RandomText.make(length: 20, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                secret = RandomText.make(length: 40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                try writePrivate("\(access) \(secret)\n", to: file)
                generated = true
            }
        }

        let token: String
        if let envToken = environment["MEDIAGATE_ADMIN_TOKEN"], !envToken.isEmpty {
            token = envToken
        } else {
            let file = directory.appendingPathComponent("admin-token")
            if let stored = try? String(contentsOf: file, encoding: .utf8), !stored.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                token = stored.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                token = RandomText.make(length: 43, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                try writePrivate(token + "\n", to: file)
                generated = true
            }
        }
        return Secrets(rootAccessKey: access, rootSecretKey: secret, adminToken: token, generated: generated)
    }

    private static func writePrivate(_ text: String, to file: URL) throws {
        let path = file.path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SettingsError("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw SettingsError("cannot write \(path)") }
    }
}
