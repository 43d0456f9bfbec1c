#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/: copies of the captured DHCP packets and the
fleets, plus hand-made DHCP variants, TFTP scripts and HTTP requests.

Run from anywhere: `python3 fuzz/seeds.py`. It only (re)writes its own seeds, so inputs added
to a corpus by hand or from a crash stay. The TFTP script format is documented in
fuzz/harness/tftp.rs (`Harness::run`).
"""

import pathlib
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- DHCP: the real captures, then variants built the way firmware lays packets out.

for f in sorted((ROOT / "runtime/tests/fixtures/dhcp").glob("*.bin")):
    write("dhcp_answer", "capture-" + f.name, f.read_bytes())


def dhcp(msg_type, options, mac=b"\x52\x54\x00\xaa\xbb\xcc", ciaddr=0, giaddr=0, flags=0x8000,
         hlen=6, sname=b"", file=b""):
    head = struct.pack("!BBBBIHHIIII", 1, 1, hlen, 0, 0x1234_5678, 0, flags, ciaddr, 0, 0, giaddr)
    head += mac.ljust(16, b"\0") + sname.ljust(64, b"\0") + file.ljust(128, b"\0")
    body = bytes([53, 1, msg_type])
    for code, value in options:
        body += bytes([code, len(value)]) + value
    return head + b"\x63\x82\x53\x63" + body + b"\xff"


GUID = bytes([0]) + bytes(range(1, 17))
ARCH = lambda n: struct.pack("!H", n)  # noqa: E731
seeds = {
    "http-x64-discover": dhcp(1, [(60, b"HTTPClient:Arch:00016:UNDI:003001"), (93, ARCH(16)), (97, GUID)]),
    "http-arm64-discover": dhcp(1, [(60, b"HTTPClient:Arch:00019"), (93, ARCH(19))]),
    "efi-arm64-discover": dhcp(1, [(60, b"PXEClient:Arch:00011:UNDI:003000"), (93, ARCH(11)), (97, GUID)]),
    "bios-discover-boot-item": dhcp(1, [(60, b"PXEClient:Arch:00000:UNDI:002001"), (93, ARCH(0)),
                                        (43, bytes([71, 4, 0x80, 0x00, 0x00, 0x00, 255]))]),
    "efi-request-4011": dhcp(3, [(60, b"PXEClient:Arch:00007:UNDI:003016"), (93, ARCH(7))],
                             ciaddr=0x0A4D0070, flags=0),
    "ipxe-rfc3004-user-class": dhcp(1, [(60, b"PXEClient:Arch:00000"), (77, b"\x04iPXE")],
                                    mac=b"\x52\x54\x00\x12\x34\x56"),
    "relayed-discover": dhcp(1, [(60, b"PXEClient:Arch:00007"), (93, ARCH(7)), (82, b"\x01\x04port")],
                             giaddr=0x0A000001),
    "laptop-discover-not-ours": dhcp(1, [(60, b"MSFT 5.0"), (55, bytes([1, 3, 6, 15]))]),
    "unknown-arch": dhcp(1, [(60, b"PXEClient:Arch:00099"), (93, ARCH(99))]),
    "overload-file-sname": dhcp(1, [(52, b"\x03")], sname=b"\x3c\x09PXEClient\xff",
                                file=b"\x5d\x02\x00\x00\xff"),
    "wrong-hlen": dhcp(1, [(60, b"PXEClient:Arch:00000"), (93, ARCH(0))], hlen=16),
    "inform-4011": dhcp(8, [(60, b"PXEClient:Arch:00007"), (93, ARCH(7))], ciaddr=0xC0A80132),
}
for name, data in seeds.items():
    write("dhcp_answer", name + ".bin", data)
# Truncated and option-area oddities.
full = seeds["efi-arm64-discover"]
write("dhcp_answer", "truncated-header.bin", full[:200])
write("dhcp_answer", "no-end-option.bin", full[:-1])
write("dhcp_answer", "overlong-option.bin", full[:240] + bytes([53, 1, 1, 60, 200]) + b"PXEClient")


# --- TFTP: [config] [request length] [request] [ops]; ops are
# 0 timeout at deadline, 1 d timeout after d*20ms, 2 k relative ACK, 3 hi lo ACK, 4 n raw.

def rrq(name, mode=b"octet", **options):
    p = b"\x00\x01" + name + b"\0" + mode + b"\0"
    for k, v in options.items():
        p += k.encode() + b"\0" + str(v).encode() + b"\0"
    return p


def script(cfg, request, ops=b""):
    return bytes([cfg, len(request)]) + request + ops


def raw(datagram):
    return bytes([4, len(datagram)]) + datagram


TIMEOUT, ACK_REL, ACK = b"\x00", lambda k: bytes([2, k]), lambda b: bytes([3]) + struct.pack("!H", b)
tftp = {
    "lockstep": script(0, rrq(b"undionly.kpxe"), ACK_REL(1) + ACK_REL(0) + ACK_REL(1)),
    "leading-slash-oack-window": script(0, rrq(b"/big.bin", blksize=1468, windowsize=4, tsize=0),
                                        ACK(0) + ACK_REL(128) + ACK_REL(128 + 2) + ACK_REL(0) + TIMEOUT),
    "duplicate-acks": script(0, rrq(b"ipxe.efi", windowsize=4),
                             ACK_REL(4) + ACK_REL(0) + ACK_REL(0) + ACK(4) + ACK(2) + ACK(60000)),
    "silent-client-gives-up": script(8 | 3, rrq(b"ipxe.efi", windowsize=8), TIMEOUT * 3),
    "timeouts-then-progress": script(1, rrq(b"big.bin", timeout=3), TIMEOUT + b"\x01\x10" + ACK_REL(1) + TIMEOUT),
    "tight-limits-huge-asks": script(4, rrq(b"big.bin", blksize=65464, windowsize=65535, timeout=255),
                                     ACK(0) + ACK_REL(128)),
    "tiny-blocks": script(0, rrq(b"big.bin", blksize=8, windowsize=64), ACK(0) + ACK_REL(128)),
    "empty-file-tsize": script(0, rrq(b"empty", tsize=0)),
    "one-byte": script(0, rrq(b"one", blksize=512)),
    "exact-block": script(0, rrq(b"block"), ACK_REL(1)),
    "client-error-mid-transfer": script(0, rrq(b"big.bin"), ACK_REL(1) + raw(b"\x00\x05\x00\x03disk full\0")),
    "data-from-client": script(0, rrq(b"big.bin"), raw(b"\x00\x03\x00\x01hello")),
    "runt-ack": script(0, rrq(b"big.bin"), raw(b"\x00\x04\x00") + ACK_REL(1)),
    "rrq-mid-transfer": script(0, rrq(b"big.bin"), raw(rrq(b"big.bin"))),
    "write-request": script(0, b"\x00\x02f\0octet\0"),
    "netascii": script(0, rrq(b"undionly.kpxe", mode=b"netascii")),
    "not-in-manifest": script(0, rrq(b"../etc/passwd")),
    "http-only-route": script(0, rrq(b"http-only.ipxe")),
    "broken-route": script(0, rrq(b"missing.bin")),
    "odd-options": script(0, b"\x00\x01one\0OCTET\0BLKSIZE\x007\0blksize\x00600\0windowsize\x000\0multicast\0\0\0\0"),
}
for name, data in tftp.items():
    write("tftp_transfer", name, data)


# --- HTTP heads, as clients send them.

heads = {
    "ipxe": "GET /boot.ipxe HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ (g4bd0)\r\n"
            "Host: 10.0.2.2:8080\r\n\r\n",
    "ipxe-range": "GET /debian/linux HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\n"
                  "Host: 10.0.2.2\r\nRange: bytes=4096-\r\n\r\n",
    "uefi-http-boot": "GET /hosts/52-54-00-00-00-11.ipxe HTTP/1.1\r\nHost: 10.0.2.2\r\nAccept: */*\r\n"
                      "User-Agent: UefiHttpBoot/1.0\r\n\r\n",
    "uefi-http-boot-head": "HEAD /debian/linux HTTP/1.1\r\nHost: 10.0.2.2\r\nUser-Agent: UefiHttpBoot/1.0\r\n\r\n",
    "curl-if-none-match": "GET /a%20b.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\", *\r\n\r\n",
    "curl-resume-if-range": "GET /debian/linux HTTP/1.1\r\nHost: x\r\nRange: bytes=4096-\r\n"
                            "If-Range: \"stale\"\r\nIf-None-Match: W/\"x\"\r\n\r\n",
    "pipelined": "GET /empty HTTP/1.1\r\n\r\nHEAD /100%25.cfg HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
                 "GET /%C3%BCn%C3%AF.bin HTTP/1.1\r\nRange: bytes=-2\r\n\r\n",
    "traversal-encoded": "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n",
    "traversal-double-encoded": "GET /%252e%252e%252fetc%252fpasswd HTTP/1.1\r\n\r\n",
    "backslash": "GET /..\\..\\boot.ipxe HTTP/1.1\r\n\r\n",
    "nul": "GET /boot.ipxe%00.txt HTTP/1.1\r\n\r\n",
    "absolute-form": "GET http://10.0.2.2/boot.ipxe HTTP/1.1\r\n\r\n",
    "post-with-body": "POST /boot.ipxe HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    "http2-preface": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "multi-range": "GET /debian/linux HTTP/1.1\r\nRange: bytes=0-1,5-6\r\n\r\n",
    "unsatisfiable": "GET /debian/linux HTTP/1.1\r\nRange: bytes=9999-\r\n\r\n",
    "tftp-only": "GET /undionly.kpxe HTTP/1.1\r\n\r\n",
    "broken-route": "GET /missing.iso HTTP/1.1\r\n\r\n",
    "stray-crlf": "\r\n\r\nGET /boot.ipxe?mac=52:54:00:00:00:11 HTTP/1.1\r\n\r\n",
}
for name, text in heads.items():
    write("http_head", name, text)

# --- HTTP routing: method \n target [\n Range [\n If-None-Match [\n If-Range]]].
routes = {
    "get": "GET\n/boot.ipxe",
    "head-range": "HEAD\n/debian/linux\nbytes=0-99",
    "suffix-range": "GET\n/debian/linux\nbytes=-500",
    "space": "GET\n/a%20b.txt",
    "percent": "GET\n/100%25.cfg",
    "utf8": "GET\n/%C3%BCn%C3%AF.bin",
    "traversal": "GET\n/../etc/passwd",
    "encoded-slash": "GET\n/hosts%2F52-54-00-00-00-11.ipxe",
    "double-slash": "GET\n//boot.ipxe",
    "no-slash": "GET\nboot.ipxe",
    "query-fragment": "GET\n/boot.ipxe?x=1#y",
    "bad-percent": "GET\n/boot.ipxe%G0",
    "star-etag": "GET\n/empty\n\n*",
    "post": "POST\n/boot.ipxe",
    "range-empty-file": "GET\n/empty\nbytes=0-0",
    "weak-etag": "GET\n/boot.ipxe\n\nW/\"x\", \"y,z\"",
    "if-range-date": "GET\n/debian/linux\nbytes=100-\n\nTue, 01 Dec 2026 00:00:00 GMT",
    "if-range-weak": "GET\n/debian/linux\nbytes=9999-\n\nW/\"x\"",
}
for name, text in routes.items():
    write("http_route", name, text)


# --- Fleets: every example and every broken fleet of the CLI tests.

for f in sorted((ROOT / "examples").glob("*/fleet.kdl")):
    write("compile", f"example-{f.parent.name}.kdl", f.read_bytes())
for f in sorted((ROOT / "tests/broken").glob("*.kdl")):
    write("compile", "broken-" + f.name, f.read_bytes())

# The secure-boot golden fleet too (its stand-in files are not there: missing-file errors).
write("compile", "secure-boot.kdl", (ROOT / "compiler/tests/secure_boot/fleet.kdl").read_bytes())

# --- PE headers: the first KiB of real files (compiler/tests/pe/), each after its file's
# length as 8 little-endian bytes (the format of harness/pe_image.rs).
for name, length in [("shimx64.efi.signed", 1048504), ("vmlinuz-6.1.0-57-amd64", 8247232),
                     ("ipxe.efi", 850528), ("vmlinuz.unsigned", 8245760),
                     ("initrd.img", 1028285)]:
    head = (ROOT / "compiler/tests/pe" / (name + ".head")).read_bytes()
    write("pe_image", name, struct.pack("<Q", length) + head)

# Nesting: the depth bound (compiler/src/nesting.rs) and what the scan must not mistake for
# blocks. The fuzzer grows or splices these; past the bound nothing may recurse.
BOUND = 64
nest = lambda n, open_="a {", close="}": open_ * n + close * n + "\n"  # noqa: E731
nesting = {
    "at-bound": nest(BOUND),
    "past-bound": nest(BOUND + 1),
    "far-past-bound": nest(20_000),
    "unclosed": "a {" * 5_000,
    "menus-at-bound": nest(BOUND, 'menu "m" "M" { ', "} "),
    "slashdash-deep": "/-" + nest(5_000),
    "braces-in-strings": 'n "' + "{" * 5_000 + '" #"' + "{" * 5_000 + '"#\n',
    "braces-in-comments": "/* /* " + "{" * 5_000 + " */ */\n// " + "{" * 5_000 + "\n",
    "deep-template": 'profile "p" { chain "http://x/{{ ' + "(" * 5_000 + "1" + ")" * 5_000 + ' }}"; }\n'
                     'default profile="p"\n',
    "deep-template-blocks": 'profile "p" { chain "http://x/' + "{% if 1 %}" * 2_000 + "y"
                            + "{% endif %}" * 2_000 + '"; }\ndefault profile="p"\n',
}
for name, text in nesting.items():
    write("compile", "nesting-" + name + ".kdl", text)
