import ArgumentParser
import Foundation
import Logging
import PolicyStore

/// `mediagate tenant add|list|remove|rotate-key`.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants (works while a server runs).",
        subcommands: [Add.self, List.self, Remove.self, RotateKey.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Create a tenant and print its ACCESS_KEY SECRET_KEY.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Tenant name (a-z, 0-9, '-', '_').") var name: String
        @Option(name: .customLong("prefix"), help: "Key prefix every key of the tenant starts with, e.g. acme/") var prefix: String
        @Option(name: .customLong("bucket"), help: "A bucket the tenant may use (repeat; none: any bucket).") var buckets: [String] = []
        @Flag(name: .customLong("json"), help: "Print JSON.") var json = false

        func run() async throws {
            let (store, _) = try await StorageFactory.openPolicyStore(settings: try common.settings())
            let now = Date()
            let key = AccessKeyRecord.generate(tenant: name, now: now)
            do {
                try await store.addTenant(TenantRecord(name: name, prefix: prefix, buckets: buckets, createdAt: now), key: key)
            } catch let error as PolicyStoreError {
                throw CommandFailure(error.message)
            }
            printKey(key, name: name, prefix: prefix, buckets: buckets, json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List tenants: NAME PREFIX BUCKETS ACCESS_KEYS.")
        @OptionGroup var common: CommonOptions
        @Flag(name: .customLong("json"), help: "Print JSON.") var json = false

        func run() async throws {
            let (store, _) = try await StorageFactory.openPolicyStore(settings: try common.settings())
            var rows: [[String: Any]] = []
            for tenant in try await store.tenants() {
                let keys = try await store.accessKeyIDs(ofTenant: tenant.name)
                if json {
                    rows.append(["name": tenant.name, "prefix": tenant.prefix, "buckets": tenant.buckets, "accessKeyIds": keys])
                } else {
                    let buckets = tenant.buckets.isEmpty ? "*" : tenant.buckets.joined(separator: ",")
                    print("\(tenant.name) \(tenant.prefix) \(buckets) \(keys.joined(separator: ","))")
                }
            }
            if json { printJSON(rows) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a tenant; its keys stop working at once.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Tenant name.") var name: String

        func run() async throws {
            let (store, _) = try await StorageFactory.openPolicyStore(settings: try common.settings())
            guard try await store.removeTenant(named: name) else { throw CommandFailure("no tenant named \(name)") }
            print("removed tenant \(name)")
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key", abstract: "Replace a tenant's keys with a new pair and print it; the old key stops working.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Tenant name.") var name: String
        @Flag(name: .customLong("json"), help: "Print JSON.") var json = false

        func run() async throws {
            let (store, _) = try await StorageFactory.openPolicyStore(settings: try common.settings())
            guard let tenant = try await store.tenants().first(where: { $0.name == name }) else {
                throw CommandFailure("no tenant named \(name)")
            }
            let key = AccessKeyRecord.generate(tenant: name, now: Date())
            try await store.replaceKeys(ofTenant: name, with: key)
            printKey(key, name: name, prefix: tenant.prefix, buckets: tenant.buckets, json: json)
        }
    }

    /// Creates the tenants a config file declares that do not exist yet.
    static func seed(_ tenants: [PolicyConfiguration.ConfiguredTenant], into store: any PolicyStore, logger: Logger) async throws {
        guard !tenants.isEmpty else { return }
        let existing = Set(try await store.tenants().map(\.name))
        for tenant in tenants where !existing.contains(tenant.name) {
            let now = Date()
            var key = AccessKeyRecord.generate(tenant: tenant.name, now: now)
            if let access = tenant.accessKey, let secret = tenant.secretKey {
                key = AccessKeyRecord(accessKeyID: access, secretAccessKey: secret, tenant: tenant.name, createdAt: now)
            }
            do {
                try await store.addTenant(TenantRecord(name: tenant.name, prefix: tenant.prefix, buckets: tenant.buckets, createdAt: now), key: key)
            } catch let error as PolicyStoreError {
                throw SettingsError("config tenant \(tenant.name): \(error.message)")
            }
            logger.info("created tenant from config", metadata: ["tenant": "\(tenant.name)", "access_key": "\(key.accessKeyID)"])
        }
    }
}

private func printKey(_ key: AccessKeyRecord, name: String, prefix: String, buckets: [String], json: Bool) {
    if json {
        printJSON(["name": name, "prefix": prefix, "buckets": buckets, "accessKeyId": key.accessKeyID, "secretAccessKey": key.secretAccessKey])
    } else {
        print("\(key.accessKeyID) \(key.secretAccessKey)")
    }
}

func printJSON(_ value: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
    print(String(decoding: data, as: UTF8.self))
}
