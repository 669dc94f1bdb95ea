"""`--metadata postgres://…` (SPEC §2, §7): object metadata, tenants, consents and media info in a
real PostgreSQL server, with object bytes on disk. The same S3 behaviour as with SQLite, admin
commands on the same database act on the running server, and a kill -9 loses nothing."""
from __future__ import annotations

import concurrent.futures
import shutil

import pytest
from botocore.exceptions import ClientError

from pgserver import PostgresServer
from tenants import cli, corpus, uid

pytestmark = [pytest.mark.mediagate_only, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_gateway(pool, postgres):
    server = pool.private(f"pg-{uid(6)}")
    url = postgres.database()
    base_environment = server.environment
    server.environment = lambda: {**base_environment(), "MEDIAGATE_METADATA": url}
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.sandbox, ignore_errors=True)


def test_objects_listing_multipart_and_restart(pg_gateway):
    s3 = pg_gateway.client()
    bucket = f"pg-{uid()}"
    s3.create_bucket(Bucket=bucket)
    for i in range(25):
        s3.put_object(Bucket=bucket, Key=f"dir/k{i:02d}", Body=f"v{i}".encode())
    page = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", MaxKeys=10)
    assert [o["Key"] for o in page["Contents"]] == [f"dir/k{i:02d}" for i in range(10)]
    assert page["IsTruncated"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = []
    for n, chunk in enumerate([b"a" * (5 * 1024 * 1024), b"b" * 1000], start=1):
        etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=n, Body=chunk)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
    s3.delete_object(Bucket=bucket, Key="dir/k00")

    pg_gateway.kill9()
    pg_gateway.restart()
    s3 = pg_gateway.client()
    assert s3.get_object(Bucket=bucket, Key="dir/k24")["Body"].read() == b"v24"
    assert len(s3.get_object(Bucket=bucket, Key="big")["Body"].read()) == 5 * 1024 * 1024 + 1000
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/k00")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_if_none_match_race_has_one_winner(pg_gateway):
    s3 = pg_gateway.client(max_pool_connections=16)
    bucket = f"pg-{uid()}"
    s3.create_bucket(Bucket=bucket)

    def attempt(i):
        try:
            s3.put_object(Bucket=bucket, Key="once", Body=f"w{i}".encode(), IfNoneMatch="*")
            return True
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (409, 412), error.response
            return False

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(attempt, range(8)))
    assert results.count(True) == 1


def test_admin_commands_act_on_the_running_server(pg_gateway):
    import boto3
    from botocore.config import Config

    s3 = pg_gateway.client()
    bucket = f"pg-{uid()}"
    s3.create_bucket(Bucket=bucket)
    name = f"acme-{uid(6)}"
    out = cli(pg_gateway, "tenant", "add", name, "--prefix", f"{name}/", "--json").stdout
    import json
    creds = json.loads(out)
    tenant = boto3.client("s3", endpoint_url=pg_gateway.endpoint, aws_access_key_id=creds["accessKeyId"],
                          aws_secret_access_key=creds["secretAccessKey"], region_name="us-east-1",
                          config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}))
    selfie = f"{name}/selfies/u1/a.jpg"
    jpeg = corpus("gray.jpg")
    with pytest.raises(ClientError) as e:
        tenant.put_object(Bucket=bucket, Key=selfie, Body=jpeg, ContentType="image/jpeg")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    cli(pg_gateway, "consent", "grant", "u1", "biometric_processing", "--tenant", name)
    tenant.put_object(Bucket=bucket, Key=selfie, Body=jpeg, ContentType="image/jpeg")
    cli(pg_gateway, "consent", "revoke", "u1", "biometric_processing", "--tenant", name)
    with pytest.raises(ClientError) as e:
        tenant.get_object(Bucket=bucket, Key=selfie)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    cli(pg_gateway, "tenant", "remove", name)
    with pytest.raises(ClientError) as e:
        tenant.list_objects_v2(Bucket=bucket, Prefix=f"{name}/")
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_variants_and_media_info(pg_gateway):
    import json
    import urllib.request

    s3 = pg_gateway.client()
    bucket = f"pg-{uid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="p/original.jpg", Body=corpus("exif-gps.jpg"), ContentType="image/jpeg")
    thumb = s3.get_object(Bucket=bucket, Key="p/thumb-400.jpg")
    assert thumb["ContentType"] == "image/jpeg" and thumb["Body"].read()[:3] == b"\xff\xd8\xff"
    request = urllib.request.Request(f"{pg_gateway.endpoint}/_mediagate/v1/media/{bucket}/p/original.jpg",
                                     headers={"Authorization": f"Bearer {pg_gateway.creds.admin_token}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        info = json.loads(r.read())
    assert (info["width"], info["height"]) == (1024, 768)
    assert abs(info["gpsLat"] - 43.1972) < 1e-3 and abs(info["gpsLng"] + 4.8156) < 1e-3
