#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target, so the fuzzer starts from inputs that reach deep
into the code: valid DNS queries for the default zone (ports.local) and near misses; signed
queries, AXFR and IXFR requests, NOTIFY and valid DNS cookies for the guarded pipeline; the
heads of the real data files and a few broken lines for the file readers.

The guarded pipeline's TSIG key and cookie secret are drawn here, at random, on every run, and
written to fuzz/secrets/ (which the target reads); the seeds that depend on them (the
request_guarded and key_file corpora) are written beside them and never committed. Run from
anywhere; rewrites fuzz/corpus/*/seed-* in place, or writes corpus/ and secrets/ under the
directory given as the one argument (how the test suite replays fresh seeds)."""

import base64
import hashlib
import hmac
import pathlib
import secrets
import struct
import sys
import time

FUZZ = pathlib.Path(__file__).resolve().parent
REPO = FUZZ.parent

ZONE = "ports.local"
TYPE_TXT, TYPE_SOA, TYPE_NS, TYPE_OPT, TYPE_ANY = 16, 6, 2, 41, 255
TYPE_TSIG, TYPE_IXFR, TYPE_AXFR = 250, 251, 252
CLASS_IN, CLASS_CH, CLASS_ANY = 1, 3, 255
OPCODE_NOTIFY = 4
# The guarded target's client (portsd::fuzzing), which server cookies are made for.
CLIENT_ADDRESS = bytes([192, 0, 2, 1])


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


def request_seeds():
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


def mask64(value):
    return value & 0xFFFFFFFFFFFFFFFF


def rotate(value, bits):
    return mask64((value << bits) | (value >> (64 - bits)))


def siphash24(key, data):
    """SipHash-2-4 of `data` keyed with the 16-byte `key`, as a 64-bit number (RFC 9018's
    server cookie hash; checked against its appendix A.1 example in main)."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(count):
        for _ in range(count):
            v[0] = mask64(v[0] + v[1]); v[1] = rotate(v[1], 13) ^ v[0]; v[0] = rotate(v[0], 32)
            v[2] = mask64(v[2] + v[3]); v[3] = rotate(v[3], 16) ^ v[2]
            v[0] = mask64(v[0] + v[3]); v[3] = rotate(v[3], 21) ^ v[0]
            v[2] = mask64(v[2] + v[1]); v[1] = rotate(v[1], 17) ^ v[2]; v[2] = rotate(v[2], 32)

    tail = len(data) % 8
    words = [struct.unpack("<Q", data[i : i + 8])[0] for i in range(0, len(data) - tail, 8)]
    words.append((len(data) & 0xFF) << 56 | int.from_bytes(data[len(data) - tail :], "little"))
    for word in words:
        v[3] ^= word
        rounds(2)
        v[0] ^= word
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def server_cookie(secret, client_cookie, address, made):
    """RFC 9018's server cookie: version 1, reserved, time, SipHash of the client cookie,
    those eight bytes and the client's address."""
    head = bytes([1, 0, 0, 0]) + struct.pack("!I", made)
    return head + struct.pack("<Q", siphash24(secret, client_cookie + head + address))


def tsig_sign(message, key_name, secret, signed_at, mac_override=None):
    """Appends a TSIG record (hmac-sha256, RFC 8945) signing `message` and counts it in
    ARCOUNT; `mac_override` replaces the MAC (a forged signature)."""
    algorithm = name("hmac-sha256")
    owner = name(key_name)
    time48 = struct.pack("!Q", signed_at)[2:]
    fudge = 300
    covered = message + owner + struct.pack("!HI", CLASS_ANY, 0) + algorithm + time48 + struct.pack("!HHH", fudge, 0, 0)
    mac = mac_override if mac_override is not None else hmac.new(secret, covered, hashlib.sha256).digest()
    original_id = message[:2]
    rdata = algorithm + time48 + struct.pack("!HH", fudge, len(mac)) + mac + original_id + struct.pack("!HH", 0, 0)
    record = owner + struct.pack("!HHIH", TYPE_TSIG, CLASS_ANY, 0, len(rdata)) + rdata
    arcount = struct.unpack("!H", message[10:12])[0] + 1
    return message[:10] + struct.pack("!H", arcount) + message[12:] + record


def soa_record(serial):
    """An SOA record for the zone apex carrying `serial` (an IXFR request's authority)."""
    rdata = name(f"ns.{ZONE}") + name(f"hostmaster.{ZONE}") + struct.pack("!IIIII", serial, 3600, 600, 86400, 300)
    return name(ZONE) + struct.pack("!HHIH", TYPE_SOA, CLASS_IN, 0, len(rdata)) + rdata


def ixfr_request(query_id, serial):
    return struct.pack("!HHHHHH", query_id, 0, 1, 0, 1, 0) + question(ZONE, TYPE_IXFR) + soa_record(serial)


def guarded_seeds(key_name, key_secret, cookie_secret):
    """Seeds of `request_guarded`. The first byte is the target's mode: 1, the target signs
    the rest with the key when it runs; 0, the rest is sent as it is (signed here, now)."""
    now = int(time.time())
    axfr = header(0x1111, flags=0) + question(ZONE, TYPE_AXFR)
    notify = header(0x3333, flags=OPCODE_NOTIFY << 11 | 0x0400) + question(ZONE, TYPE_SOA)
    txt = header(0x4444) + question(f"443.tcp.{ZONE}")
    client_cookie = secrets.token_bytes(8)
    cookie = client_cookie + server_cookie(cookie_secret, client_cookie, CLIENT_ADDRESS, now)
    with_cookie = header(0x5555, additionals=1) + question(f"22.tcp.{ZONE}") + opt(options=cookie_option(cookie))
    unsigned = {
        "axfr": axfr,
        "ixfr-behind": ixfr_request(0x2222, 1),
        "ixfr-current": ixfr_request(0x2223, 2),
        "ixfr-unknown-serial": ixfr_request(0x2224, 7),
        "notify": notify,
        "txt": txt,
        "soa-udp-edns": header(0x6666, additionals=1) + question(ZONE, TYPE_SOA) + opt(),
        "cookie-valid": with_cookie,
    }
    for label, message in unsigned.items():
        yield f"sign-{label}", b"\x01" + message
        yield f"as-is-{label}", b"\x00" + message
    for label in ["axfr", "ixfr-behind", "txt", "cookie-valid", "notify"]:
        yield f"as-is-signed-{label}", b"\x00" + tsig_sign(unsigned[label], key_name, key_secret, now)
    yield "as-is-bad-mac", b"\x00" + tsig_sign(axfr, key_name, key_secret, now, mac_override=bytes(32))
    yield "as-is-unknown-key", b"\x00" + tsig_sign(txt, "other.key", key_secret, now)
    yield "as-is-old-time", b"\x00" + tsig_sign(txt, key_name, key_secret, now - 3600)


def key_file_text(key_name, key_secret):
    return f'key "{key_name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{base64.b64encode(key_secret).decode()}";\n}};\n'


def key_file_seeds(key_name, key_secret):
    text = key_file_text(key_name, key_secret)
    yield "one-key", text
    yield "two-keys-comments", (
        "# made by make_seeds.py\n" + text + "/* a second one */\n"
        + key_file_text("second.key", secrets.token_bytes(48)).replace("sha256", "sha384") + "// end\n"
    )
    yield "missing-secret", 'key "k" { algorithm hmac-sha512; };\n'
    yield "unterminated", 'key "k" { algorithm hmac-sha256; secret "'


