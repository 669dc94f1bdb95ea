import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Policy
import S3XML
import Storage

extension S3Gateway {
    func listBuckets(_ call: Call, _ grant: Grant) async throws -> Response {
        var buckets = try await store.listBuckets()
        if case .tenant(let tenant) = call.principal, !tenant.buckets.isEmpty {
            buckets = buckets.filter { tenant.buckets.contains($0.name) }
        }
        var xml = XMLWriter()
        xml.open("ListAllMyBucketsResult", attributes: s3Namespace)
        xml.open("Owner")
        xml.element("ID", ownerID(call.principal))
        xml.element("DisplayName", ownerName(call.principal))
        xml.close("Owner")
        xml.open("Buckets")
        for bucket in buckets {
            xml.open("Bucket")
            xml.element("Name", bucket.name)
            xml.element("CreationDate", HTTPDate.iso8601(bucket.creationDate))
            xml.close("Bucket")
        }
        xml.close("Buckets")
        xml.close("ListAllMyBucketsResult")
        return Self.xml(xml)
    }

    func createBucket(_ call: Call, _ grant: Grant) async throws -> Response {
        guard case .createBucket(let bucket) = call.operation else { throw S3Error(.internalError, "routing") }
        guard BucketName.isValid(bucket) else {
            throw S3Error(.invalidBucketName, "The specified bucket is not valid.", details: [("BucketName", bucket)])
        }
        let body = try await Self.collectBody(call, limit: 64 * 1024)
        if !body.isEmpty {
            let document = try CreateBucketConfigurationDocument(parsing: body)
            if let location = document.locationConstraint, !location.isEmpty, location != configuration.region {
                throw S3Error(.invalidArgument, "The specified location-constraint is not valid for this endpoint (region \(configuration.region)).")
            }
        }
        try await store.createBucket(bucket)
        var headers = HTTPFields()
        headers[.location] = "/\(bucket)"
        return Response(status: .ok, headers: headers)
    }

    func headBucket(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        guard try await store.bucket(bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        var headers = HTTPFields()
        headers[.amzBucketRegion] = configuration.region
        return Response(status: .ok, headers: headers)
    }

    func deleteBucket(_ call: Call, _ grant: Grant) async throws -> Response {
        try await store.deleteBucket(grant.resource.bucket ?? "")
        return Response(status: .noContent)
    }

    func getBucketLocation(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        guard try await store.bucket(bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        var xml = XMLWriter()
        // us-east-1 is reported as an empty constraint, as S3 does.
        if configuration.region == "us-east-1" {
            xml.emptyElement("LocationConstraint", attributes: s3Namespace)
        } else {
            xml.element("LocationConstraint", configuration.region)
        }
        return Self.xml(xml)
    }

    func getBucketVersioning(_ call: Call, _ grant: Grant) async throws -> Response {
        let bucket = grant.resource.bucket ?? ""
        guard try await store.bucket(bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        var xml = XMLWriter()
        xml.open("VersioningConfiguration", attributes: s3Namespace)
        xml.close("VersioningConfiguration")
        return Self.xml(xml)
    }

    func ownerID(_ principal: Principal) -> String {
        switch principal {
        case .root: "mediagate-root"
        case .tenant(let tenant): "tenant-\(tenant.name)"
        case .anonymous: "anonymous"
        }
    }

    func ownerName(_ principal: Principal) -> String {
        switch principal {
        case .root: "root"
        case .tenant(let tenant): tenant.name
        case .anonymous: "anonymous"
        }
    }
}
