import ArgumentParser
import Foundation
import Policy
import PolicyStore

/// `mediagate consent grant|revoke`.
struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent", abstract: "Record or revoke a subject's consent (effective on the next request).",
        subcommands: [Grant.self, Revoke.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant", abstract: "Record an active consent.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The subject (the {subject} of a rule, e.g. a user id).") var subject: String
        @Argument(help: "The purpose, e.g. biometric_processing.") var purpose: String
        @Option(name: .customLong("tenant"), help: "The tenant whose keys it covers (none: keys outside every tenant prefix).") var tenant: String?
        @Option(name: .customLong("until"), help: "End of the consent, RFC 3339 (e.g. 2027-01-01T00:00:00Z).") var until: String?

        func run() async throws {
            let store = try await ConsentCommand.open(common, tenant: tenant)
            var end: Date?
            if let until {
                let formatter = ISO8601DateFormatter()
                guard let parsed = formatter.date(from: until) else { throw ValidationError("--until must be RFC 3339, like 2027-01-01T00:00:00Z") }
                end = parsed
            }
            try await store.grantConsent(try ConsentCommand.key(subject, purpose, tenant), until: end, at: Date())
            print("granted \(purpose) for \(subject)\(tenant.map { " (tenant \($0))" } ?? "")\(until.map { " until \($0)" } ?? "")")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a consent.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The subject.") var subject: String
        @Argument(help: "The purpose.") var purpose: String
        @Option(name: .customLong("tenant"), help: "The tenant whose keys it covers.") var tenant: String?

        func run() async throws {
            let store = try await ConsentCommand.open(common, tenant: tenant)
            let removed = try await store.revokeConsent(try ConsentCommand.key(subject, purpose, tenant))
            print(removed ? "revoked \(purpose) for \(subject)" : "no consent \(purpose) for \(subject) was recorded")
        }
    }

    static func open(_ common: CommonOptions, tenant: String?) async throws -> any PolicyStore {
        let (store, _) = try await StorageFactory.openPolicyStore(settings: try common.settings())
        if let tenant, try await !store.tenants().contains(where: { $0.name == tenant }) {
            throw CommandFailure("no tenant named \(tenant)")
        }
        return store
    }

    static func key(_ subject: String, _ purpose: String, _ tenant: String?) throws -> ConsentKey {
        guard !subject.isEmpty, !purpose.isEmpty else { throw ValidationError("subject and purpose must not be empty") }
        return ConsentKey(tenant: tenant, subject: subject, purpose: purpose)
    }
}
