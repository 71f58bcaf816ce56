"""Pure parts of the pipelining Redis client: URL parsing, command encoding, the connection handshake."""

from __future__ import annotations

import pytest

from neuroedge_runtime import respclient


def test_urls() -> None:
    plain = respclient.parse_url("redis://127.0.0.1:6380/2")
    assert (plain.host, plain.port, plain.db, plain.password, plain.tls) == (
        "127.0.0.1",
        6380,
        2,
        None,
        False,
    )
    auth = respclient.parse_url("rediss://default:p%40ss@cache.example:6379")
    assert (auth.username, auth.password, auth.db, auth.tls) == ("default", "p@ss", 0, True)
    assert respclient.parse_url("redis://:secret@h").password == "secret"
    with pytest.raises(ValueError, match="not a redis"):
        respclient.parse_url("http://h:6379")


def test_encoding() -> None:
    assert (
        respclient.encode(("SET", "k", b"\x00v", 12))
        == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00v\r\n$2\r\n12\r\n"
    )
    assert respclient.encode(("ECHO", "é")) == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"


def test_handshake() -> None:
    assert respclient.handshake(respclient.parse_url("redis://h")) == []
    assert respclient.handshake(respclient.parse_url("redis://:pw@h/3")) == [("AUTH", "pw"), ("SELECT", 3)]
    assert respclient.handshake(respclient.parse_url("redis://u:pw@h")) == [("AUTH", "u", "pw")]