def head_of(path, lines):
    with open(REPO / path, encoding="utf-8") as file:
        return "".join(file.readline() for _ in range(lines))


def file_seeds():
    """Seeds of the file readers' targets, by target: the heads of the real files, and
    near misses."""
    iana = head_of("data/iana-service-names-port-numbers.csv", 60)
    yield "iana_csv", "head", iana
    yield "iana_csv", "broken-quote", iana.split("\n", 1)[0] + '\nhttp,80,tcp,"World Wide Web\n'
    yield "iana_csv", "bad-fields", iana.split("\n", 1)[0] + "\nx,99999,tcp,d\ny,1-,quic,d\nz,5\n"
    yield "port_list", "ports-tsv", head_of("data/ports.tsv", 60)
    yield "port_list", "excerpt", head_of("data/port-list-excerpt.txt", 60)
    yield "port_list", "local-tsv", "# site ports\n8443\ttcp\tbilling-api\tPayments team\n9000-9010\tudp\t-\tLab\n8443\tquic\tx\ty\n"
    yield "port_list", "markdown", head_of("data/source/wikipedia-ports.md", 120)
    yield "services", "lines", (
        "# services(5)\ntcpmux\t\t1/tcp\t\t\t# TCP port service multiplexer\n"
        "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\ndomain\t\t53/udp\nsctp-thing\t9/sctp\n"
        "broken\t70000/tcp\nnoport\nweird\t12/quic alias1 alias2\n"
    )
    yield "frequencies", "lines", (
        "# nmap-services\ntcpmux\t1/tcp\t0.001995\t# TCP Port Service Multiplexer [rfc-1078]\n"
        "http\t80/tcp\t0.484143\t# World Wide Web HTTP\nunknown\t1/udp\t0.000000\n"
        "bad\t70000/tcp\t0.5\nnofreq\t22/tcp\nnegative\t23/tcp\t-1\nweird\t24/quic\t0.1\n"
    )
    yield "synonyms", "head", head_of("data/synonyms.tsv", 20)
    yield "synonyms", "broken", "mariadb\t3306/tcp\t\nBad Word\t99999/tcp\tx\nonly-one-field\n"
    yield "config_file", "deploy", head_of("deploy/portsd.toml", 200)
    yield "config_file", "small", 'listen = ["127.0.0.1:5353"]\nzone = "ports.example"\nlog_queries = true\n'
    yield "config_file", "unknown-key", 'listen = ["127.0.0.1:5353"]\nlisten_on = 5\n'
    yield "config_file", "bad-type", "rate_limit = \"fast\"\n[table]\nx = 1\n"


