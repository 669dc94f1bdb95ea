// swift-tools-version:6.1
import PackageDescription

/// mediagate — an S3-compatible storage gateway for media.
///
/// Dependency direction (arrow = depends on), see README "Architecture":
///   mediagate (CLI, config, wiring) ─► S3Facade ─► Policy ─► GatewayCore
///                                      S3Facade ─► SigV4, S3XML, Storage, PolicyStore, VariantEngine
///   mediagate ─► DiskStorage, UpstreamStorage, SQLiteMetadata, PostgresMetadata (implementations of Storage's and PolicyStore's protocols)
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "mediagate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mediagate", targets: ["mediagate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure building blocks: no I/O.
        .target(
            name: "GatewayCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SigV4",
            dependencies: ["GatewayCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Integrity",
            dependencies: ["CISAL", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // ISA-L's CRC-32 and CRC-32C (bench/PROFILE.md, session 19).
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .target(name: "S3XML", swiftSettings: swiftSettings),
        .target(name: "Policy", dependencies: ["GatewayCore"], swiftSettings: swiftSettings),

        // Tenants, consents and share links: the records policy reads (protocol + in-memory).
        .target(name: "PolicyStore", dependencies: ["Policy", "GatewayCore"], swiftSettings: swiftSettings),

        // Storage vocabulary (protocols) and implementations.
        .target(
            name: "Storage",
            dependencies: ["Integrity", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Linux calls Swift cannot make (cachestat has no glibc wrapper; syscall(2) is variadic).
        .target(name: "CFileShim"),
        .target(
            name: "DiskStorage",
            dependencies: [
                "Storage", "GatewayCore", "CFileShim",
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSQLiteShim", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "SQLiteMetadata",
            dependencies: [
                "Storage", "PolicyStore", "Policy", "GatewayCore", "CSQLiteShim",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresMetadata",
            dependencies: [
                "Storage", "PolicyStore", "Policy", "GatewayCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Object bytes in an upstream S3-compatible store (R2), signed with the project's SigV4 signer.
        .target(
            name: "UpstreamStorage",
            dependencies: [
                "Storage", "SigV4", "S3XML", "GatewayCore", "Integrity",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libvips: a system library and a small C target of fixed-arity wrappers; only
        // VariantEngine imports them.
        .systemLibrary(name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),
        .target(name: "CVipsShim", dependencies: ["CVips"]),
        .target(
            name: "VariantEngine",
            dependencies: [
                "CVipsShim", "GatewayCore", "Storage", "Integrity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // HTTP: the only module that knows HTTP.
        .target(
            name: "S3Facade",
            dependencies: [
                "GatewayCore", "SigV4", "S3XML", "Integrity", "Policy", "PolicyStore", "Storage", "VariantEngine",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),

        // The executable: CLI, configuration and wiring.
        .executableTarget(
            name: "mediagate",
            dependencies: [
                "S3Facade", "DiskStorage", "SQLiteMetadata", "SigV4", "GatewayCore", "Storage", "Policy", "PolicyStore",
                "VariantEngine", "PostgresMetadata", "UpstreamStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // A real PostgreSQL server for tests (Debian's postgresql, started in a temp dir).
        .target(name: "PostgresTestSupport", path: "Tests/PostgresTestSupport", swiftSettings: swiftSettings),
        // Files' pages held in memory for tests that expect a store to hand a file over.
        .target(name: "FileTestSupport", path: "Tests/FileTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore"], swiftSettings: swiftSettings),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "GatewayCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PolicyStoreTests", dependencies: ["PolicyStore", "Policy", "SQLiteMetadata", "PostgresMetadata", "PostgresTestSupport", "Storage"],
            swiftSettings: swiftSettings),
        .testTarget(name: "IntegrityTests", dependencies: ["Integrity"], swiftSettings: swiftSettings),
        .testTarget(
            name: "VariantEngineTests",
            dependencies: ["VariantEngine", "Storage", "Integrity", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings),
        .testTarget(name: "S3XMLTests", dependencies: ["S3XML"], swiftSettings: swiftSettings),
        .testTarget(
            name: "UpstreamStorageTests",
            dependencies: [
                "UpstreamStorage", "Storage", "SigV4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "DiskStorage", "SQLiteMetadata", "PostgresMetadata", "PostgresTestSupport", "FileTestSupport", "GatewayCore",
                "Integrity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "S3FacadeTests",
            dependencies: [
                "S3Facade", "SigV4", "Storage", "Integrity", "DiskStorage", "SQLiteMetadata", "Policy", "PolicyStore", "VariantEngine",
                "FileTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
