#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors
"""Write the hand-made seeds of test/fuzz/corpus/ (seed-*). The other files there
are inputs libFuzzer found and `run-fuzz.sh` kept after a merge (-merge=1), and
crash-* files are regression inputs: never delete those.

    test/fuzz/make-seeds.py            rewrite the seed-* files
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(harness, name, data):
    d = os.path.join(HERE, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def hdr(src, dst, sport, dport, length, typ, op, flags=0, buf_alloc=262144, fwd=0):
    return struct.pack('<QQIIIHHIII', src, dst, sport, dport, length, typ, op, flags,
                       buf_alloc, fwd)


def vsock_hdr_seeds():
    # header, then ctx byte (bit0: explicit own CID, bit1: 32-bit payload, bit2: seqpacket)
    ops = {'request': (1, 0), 'response': (2, 0), 'rst': (3, 0), 'shutdown': (4, 3),
           'rw': (5, 0), 'credit-update': (6, 0), 'credit-request': (7, 0)}
    for name, (op, flags) in ops.items():
        length = 100 if op == 5 else 0
        put('fuzz_vsock_hdr', name, hdr(3, 4, 1024, 5000, length, 1, op, flags) +
            bytes([0]) + struct.pack('<H', 200))
    put('fuzz_vsock_hdr', 'seqpacket-eor', hdr(3, 4, 1, 2, 10, 2, 5, 3) + bytes([4]) +
        struct.pack('<H', 10))
    put('fuzz_vsock_hdr', 'spoofed', hdr(5, 4, 1, 2, 0, 1, 1) + bytes([1]) +
        struct.pack('<Q', 3) + struct.pack('<H', 0))
    put('fuzz_vsock_hdr', 'reserved-dst', hdr(3, 0xffffffff, 1, 2, 0, 1, 1) + bytes([0, 0, 0]))
    put('fuzz_vsock_hdr', 'rw-too-long', hdr(3, 4, 1, 2, 65537, 1, 5) + bytes([2]) +
        struct.pack('<I', 0xffffffff))


def chunks(*parts):
    out = b''
    for p in parts:
        out += bytes([len(p)]) + p
    return out


def hp_line_seeds():
    # cfg byte: bit0 control, bit1 SEQPACKET (hybrid), bits 2-3 reachability, bit5 request fails
    hyb, ctl, seq = 0, 1, 2
    put('fuzz_hp_line', 'hybrid-connect', bytes([hyb]) + chunks(b'CONNECT 1234\n'))
    put('fuzz_hp_line', 'hybrid-split', bytes([hyb]) + chunks(b'CONN', b'ECT 5', b'000\nhello'))
    put('fuzz_hp_line', 'hybrid-crlf-data', bytes([hyb]) + chunks(b'connect 7\r\nDATA' * 1))
    put('fuzz_hp_line', 'hybrid-seq', bytes([seq]) + chunks(b'CONNECT 99\nfirst message'))
    put('fuzz_hp_line', 'hybrid-seq-nonl', bytes([seq]) + chunks(b'CONNECT 4294967294'))
    put('fuzz_hp_line', 'hybrid-unreachable', bytes([hyb | 4]) + chunks(b'CONNECT 1\n'))
    put('fuzz_hp_line', 'hybrid-long', bytes([hyb]) + chunks(b'A' * 200) + chunks(b'\n'))
    put('fuzz_hp_line', 'hybrid-eof', bytes([hyb]) + chunks(b'CONNECT 12') + bytes([0xff]))
    put('fuzz_hp_line', 'ctl-connect', bytes([ctl]) + chunks(b'CONNECT 3 1024 seqpacket\n'))
    put('fuzz_hp_line', 'ctl-connect-stream', bytes([ctl]) + chunks(b'CONNECT 4 22 stream\nx'))
    put('fuzz_hp_line', 'ctl-listen', bytes([ctl]) + chunks(b'LISTEN 5000\n'))
    put('fuzz_hp_line', 'ctl-listen-cid', bytes([ctl | 4]) + chunks(b'LISTEN 5000 3\n'))
    put('fuzz_hp_line', 'ctl-stats', bytes([ctl]) + chunks(b'STATS\n'))
    put('fuzz_hp_line', 'ctl-words', bytes([ctl]) + chunks(b'CONNECT 1 2 3 4 5 6\n'))
    put('fuzz_hp_line', 'ctl-nul', bytes([ctl]) + chunks(b'CONNECT 3\x00 1\n'))
    put('fuzz_hp_line', 'ctl-fail', bytes([ctl | 0x20]) + chunks(b'CONNECT 3 1\n'))
    put('fuzz_hp_line', 'ctl-guest-add', bytes([ctl]) +
        chunks(b'GUEST-ADD cid=7,socket=/run/g7.sock,uds=/run/h7,lcore=1\n'))
    put('fuzz_hp_line', 'ctl-guest-add-split', bytes([ctl]) +
        chunks(b'guest-add cid=', b'8,socket=/tmp/' + b'x' * 100, b'.sock\r\n'))
    put('fuzz_hp_line', 'ctl-guest-add-words', bytes([ctl]) + chunks(b'GUEST-ADD cid=7 socket=/x\n'))
    put('fuzz_hp_line', 'ctl-guest-add-long', bytes([ctl]) +
        chunks(b'GUEST-ADD cid=9,socket=' + b'/a' * 100, b'/a' * 100, b'\n'))
    put('fuzz_hp_line', 'ctl-guest-del', bytes([ctl]) + chunks(b'GUEST-DEL 4294967294\n'))
    put('fuzz_hp_line', 'ctl-guest-del-bad', bytes([ctl]) + chunks(b'GUEST-DEL -3\n'))
    put('fuzz_hp_line', 'ctl-guests', bytes([ctl]) + chunks(b'GUESTS\n'))
    put('fuzz_hp_line', 'ctl-guests-extra', bytes([ctl]) + chunks(b'GUESTS all\n'))


def virtq_seeds():
    # One region at GPA 0x1000 (mode 2 -> 4 GiB + 0x1000), ring of 4, a two-descriptor
    # chain, an indirect table, then pop, push, flush.
    out = bytes([0])                          # 1 region, no EVENT_IDX, tx
    out += bytes([2]) + struct.pack('<H', 8191) + struct.pack('<H', 0x1000)
    out += bytes(64)                          # first bytes of the region
    out += bytes([2])                         # ring size 4
    for i in range(4):                        # fl, next, addr mode 4 + off, len mode 4 + len
        fl = 1 if i == 0 else 0
        out += bytes([fl]) + struct.pack('<H', i + 1)
        out += bytes([4]) + struct.pack('<H', 64 * i) + bytes([4]) + struct.pack('<H', 44)
    out += bytes([1])                         # one indirect table
    out += bytes([0]) + bytes([2]) + struct.pack('<H', 2048)
    for i in range(3):
        out += bytes([1 if i < 2 else 0]) + struct.pack('<H', i + 1)
        out += bytes([4]) + struct.pack('<H', 128) + bytes([4]) + struct.pack('<H', 16)
    out += struct.pack('<HHH', 0, 0, 0)      # last_avail, last_used, avail flags
    out += struct.pack('<HHHHH', 0, 1, 2, 3, 0)
    out += bytes([3])                         # avail idx = 3
    out += bytes([0, 4, 2, 4, 3, 5, 0, 1, 2, 100, 9])
    put('fuzz_virtq', 'chain', out)


if __name__ == '__main__':
    vsock_hdr_seeds()
    hp_line_seeds()
    virtq_seeds()
