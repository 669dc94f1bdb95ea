import Foundation
import GatewayCore
import Testing

@testable import Policy

struct AccessPolicyTests {
    static let acme = Principal.tenant(TenantIdentity(name: "acme", accessKeyID: "AK1", prefix: "acme/", buckets: ["media"]))
    static let root = Principal.root(accessKeyID: "ROOT")

    struct Row: Sendable, CustomTestStringConvertible {
        var principal: Principal
        var action: Action
        var bucket: String?
        var key: String?
        var allowed: Bool
        var testDescription: String { "\(principal.accessKeyID ?? "anon") \(action) \(bucket ?? "-")/\(key ?? "-") → \(allowed)" }
    }

    static let table: [Row] = [
        Row(principal: root, action: .createBucket, bucket: "media", allowed: true),
        Row(principal: root, action: .readObject, bucket: "media", key: "bolt/x", allowed: true),
        Row(principal: .anonymous, action: .readObject, bucket: "media", key: "acme/x", allowed: false),
        Row(principal: .anonymous, action: .listBuckets, allowed: false),
        Row(principal: acme, action: .createBucket, bucket: "media", allowed: false),
        Row(principal: acme, action: .deleteBucket, bucket: "media", allowed: false),
        Row(principal: acme, action: .listBuckets, allowed: true),
        Row(principal: acme, action: .readObject, bucket: "media", key: "acme/a.jpg", allowed: true),
        Row(principal: acme, action: .writeObject, bucket: "media", key: "acme/a.jpg", allowed: true),
        Row(principal: acme, action: .readObject, bucket: "media", key: "bolt/a.jpg", allowed: false),
        Row(principal: acme, action: .readObject, bucket: "media", key: "acme", allowed: false),
        Row(principal: acme, action: .readObject, bucket: "other", key: "acme/a.jpg", allowed: false),
        Row(principal: acme, action: .listObjects, bucket: "media", key: "acm", allowed: false),
        Row(principal: acme, action: .listObjects, bucket: "media", key: "", allowed: false),
        Row(principal: acme, action: .listObjects, bucket: "media", key: "acme/", allowed: true),
        Row(principal: acme, action: .readBucket, bucket: "media", allowed: true),
        // Canonically equivalent but different bytes: "é" precomposed vs decomposed.
        Row(principal: .tenant(TenantIdentity(name: "e", accessKeyID: "AK2", prefix: "\u{E9}/", buckets: [])), action: .readObject, bucket: "m", key: "e\u{301}/x", allowed: false),
    ]

    @Test(arguments: table)
    func decides(_ row: Row) {
        let result = Result { try AccessPolicy().authorize(row.principal, row.action, Resource(bucket: row.bucket, key: row.key), facts: RequestFacts(now: Date())) }
        switch result {
        case .success(let grant):
            #expect(row.allowed)
            #expect(grant.action == row.action)
            #expect(grant.principal == row.principal)
        case .failure(let error):
            #expect(!row.allowed, "denied: \(error)")
        }
    }
}
