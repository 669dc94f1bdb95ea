"""Truncated uploads: a client that declares N bytes, sends fewer and disconnects never leaves a
partial object visible, never damages the previous version, leaves no temp files behind, and the
server keeps serving."""
import socket
import time
import urllib.parse

import pytest

pytestmark = pytest.mark.mediagate_only


def _tmp_files(server) -> list:
    """The store's temp files: the disk store's temp dir, or the upstream store's staging dir."""
    if server.upstream is not None:
        tmp = server.data_dir / "upstream-staging"
    else:
        tmp = server.data_dir / "objects" / "tmp"
    assert tmp.is_dir(), f"the store's temp dir moved: {tmp} (update this test)"
    return sorted(p.name for p in tmp.iterdir())


@pytest.mark.parametrize("sent", [0, 1, 65_536, 3 * 1024 * 1024])
def test_disconnect_mid_upload_keeps_previous_version(http_server, s3, bucket, sent):
    s3.put_object(Bucket=bucket, Key="t/obj", Body=b"previous version")
    declared = 8 * 1024 * 1024
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "t/obj"}, ExpiresIn=300)
    parts = urllib.parse.urlsplit(url)
    head = (f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", http_server.port), timeout=10) as sock:
        sock.sendall(head)
        remaining = sent
        chunk = b"x" * 65_536
        while remaining > 0:
            n = min(len(chunk), remaining)
            sock.sendall(chunk[:n])
            remaining -= n
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        try:
            sock.recv(4096)  # whatever the server answers (or a reset) before it closes
        except (ConnectionResetError, socket.timeout):
            pass

    # The previous version is intact and still the one listed; nothing partial is visible.
    assert s3.get_object(Bucket=bucket, Key="t/obj")["Body"].read() == b"previous version"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="t/")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("t/obj", len(b"previous version"))]

    # The abandoned temp file is removed (the upload task ends when the connection does).
    deadline = time.monotonic() + 10
    while _tmp_files(http_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tmp_files(http_server) == []

    # And the server keeps serving.
    s3.put_object(Bucket=bucket, Key="t/after", Body=b"still serving")
    assert s3.get_object(Bucket=bucket, Key="t/after")["Body"].read() == b"still serving"
