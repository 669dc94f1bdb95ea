"""Virtual-host style (`--domain localhost`: BUCKET.localhost) next to path style on the same server."""
import requests

from s3util import key_path, uri_encode, xml_text


def vraw(server, bucket):
    raw = server.raw()
    raw.host = f"{bucket}.{server.hostport}"
    return raw


def test_virtual_host_raw_requests(vhost_server, make_bucket):
    client = vhost_server.client(addressing="path")
    bucket = make_bucket(client)
    raw = vraw(vhost_server, bucket)
    key = "v/\u00e9 key+1"
    resp = raw.request("PUT", "/" + uri_encode(key, encode_slash=False), body=b"virtual")
    assert resp.status == 200, resp
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"virtual"
    resp = raw.request("GET", "/", query=[("list-type", "2")])
    assert resp.status == 200, resp
    assert xml_text(resp.body, "Name") == [bucket]
    assert xml_text(resp.body, "Contents/Key") == [key]
    resp = raw.request("HEAD", "/")
    assert resp.status == 200, resp


def test_path_style_still_works_with_domain(vhost_server, make_bucket):
    path_client = vhost_server.client(addressing="path")
    bucket = make_bucket(path_client)
    path_client.put_object(Bucket=bucket, Key="p", Body=b"path style")
    virtual_client = vhost_server.client(addressing="virtual")
    assert virtual_client.get_object(Bucket=bucket, Key="p")["Body"].read() == b"path style"
    raw = vhost_server.raw()  # Host: localhost:PORT
    resp = raw.request("GET", "/")
    assert resp.status == 200 and bucket in xml_text(resp.body, "Buckets/Bucket/Name"), resp
    raw.host = f"127.0.0.1:{vhost_server.port}"  # an IP is never a bucket
    resp = raw.request("GET", key_path(bucket, "p"))
    assert resp.status == 200 and resp.body == b"path style", resp


def test_virtual_host_presigned(vhost_server, make_bucket):
    client = vhost_server.client(addressing="virtual")
    bucket = make_bucket(client)
    url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    assert f"//{bucket}.localhost:" in url
    assert requests.put(url, data=b"presigned virtual", timeout=30).status_code == 200
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned virtual"
