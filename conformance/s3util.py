"""Small, independent S3 helpers for the conformance suite.

A SigV4 signer of our own (header, presigned, and aws-chunked streaming with chunk and trailer
signatures), checksum functions, a raw HTTP client that sends exactly the bytes we ask for, and S3
error-XML parsing. Kept free of botocore so that a SigV4 mistake cannot hide on both sides.
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import http.client
import socket
import ssl
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

# --------------------------------------------------------------------------------------------
# Checksums


def _reflected_table(poly: int, width: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << width) - 1))
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)


def _crc_reflected(data: bytes, table: list[int], width: int) -> int:
    mask = (1 << width) - 1
    crc = mask
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc32_int(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def crc32c_int(data: bytes) -> int:
    try:
        from awscrt import checksums

        return checksums.crc32c(data)
    except ImportError:  # pragma: no cover - awscrt is a requirement
        return _crc_reflected(data, _CRC32C_TABLE, 32)


def crc64nvme_int(data: bytes) -> int:
    try:
        from awscrt import checksums

        return checksums.crc64nvme(data)
    except (ImportError, AttributeError):  # pragma: no cover
        return _crc_reflected(data, _CRC64NVME_TABLE, 64)


def crc32c_pure(data: bytes) -> int:
    return _crc_reflected(data, _CRC32C_TABLE, 32)


def crc64nvme_pure(data: bytes) -> int:
    return _crc_reflected(data, _CRC64NVME_TABLE, 64)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checksum_b64(algorithm: str, data: bytes) -> str:
    """Base64 of the big-endian digest, the form S3 uses in x-amz-checksum-* headers."""
    a = algorithm.lower()
    if a == "crc32":
        return b64(crc32_int(data).to_bytes(4, "big"))
    if a == "crc32c":
        return b64(crc32c_int(data).to_bytes(4, "big"))
    if a == "crc64nvme":
        return b64(crc64nvme_int(data).to_bytes(8, "big"))
    if a == "sha1":
        return b64(hashlib.sha1(data).digest())
    if a == "sha256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algorithm)


def md5_b64(data: bytes) -> str:
    return b64(hashlib.md5(data).digest())


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


# --------------------------------------------------------------------------------------------
# URI encoding (S3 flavour of RFC 3986)

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(value: str | bytes, encode_slash: bool = True) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    out = []
    for b in raw:
        if b in _UNRESERVED or (b == 0x2F and not encode_slash):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def key_path(bucket: str, key: str | bytes | None = None) -> str:
    """Path-style request path with the key encoded the way SDKs do (slashes kept)."""
    path = "/" + uri_encode(bucket)
    if key is not None:
        path += "/" + uri_encode(key, encode_slash=False)
    return path


def canonical_query(query: list[tuple[str, str]]) -> str:
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in pairs)


def wire_query(query: list[tuple[str, str]]) -> str:
    return "&".join(f"{uri_encode(k)}={uri_encode(v)}" if v is not None else uri_encode(k) for k, v in query)


# --------------------------------------------------------------------------------------------
# SigV4


def amz_date(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, msg: str | bytes) -> bytes:
    return hmac.new(key, msg.encode("utf-8") if isinstance(msg, str) else msg, hashlib.sha256).digest()


@dataclass
class Signer:
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    service: str = "s3"

    def signing_key(self, date: str) -> bytes:
        k = _hmac(("AWS4" + self.secret_key).encode(), date[:8])
        k = _hmac(k, self.region)
        k = _hmac(k, self.service)
        return _hmac(k, "aws4_request")

    def scope(self, date: str) -> str:
        return f"{date[:8]}/{self.region}/{self.service}/aws4_request"

    @staticmethod
    def canonical_request(method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                          signed: list[str], payload_hash: str) -> str:
        lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
        canon_headers = "".join(f"{h}:{lower[h]}\n" for h in signed)
        return "\n".join([method, path, canonical_query(query), canon_headers, ";".join(signed), payload_hash])

    def string_to_sign(self, date: str, canonical_request: str) -> str:
        return "\n".join([
            "AWS4-HMAC-SHA256", date, self.scope(date),
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ])

    def sign_headers(self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                     payload_hash: str, date: str | None = None) -> str:
        """Adds x-amz-date, x-amz-content-sha256 and Authorization to headers; returns the signature."""
        date = date or amz_date()
        headers["x-amz-date"] = date
        headers["x-amz-content-sha256"] = payload_hash
        signed = sorted({k.lower() for k in headers if k.lower() not in ("authorization", "expect", "user-agent",
                                                                              "content-length", "transfer-encoding")}
                        | {"host"})
        lower = {k.lower(): v for k, v in headers.items()}
        if "host" not in lower:
            raise ValueError("host header required")
        creq = self.canonical_request(method, path, query, lower, signed, payload_hash)
        sig = hmac.new(self.signing_key(date), self.string_to_sign(date, creq).encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{self.scope(date)}, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        return sig

    def presign(self, method: str, path: str, host: str, expires: int, date: str | None = None,
                query: list[tuple[str, str]] | None = None, extra_signed: dict[str, str] | None = None) -> str:
        """Returns path?query of a presigned URL (payload UNSIGNED-PAYLOAD)."""
        date = date or amz_date()
        hdrs = {"host": host}
        for k, v in (extra_signed or {}).items():
            hdrs[k.lower()] = v
        signed = sorted(hdrs)
        q = list(query or []) + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{self.access_key}/{self.scope(date)}"),
            ("X-Amz-Date", date),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", ";".join(signed)),
        ]
        creq = self.canonical_request(method, path, q, hdrs, signed, UNSIGNED)
        sig = hmac.new(self.signing_key(date), self.string_to_sign(date, creq).encode(), hashlib.sha256).hexdigest()
        q.append(("X-Amz-Signature", sig))
        return path + "?" + canonical_query(q)

    def chunk_signature(self, date: str, prev_sig: str, chunk: bytes) -> str:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, self.scope(date), prev_sig, EMPTY_SHA256,
                         hashlib.sha256(chunk).hexdigest()])
        return hmac.new(self.signing_key(date), sts.encode(), hashlib.sha256).hexdigest()

    def trailer_signature(self, date: str, prev_sig: str, canonical_trailers: bytes) -> str:
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", date, self.scope(date), prev_sig,
                         hashlib.sha256(canonical_trailers).hexdigest()])
        return hmac.new(self.signing_key(date), sts.encode(), hashlib.sha256).hexdigest()


def split_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or []


def signed_chunked_body(signer: Signer, date: str, seed_sig: str, chunks: list[bytes],
                        trailers: list[tuple[str, str]] | None = None,
                        tamper_chunk: int | None = None) -> bytes:
    """aws-chunked body for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].

    tamper_chunk: index of a chunk whose data is altered after signing (signature left as computed).
    """
    out = bytearray()
    prev = seed_sig
    for i, chunk in enumerate(list(chunks) + [b""]):
        sig = signer.chunk_signature(date, prev, chunk)
        prev = sig
        sent = chunk
        if tamper_chunk is not None and i == tamper_chunk and chunk:
            sent = bytes([chunk[0] ^ 0x01]) + chunk[1:]
        out += b"%x;chunk-signature=%s\r\n" % (len(sent), sig.encode())
        if chunk or trailers is None:
            out += sent + b"\r\n"
    if trailers is not None:
        canon = b"".join(f"{k.lower()}:{v}\n".encode() for k, v in trailers)
        tsig = signer.trailer_signature(date, prev, canon)
        for k, v in trailers:
            out += f"{k.lower()}:{v}\r\n".encode()
        out += f"x-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    return bytes(out)


def unsigned_chunked_body(chunks: list[bytes], trailers: list[tuple[str, str]]) -> bytes:
    """aws-chunked body for STREAMING-UNSIGNED-PAYLOAD-TRAILER (the form SDKs send)."""
    out = bytearray()
    for chunk in chunks:
        out += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    out += b"0\r\n"
    for k, v in trailers:
        out += f"{k.lower()}:{v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Raw HTTP


@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str, default=None):
        return self.headers.get(name, default)

    @property
    def error(self) -> dict[str, str]:
        return parse_error(self.body)

    def __repr__(self) -> str:  # shows up in assertion messages
        if self.body[:1] == b"<" or not self.body:
            body = repr(self.body[:600].decode("utf-8", "replace"))
        else:
            body = f"<{len(self.body)} bytes>"
        return f"<HTTP {self.status} {self.reason} {dict(self.headers.items())} {body}>"


def parse_error(body: bytes) -> dict[str, str]:
    """Fields of an S3 <Error> document ({} when the body is not one)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    if _local(root.tag) != "Error":
        return {}
    return {_local(c.tag): (c.text or "") for c in root}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_find_all(body: bytes, path: str) -> list[ET.Element]:
    """Namespace-agnostic findall: path like 'Contents/Key'."""
    root = ET.fromstring(body)
    nodes = [root]
    for part in path.split("/"):
        nodes = [c for n in nodes for c in n if _local(c.tag) == part]
    return nodes


