#!/usr/bin/env python3
"""Writes the seed corpus for the `request` fuzz target: a few valid DNS queries for the default
zone (ports.local) and some near misses, so the fuzzer starts from inputs that reach deep into
the request path. Run from anywhere; rewrites fuzz/corpus/request/seed-* in place."""

import pathlib
import struct

ZONE = "ports.local"
TYPE_TXT, TYPE_SOA, TYPE_NS, TYPE_OPT, TYPE_ANY = 16, 6, 2, 41, 255
CLASS_IN, CLASS_CH = 1, 3


def header(query_id, questions=1, additionals=0, flags=0x0100):
    """12-byte header; default flags: standard query with RD set."""
    return struct.pack("!HHHHHH", query_id, flags, questions, 0, 0, additionals)


def name(text):
    wire = b""
    for label in text.split("."):
        wire += bytes([len(label)]) + label.encode()
    return wire + b"\0"


def question(text, rtype=TYPE_TXT, rclass=CLASS_IN):
    return name(text) + struct.pack("!HH", rtype, rclass)


def opt(udp_size=1232, version=0, do_bit=False, options=b""):
    """EDNS(0) OPT pseudo-record for the additional section (RFC 6891)."""
    ttl = (version << 16) | (0x8000 if do_bit else 0)
    return b"\0" + struct.pack("!HHIH", TYPE_OPT, udp_size, ttl, len(options)) + options


def cookie_option(client_cookie):
    return struct.pack("!HH", 10, len(client_cookie)) + client_cookie


def seeds():
    port_query = header(0x1234) + question(f"443.tcp.{ZONE}")
    yield "txt-port", port_query
    yield "txt-port-edns", header(0x2345, additionals=1) + question(f"53.udp.{ZONE}") + opt()
    yield "txt-port-edns-do-cookie", (
        header(0x3456, additionals=1)
        + question(f"22.{ZONE}")
        + opt(udp_size=4096, do_bit=True, options=cookie_option(b"\x01\x02\x03\x04\x05\x06\x07\x08"))
    )
    yield "txt-service-mixed-case", header(0x4567) + question(f"hTTpS.TcP.{ZONE.upper()}")
    yield "txt-range", header(0x5678) + question(f"6881.tcp.{ZONE}")
    yield "soa-apex", header(0x6789) + question(ZONE, TYPE_SOA)
    yield "ns-apex-edns", header(0x789A, additionals=1) + question(ZONE, TYPE_NS) + opt(512)
    yield "any-chaos", header(0x89AB) + question(f"443.tcp.{ZONE}", TYPE_ANY, CLASS_CH)
    yield "edns-version-1", header(0x9ABC, additionals=1) + question(f"80.tcp.{ZONE}") + opt(version=1)
    yield "truncated-question", port_query[: len(port_query) - 7]
    yield "header-only", header(0xABCD, questions=0)


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "request"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("seed-*"):
        old.unlink()
    for label, packet in seeds():
        (out / f"seed-{label}").write_bytes(packet)


if __name__ == "__main__":
    main()
