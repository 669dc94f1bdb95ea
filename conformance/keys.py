"""Object keys that exercise encoding, normalisation and ordering.

No key starts with `photos/` or `selfies/` and no last segment is `original.<ext>` or a variant
name: those carry policy rules and image variants (SPEC §4, §6) that this suite does not test.
"""

KEY_1024 = "k" * 1021 + "\u65e5"  # 1021 + 3 bytes = 1024 bytes of UTF-8
KEY_1025 = "k" * 1022 + "\u65e5"

WEIRD_KEYS = {
    "plain": "plain.txt",
    "spaces": "with space/and more spaces.txt",
    "plus": "plus+sign+key",
    "percent": "percent%20literal%2Fnot-a-slash",
    "question": "question?mark=1&x",
    "hash": "hash#fragment",
    "amp-semicolon": "amp&equals=semi;colon,comma:colon",
    "accents": "caf\u00e9/r\u00e9sum\u00e9.txt",
    "decomposed": "cafe\u0301/re\u0301sume\u0301.txt",
    "japanese": "\u65e5\u672c/\u8a9e.txt",
    "emoji": "emoji-\U0001F600\U0001F680/x",
    "dotdot-middle": "dots/../parent",
    "dotdot-leading": "../leading-dots",
    "dot-segment": "a/./b",
    "double-slash": "double//slash",
    "leading-slash": "/leading-slash",
    "trailing-slash": "dir-marker/",
    "quotes": "quote'double\"",
    "xml-specials": "lt<gt>amp&apos'quot\"",
    "punctuation": "brackets[]{}^`|\\!$()*@",
    "tilde": "tilde~and-under_score",
    "tab": "tab\tkey",
    "1024-bytes": KEY_1024,
}

# Keys SeaweedFS (the upstream stand-in under CONFORMANCE_STORAGE=s3) stores as a directory tree and
# so refuses or rewrites (SEAWEEDFS_NOTES.md): `.`/`..` segments, `//`, a leading or trailing `/`, a
# backslash, a segment over 255 bytes.
SEAWEEDFS_UNSTORABLE = {"dotdot-middle", "dotdot-leading", "dot-segment", "double-slash", "leading-slash",
                        "trailing-slash", "punctuation", "1024-bytes"}

# Keys whose UTF-8 byte order differs from UTF-16 order, from case-insensitive order and from
# Unicode-normalised comparison (precomposed é vs e + combining acute are different keys).
ORDER_KEYS = [
    "a", "a/", "a/b", "a/c/d", "a0", "a-", "a b", "a+b", "a%b", "a.b", "B", "Z", "_", "~",
    "\u00e9", "e\u0301", "\u65e5\u672c", "\uff21", "\U0001F600", "\u007f-del",
]


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))