def xml_text(body: bytes, path: str) -> list[str]:
    return [n.text or "" for n in xml_find_all(body, path)]


@dataclass
class RawClient:
    """Sends exactly the request it is given, signed with our own signer unless told otherwise."""

    host: str  # as sent in the Host header, e.g. 127.0.0.1:9000
    port: int
    signer: Signer
    tls: bool = False
    ca_file: str | None = None
    connect_host: str = "127.0.0.1"
    timeout: float = 60.0
    default_headers: dict = field(default_factory=dict)

    def connection(self) -> http.client.HTTPConnection:
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            ctx.check_hostname = False
            return http.client.HTTPSConnection(self.connect_host, self.port, timeout=self.timeout, context=ctx)
        return http.client.HTTPConnection(self.connect_host, self.port, timeout=self.timeout)

    def request(self, method: str, path: str, query: list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None, body: bytes = b"", sign: bool = True,
                payload_hash: str | None = None, date: str | None = None,
                raw_target: str | None = None) -> Response:
        """payload_hash: None → sha256 of body; or UNSIGNED-PAYLOAD / STREAMING-* / any string."""
        query = list(query or [])
        hdrs = {"host": self.host}
        hdrs.update(self.default_headers)
        hdrs.update(headers or {})
        if sign:
            ph = payload_hash if payload_hash is not None else hashlib.sha256(body).hexdigest()
            self.signer.sign_headers(method, path, query, hdrs, ph, date=date)
        target = raw_target or (path + ("?" + wire_query(query) if query else ""))
        return self.send(method, target, hdrs, body)

    def send(self, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> Response:
        conn = self.connection()
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            if body or method in ("PUT", "POST"):
                if not any(k.lower() in ("content-length", "transfer-encoding") for k in headers):
                    conn.putheader("Content-Length", str(len(body)))
            try:
                conn.endheaders()
                if body:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early and closed; its answer may still be readable
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.reason, resp.headers, data)
        finally:
            conn.close()

    def presigned(self, method: str, path: str, expires: int, date: str | None = None,
                  query: list[tuple[str, str]] | None = None, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> Response:
        target = self.signer.presign(method, path, self.host, expires, date=date, query=query)
        hdrs = {"host": self.host}
        hdrs.update(headers or {})
        return self.send(method, target, hdrs, body)


def open_socket(host: str, port: int, tls: bool, ca_file: str | None, timeout: float = 10.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context(cafile=ca_file)
        ctx.check_hostname = False
        sock = ctx.wrap_socket(sock)
    return sock


def b64decode_ok(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def url_decode(value: str) -> str:
    return urllib.parse.unquote(value)