def write_corpus(base, target, seeds):
    out = base / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("seed-*"):
        old.unlink()
    for label, content in seeds:
        data = content.encode() if isinstance(content, str) else content
        (out / f"seed-{label}").write_bytes(data)


def main():
    # RFC 9018 appendix A.1, so the cookies made here are the ones portsd accepts.
    example = server_cookie(bytes.fromhex("e5e973e5a6b2a43f48e7dc849e37bfcf"), bytes.fromhex("2464c4abcf10c957"), bytes([198, 51, 100, 100]), 1559731985)
    assert example.hex() == "010000005cf79f111f8130c3eee29480", example.hex()

    base = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else FUZZ
    write_corpus(base, "request", request_seeds())
    by_target = {}
    for target, label, text in file_seeds():
        by_target.setdefault(target, []).append((label, text))
    for target, seeds in by_target.items():
        write_corpus(base, target, seeds)

    key_name, key_secret, cookie_secret = "fuzz.key", secrets.token_bytes(32), secrets.token_bytes(16)
    secrets_dir = base / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    (secrets_dir / "tsig.key").write_text(key_file_text(key_name, key_secret))
    (secrets_dir / "cookie-secret").write_text(cookie_secret.hex() + "\n")
    write_corpus(base, "request_guarded", guarded_seeds(key_name, key_secret, cookie_secret))
    write_corpus(base, "key_file", key_file_seeds(key_name, key_secret))


if __name__ == "__main__":
    main()
