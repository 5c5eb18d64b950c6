#! /usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors

"""
Checks of the observability tests (test/telemetry/*.c run them).

The switch is queried the way an operator would: DPDK telemetry through
Debian's dpdk-telemetry.py (commands on stdin, one JSON reply per line on
stdout), captures through tshark, the live view through usertools/vs-top.py.
Exit status: 0 pass, 1 fail, 77 skip (a tool is missing).

Subcommands:
  wait-running -f PREFIX CID...   wait until the switch runs these guests
  telemetry --facts FILE          every /vsock/ command against known traffic
  closed --facts FILE             after every connection closed
  capture-stats -f PREFIX ...     /vsock/stats capture fields
  pcap --expect FILE              a capture read back with tshark
  vstop -f PREFIX --vstop PATH    vs-top.py --once during traffic
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

SKIP = 77
FAILURES = []

DROP_REASONS = ['bad_descriptor', 'bad_header', 'spoofed_source',
                'reserved_destination', 'no_route', 'no_connection',
                'flow_table_full', 'backlog_full', 'no_mbuf']
# virtio-vsock ops
OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW = 1, 2, 3, 4, 5
OP_CREDIT_UPDATE, OP_CREDIT_REQUEST = 6, 7
# af_vsockmon ops of each virtio-vsock op
MON_OPS = {OP_REQUEST: 1, OP_RESPONSE: 1, OP_RST: 2, OP_SHUTDOWN: 2,
           OP_RW: 4, OP_CREDIT_UPDATE: 3, OP_CREDIT_REQUEST: 3}
LINKTYPE_VSOCK = 271
MON_HDR_LEN = 32
VIRTIO_HDR_LEN = 44
DEFAULT_SNAPLEN = 65536 + MON_HDR_LEN + VIRTIO_HDR_LEN
FLOW_COLUMNS = ['local_cid', 'local_port', 'peer_cid', 'peer_port', 'type',
                'state', 'direction', 'tx_packets', 'tx_bytes', 'lcore',
                'state_age_ms', 'buf_alloc', 'fwd_cnt', 'peer_buf_alloc',
                'peer_fwd_cnt', 'in_flight']
TSHARK_FIELDS = ['frame.len', 'frame.cap_len', 'frame.time_epoch',
                 'frame.protocols', 'vsock.src_cid', 'vsock.dst_cid',
                 'vsock.src_port', 'vsock.dst_port', 'vsock.op',
                 'vsock.trans', 'vsock.trans_len', 'vsock.virtio.src_cid',
                 'vsock.virtio.dst_cid', 'vsock.virtio.src_prot',
                 'vsock.virtio.dst_prot', 'vsock.virtio.len',
                 'vsock.virtio.type', 'vsock.virtio.op', 'vsock.virtio.flags',
                 'vsock.payload']


def check(cond, what):
    """Print one verdict; remember failures."""
    print("  {}: {}".format("ok" if cond else "FAIL", what), flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def check_eq(got, want, what):
    """check() that got == want, showing both."""
    return check(got == want,
                 "{} = {!r} (expected {!r})".format(what, got, want))


def finish():
    """Exit with the verdict."""
    if FAILURES:
        print("{} check(s) failed".format(len(FAILURES)))
        sys.exit(1)
    sys.exit(0)


def skip(why):
    """Exit as skipped."""
    print("SKIP: " + why)
    sys.exit(SKIP)


def telemetry_client():
    """Path of Debian's dpdk-telemetry.py (package dpdk-dev); skip without."""
    path = os.environ.get('VS_TELEMETRY_CLIENT') or \
        shutil.which('dpdk-telemetry.py') or '/usr/bin/dpdk-telemetry.py'
    if not os.path.exists(path):
        skip("dpdk-telemetry.py not found (Debian package dpdk-dev)")
    return path


def query(prefix, cmds):
    """Run dpdk-telemetry.py -f prefix with cmds on stdin: {cmd: value}."""
    proc = subprocess.run([sys.executable, telemetry_client(), '-f', prefix],
                          input='\n'.join(cmds) + '\n', capture_output=True,
                          text=True, timeout=30, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or len(lines) != len(cmds):
        print("dpdk-telemetry.py: status {}, {} replies for {} commands"
              .format(proc.returncode, len(lines), len(cmds)))
        print(proc.stdout + proc.stderr)
        return None
    replies = {}
    for cmd, line in zip(cmds, lines):
        reply = json.loads(line)
        key = cmd.split(',')[0]
        if list(reply.keys()) != [key]:
            print("reply to {}: {}".format(cmd, line))
            return None
        replies[cmd] = reply[key]
    return replies


def doc_fields(path):
    """Fields the guide documents, per section: {'/vsock/guest': {...}}.

    A section is a title underlined with '-'; its fields are the list-table
    rows whose first cell is ``name``."""
    if not path:
        return None
    with open(path) as f:
        lines = f.read().splitlines()
    sections, cur = {}, None
    for i, line in enumerate(lines):
        under = lines[i + 1] if i + 1 < len(lines) else ''
        if line.strip() and re.fullmatch(r'-{3,}', under) and \
                len(under) >= len(line.rstrip()):
            cur = re.split(r'[,\[]', line.strip())[0]
            sections[cur] = set()
            continue
        m = re.match(r'^\s*\* - ``([a-z0-9_]+)``', line)
        if m and cur is not None:
            sections[cur].add(m.group(1))
    return sections


def check_documented(docs, section, keys, extra=()):
    """Every field of a reply is in the guide."""
    if docs is None:
        return
    known = set(docs.get(section, set()))
    for e in extra:
        known |= docs.get(e, set())
    missing = sorted(set(keys) - known)
    check(not missing, "{}: every field documented in doc/telemetry.rst "
          "(missing: {})".format(section, ', '.join(missing) or 'none'))


def rows(columns):
    """A reply made of columns (/vsock/flows, /vsock/lcores) as row dicts."""
    cols = [k for k in columns if isinstance(columns[k], list)]
    n = len(columns[cols[0]]) if cols else 0
    if any(len(columns[c]) != n for c in cols):
        check(False, "columns of equal length")
        return []
    return [{c: columns[c][i] for c in cols} for i in range(n)]


def guest_expect(emu, sent_not_switched):
    """Counters the switch must show for a guest, from the guest's counts."""
    tx_ops, rx_ops = emu['tx_ops'], emu['rx_ops']
    return {
        'tx_packets': sum(tx_ops) - sent_not_switched,
        'tx_bytes': emu['tx_bytes'],
        'rx_packets': sum(rx_ops),
        'rx_bytes': emu['rx_bytes'],
        'credit_updates_received': tx_ops[OP_CREDIT_UPDATE],
        'credit_updates_sent': rx_ops[OP_CREDIT_UPDATE],
        'credit_requests_received': tx_ops[OP_CREDIT_REQUEST],
    }


IDLE_GUEST = {'tx_ops': [0] * 8, 'rx_ops': [0] * 8, 'tx_bytes': 0,
              'rx_bytes': 0}


def check_counters(name, got, want, drops, rst_sent):
    """Packet, byte, RST and drop counters of one guest (or the totals)."""
    for k, v in want.items():
        check_eq(got.get(k), v, "{} {}".format(name, k))
    check_eq(got.get('rst_sent'), rst_sent, name + " rst_sent")
    for r in DROP_REASONS:
        check_eq(got.get('drop_' + r), drops.get(r, 0),
                 "{} drop_{}".format(name, r))


def cmd_wait_running(args):
    """Poll /vsock/guest,<cid> until every CID is running."""
    deadline = time.monotonic() + args.timeout
    cmds = ['/vsock/guest,{}'.format(c) for c in args.cids]
    states = None
    while time.monotonic() < deadline:
        r = query(args.file_prefix, cmds)
        if r is not None and all(r[c] is not None for c in cmds):
            states = [r[c].get('state') for c in cmds]
            if all(s == 'running' for s in states):
                print("  ok: guests {} running".format(' '.join(args.cids)))
                return 0
        time.sleep(0.05)
    print("  FAIL: guests {} not running: {}"
          .format(' '.join(args.cids), states))
    return 1


def check_config(conf, facts, docs):
    """/vsock/config: the options tel_counters.c gave, defaults otherwise."""
    workers = conf.get('worker_lcores', [])
    check(isinstance(conf.get('version'), str) and conf['version'] != '',
          "version")
    check_eq(conf.get('main_lcore'), 0, "main_lcore")
    check(len(workers) >= 1 and all(isinstance(w, int) for w in workers),
          "worker_lcores {}".format(workers))
    check_eq(conf.get('burst'), 32, "burst")
    check(isinstance(conf.get('max_guests'), int) and
          conf['max_guests'] >= 4, "max_guests")
    for k, v in facts['config'].items():
        check_eq(conf.get(k), v, "config " + k)
    check_eq(conf.get('handover_ring_size'), 4096, "handover_ring_size")
    check(conf.get('host_endpoint') in (0, 1), "host_endpoint")
    check_documented(docs, '/vsock/config', conf)
    return workers


def check_guests(g, facts, workers, docs):
    """/vsock/guest,<cid> of the four guests of tel_counters.c."""
    # guest 3's tx ring also held the REQUEST to the unknown CID (answered by
    # the switch) and the forged one (dropped): neither is switched
    want3 = guest_expect(facts['emu3'], 2)
    want4 = guest_expect(facts['emu4'], 0)
    for c in (3, 4):
        name = "guest {}".format(c)
        for k, v in (('cid', c), ('state', 'running'), ('lcore_numa_node', 0),
                     ('rx_ring_size', 128), ('tx_ring_size', 128),
                     ('seqpacket', 1), ('connections', 2),
                     ('backlog_packets', 0), ('backlog_bytes', 0),
                     ('backpressure_stalls', 0)):
            check_eq(g[c].get(k), v, "{} {}".format(name, k))
        check(g[c].get('lcore') in workers,
              "{} lcore {} is a worker".format(name, g[c].get('lcore')))
        check(g[c].get('event_idx') in (0, 1), name + " event_idx")
        check(isinstance(g[c].get('vhost_vid'), int) and
              g[c]['vhost_vid'] >= 0, name + " vhost_vid")
        check(isinstance(g[c].get('interrupts'), int), name + " interrupts")
    for c in (3, 4, 5, 6):
        check_eq(g[c].get('socket'), facts['sockets'][str(c)],
                 "guest {} socket".format(c))
        check_eq(g[c].get('uds'), facts['uds'][str(c)],
                 "guest {} uds (hybrid socket)".format(c))
        check_documented(docs, '/vsock/guest', g[c], ['Port counters'])
    check_counters("guest 3", g[3], want3,
                   {'no_route': 1, 'spoofed_source': 1}, 1)
    check_eq(want3['tx_bytes'], facts['stream']['bytes3'],
             "guest 3 RW bytes sent (emulator)")
    check_eq(want3['rx_bytes'],
             facts['stream']['bytes4'] + facts['seqpacket']['bytes4'],
             "guest 3 RW bytes received (emulator)")
    check_counters("guest 4", g[4], want4, {}, 0)
    for c, state in ((5, 'configured'), (6, 'frontend_connected')):
        name = "guest {}".format(c)
        check_eq(g[c].get('state'), state, name + " state")
        check('rx_ring_size' not in g[c], name + ": no ring fields")
        check_counters(name, g[c], guest_expect(IDLE_GUEST, 0), {}, 0)
        check_eq(g[c].get('connections'), 0, name + " connections")
    return want3, want4


def check_flows(r, g, facts, docs):
    """/vsock/flows[,<cid>]: the two connections of tel_counters.c."""
    s3, sq = facts['stream'], facts['seqpacket']
    l3, l4 = g[3].get('lcore'), g[4].get('lcore')
    want_rows = sorted([
        (3, s3['port3'], 4, s3['port4'], 'stream', 'connected', 'out',
         s3['bytes3'], l3),
        (4, s3['port4'], 3, s3['port3'], 'stream', 'connected', 'in',
         s3['bytes4'], l4),
        (4, sq['port4'], 3, sq['port3'], 'seqpacket', 'connected', 'out',
         sq['bytes4'], l4),
        (3, sq['port3'], 4, sq['port4'], 'seqpacket', 'connected', 'in',
         sq['bytes3'], l3),
    ])
    fl = r['/vsock/flows']
    check_eq(sorted(k for k in fl if isinstance(fl[k], list)),
             sorted(FLOW_COLUMNS), "flows columns")
    got = rows(fl)
    check_eq(sorted(tuple(x[k] for k in ('local_cid', 'local_port',
                                         'peer_cid', 'peer_port', 'type',
                                         'state', 'direction', 'tx_bytes',
                                         'lcore'))
                    for x in got), want_rows, "flow rows")
    check_eq(fl.get('total'), 4, "flows total")
    check_eq(fl.get('limit'), 48, "flows limit")
    for c in (3, 4):
        check_eq(sum(x['tx_packets'] for x in got if x['local_cid'] == c),
                 g[c].get('tx_packets'),
                 "sum of guest {}'s flows' tx_packets = its tx_packets"
                 .format(c))
    for x in got:
        if x['direction'] == 'out':
            check(x['tx_packets'] >= 1 + (x['tx_bytes'] > 0),
                  "{}:{} tx_packets {} counts the REQUEST and the data"
                  .format(x['local_cid'], x['local_port'], x['tx_packets']))
    # The credit view: each end's grant is what the other end was granted.
    by_key = {(x['local_cid'], x['local_port']): x for x in got}
    for x in got:
        peer = by_key.get((x['peer_cid'], x['peer_port']))
        check(x['buf_alloc'] > 0 and peer is not None and
              peer['peer_buf_alloc'] == x['buf_alloc'],
              "{}:{} buf_alloc {} = its peer's peer_buf_alloc"
              .format(x['local_cid'], x['local_port'], x['buf_alloc']))
        check(x['in_flight'] <= x['peer_buf_alloc'] and
              x['in_flight'] <= x['tx_bytes'],
              "{}:{} in_flight {} within the credit it got ({})"
              .format(x['local_cid'], x['local_port'], x['in_flight'],
                      x['peer_buf_alloc']))
    check_documented(docs, '/vsock/flows', fl)
    for c in (3, 4):
        fc = r['/vsock/flows,{}'.format(c)]
        check_eq((fc.get('total'), len(rows(fc))), (4, 4),
                 "flows,{}: total, rows".format(c))
    f5 = r['/vsock/flows,5']
    check_eq((f5.get('total'), len(rows(f5))), (0, 0), "flows,5: no rows")
    check_eq(r['/vsock/flows,x'], None, "/vsock/flows,x is an error")


def cmd_telemetry(args):
    """Every /vsock/ command after the traffic of tel_counters.c."""
    facts = json.load(open(args.facts))
    docs = doc_fields(args.doc)
    prefix = facts['prefix']
    bad_guests = ['/vsock/guest,99', '/vsock/guest,2', '/vsock/guest,abc',
                  '/vsock/guest']
    cmds = ['/', '/help,/vsock/guest', '/vsock/config', '/vsock/guests'] + \
        ['/vsock/guest,{}'.format(c) for c in (3, 4, 5, 6)] + bad_guests + \
        ['/vsock/flows', '/vsock/flows,3', '/vsock/flows,4', '/vsock/flows,5',
         '/vsock/flows,x', '/vsock/stats', '/vsock/lcores']
    r = query(prefix, cmds)
    if not check(r is not None,
                 "dpdk-telemetry.py answers {} commands".format(len(cmds))):
        return 1
    print("replies:")
    for c in cmds:
        print("  {} -> {}".format(c, json.dumps(r[c], sort_keys=True)))

    print("command list and help")
    for c in ['/vsock/guests', '/vsock/guest', '/vsock/flows', '/vsock/stats',
              '/vsock/lcores', '/vsock/config']:
        check(c in r['/'], c + " is registered")
    hlp = r['/help,/vsock/guest']
    check(isinstance(hlp, dict) and 'CID' in str(hlp.get('/vsock/guest')),
          "/help,/vsock/guest explains the parameter")

    print("/vsock/config")
    workers = check_config(r['/vsock/config'], facts, docs)

    print("/vsock/guests")
    check_eq(sorted(r['/vsock/guests']), [3, 4, 5, 6], "CIDs")

    print("/vsock/guest")
    g = {c: r['/vsock/guest,{}'.format(c)] for c in (3, 4, 5, 6)}
    want3, want4 = check_guests(g, facts, workers, docs)
    for c in bad_guests:
        check_eq(r[c], None, c + " is an error")

    print("/vsock/flows")
    check_flows(r, g, facts, docs)

    print("/vsock/stats")
    st = r['/vsock/stats']
    for k, v in (('guests', 4), ('guests_running', 2), ('connection_ends', 4),
                 ('rst_lost', 0), ('mbufs_in_use', 0), ('capture_running', 0),
                 ('capture_records', 0), ('capture_dropped', 0)):
        check_eq(st.get(k), v, k)
    check_counters("totals", st, {k: want3[k] + want4[k] for k in want3},
                   {'no_route': 1, 'spoofed_source': 1}, 1)
    check_documented(docs, '/vsock/stats', st, ['Port counters'])

    print("/vsock/lcores")
    lc = r['/vsock/lcores']
    check_eq(sorted(lc.get('lcore', [])), sorted(workers),
             "lcores = worker_lcores")
    by = rows(lc)
    check_eq(sum(x['guests'] for x in by), 4, "guests over all lcores")
    check_eq(sum(x['tx_packets'] for x in by),
             want3['tx_packets'] + want4['tx_packets'],
             "tx_packets over all lcores")
    check_eq(sum(x['connection_ends'] for x in by), 4,
             "connection_ends over all lcores")
    for x in by:
        check(0 < x['busy_rounds'] <= x['rounds'] or x['tx_packets'] == 0,
              "lcore {}: 0 < busy_rounds {} <= rounds {}"
              .format(x['lcore'], x['busy_rounds'], x['rounds']))
    check_documented(docs, '/vsock/lcores', lc)
    time.sleep(0.2)
    again = query(prefix, ['/vsock/lcores'])
    if again is not None:
        later = again['/vsock/lcores']['rounds']
        check(all(b > a for a, b in zip(lc['rounds'], later)),
              "rounds keep growing while idle (poll mode)")
    return 0


def cmd_closed(args):
    """After tel_counters.c closed everything and stopped guest 4's driver."""
    facts = json.load(open(args.facts))
    r = query(facts['prefix'], ['/vsock/flows', '/vsock/stats',
                                '/vsock/guest,3', '/vsock/guest,4',
                                '/vsock/lcores'])
    if not check(r is not None, "dpdk-telemetry.py answers"):
        return 1
    fl = r['/vsock/flows']
    check_eq((fl['total'], len(rows(fl))), (0, 0), "flows: none")
    check_eq(r['/vsock/stats']['connection_ends'], 0,
             "stats connection_ends")
    check_eq(r['/vsock/stats']['guests_running'], 1, "stats guests_running")
    check_eq(r['/vsock/guest,3']['connections'], 0, "guest 3 connections")
    check_eq(r['/vsock/guest,3']['state'], 'running', "guest 3 state")
    check_eq(r['/vsock/guest,4']['state'], 'frontend_connected',
             "guest 4 state")
    check('rx_ring_size' not in r['/vsock/guest,4'],
          "guest 4: no ring fields")
    check_eq(sum(r['/vsock/lcores']['connection_ends']), 0,
             "lcores connection_ends")
    return 0


def cmd_capture_stats(args):
    """/vsock/stats while (or after) a capture runs."""
    r = query(args.file_prefix, ['/vsock/stats'])
    if not check(r is not None, "dpdk-telemetry.py answers"):
        return 1
    st = r['/vsock/stats']
    check_eq(st.get('capture_running'), args.running, "capture_running")
    check_eq(st.get('capture_records'), args.records, "capture_records")
    check_eq(st.get('capture_dropped'), 0, "capture_dropped")
    return 0


def tshark_records(path):
    """Records of a capture as dicts of TSHARK_FIELDS."""
    cmd = ['tshark', '-n', '-r', path, '-T', 'fields', '-E', 'separator=/t',
           '-E', 'occurrence=f']
    for f in TSHARK_FIELDS:
        cmd += ['-e', f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          check=False)
    if not check(proc.returncode == 0,
                 "tshark reads {}".format(os.path.basename(path))):
        print(proc.stderr)
        return None
    out = []
    for line in proc.stdout.splitlines():
        rec = dict(zip(TSHARK_FIELDS, line.split('\t')))
        for k, v in rec.items():
            if k in ('frame.protocols', 'vsock.payload'):
                rec[k] = v.replace(':', '').lower()
            elif k == 'frame.time_epoch':
                rec[k] = float(v) if v else None
            else:
                rec[k] = int(v, 0) if v else None
        out.append(rec)
    return out


def pcap_linktype(path):
    """Link type of a pcap file (global header)."""
    with open(path, 'rb') as f:
        hdr = f.read(24)
    if len(hdr) < 24:
        return None
    magic = struct.unpack('<I', hdr[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    return struct.unpack(endian + 'I', hdr[20:24])[0]


def show_record(x):
    """One line about a record."""
    print("  {}:{} -> {}:{} op {} len {} flags {} (mon op {}, {} of {} bytes)"
          .format(x['vsock.virtio.src_cid'], x['vsock.virtio.src_prot'],
                  x['vsock.virtio.dst_cid'], x['vsock.virtio.dst_prot'],
                  x['vsock.virtio.op'], x['vsock.virtio.len'],
                  x['vsock.virtio.flags'], x['vsock.op'],
                  x['frame.cap_len'], x['frame.len']))


def check_record(i, x, w, snaplen, t0, t1, last):
    """Record i (x, from tshark) against what was sent (w)."""
    src, dst, sport, dport, op, length, typ, flags = w[:8]
    what = "record {} ({}:{} -> {}:{} op {})".format(
        i, src, sport, dst, dport, op)
    check_eq(tuple(x['vsock.virtio.' + k] for k in (
        'src_cid', 'dst_cid', 'src_prot', 'dst_prot', 'op', 'len', 'type',
        'flags')), (src, dst, sport, dport, op, length, typ, flags),
        what + " virtio header")
    check_eq(tuple(x['vsock.' + k] for k in (
        'src_cid', 'dst_cid', 'src_port', 'dst_port', 'op', 'trans',
        'trans_len')), (src, dst, sport, dport, MON_OPS[op], 2,
                        VIRTIO_HDR_LEN), what + " af_vsockmon header")
    full = MON_HDR_LEN + VIRTIO_HDR_LEN + length
    check_eq((x['frame.len'], x['frame.cap_len']), (full, min(full, snaplen)),
             what + " length, captured length")
    if len(w) > 8 and full <= snaplen:
        check_eq(x['vsock.payload'], w[8], what + " payload")
    ts = x['frame.time_epoch']
    check(ts is not None and t0 - 1 <= ts <= t1 + 1 and ts >= last,
          what + " time stamp within the exchange, in order")
    return ts or last


def cmd_pcap(args):
    """A capture against the exchange tel_capture.c did."""
    if shutil.which('tshark') is None:
        skip("tshark not found (Debian package tshark)")
    exp = json.load(open(args.expect))
    path = exp['file']
    snaplen = exp.get('snaplen') or DEFAULT_SNAPLEN
    check_eq(pcap_linktype(path), LINKTYPE_VSOCK, "link type (LINKTYPE_VSOCK)")
    recs = tshark_records(path)
    if recs is None:
        return 1
    print("{} records:".format(len(recs)))
    for x in recs:
        show_record(x)
    check(all('vsock' in x['frame.protocols'] for x in recs),
          "tshark decodes every record as vsock")
    credit = [x for x in recs
              if x['vsock.virtio.op'] in (OP_CREDIT_UPDATE, OP_CREDIT_REQUEST)]
    others = [x for x in recs if x not in credit]
    check_eq(len(credit), exp['credit_records'], "credit records")
    want = exp['records']
    check_eq(len(others), len(want), "records other than credit updates")
    last = 0.0
    for i, (x, w) in enumerate(zip(others, want)):
        last = check_record(i, x, w, snaplen, exp['t_start'], exp['t_end'],
                            last)
    return 0


def vstop_run(args, extra):
    """Run vs-top.py --once; its output."""
    cmd = [sys.executable, args.vstop, '-f', args.file_prefix, '--once',
           '-i', str(args.interval)] + extra
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          check=False)
    print("$ " + ' '.join(cmd))
    print(proc.stdout + proc.stderr)
    check_eq(proc.returncode, 0, "vs-top.py exit status")
    return proc.stdout


def cmd_vstop(args):
    """vs-top.py --once (table and --json) while a guest streams to another."""
    busy = [int(c) for c in args.busy.split(',')]
    idle = [int(c) for c in args.idle.split(',')]
    out = vstop_run(args, [])
    table = [line.split() for line in out.splitlines()]
    cids = [int(w[0]) for w in table if w and w[0].isdigit()]
    check_eq(sorted(cids), sorted(busy + idle), "one row per guest")
    check_eq(sorted(cids[:len(busy)]), sorted(busy), "busiest guests first")
    check(any(w and w[0] == 'TOTAL' for w in table), "a TOTAL row")

    out = vstop_run(args, ['--json'])
    try:
        j = json.loads(out)
    except ValueError:
        check(False, "--json prints JSON")
        return 1
    gs = {x['cid']: x for x in j['guests']}
    check_eq(sorted(gs), sorted(busy + idle), "--json: every guest")
    keys = [(x['rx_bytes_rate'] + x['tx_bytes_rate'],
             x['rx_pkts_rate'] + x['tx_pkts_rate']) for x in j['guests']]
    check(keys == sorted(keys, reverse=True), "--json: sorted busiest first")
    s, d = gs[busy[0]], gs[busy[1]]
    check(s['tx_bytes_rate'] > 0 and s['tx_pkts_rate'] > 0,
          "guest {} sends: {} B/s, {} pkt/s"
          .format(busy[0], s['tx_bytes_rate'], s['tx_pkts_rate']))
    check(d['rx_bytes_rate'] > 0 and d['rx_pkts_rate'] > 0,
          "guest {} receives: {} B/s, {} pkt/s"
          .format(busy[1], d['rx_bytes_rate'], d['rx_pkts_rate']))
    # what one sends the other receives, give or take what is in flight
    slack = 0.25 * s['tx_bytes_rate'] + 2 * 262144 / j['interval']
    check(abs(s['tx_bytes_rate'] - d['rx_bytes_rate']) <= slack,
          "bytes sent by {} = bytes received by {}, within {:.0f} B/s"
          .format(busy[0], busy[1], slack))
    for c in idle:
        check_eq(tuple(gs[c][k] for k in ('rx_pkts_rate', 'tx_pkts_rate',
                                          'rx_bytes_rate', 'tx_bytes_rate')),
                 (0, 0, 0, 0), "guest {} idle".format(c))
    t = j['total']
    for k in ('tx_bytes_rate', 'rx_pkts_rate'):
        check_eq(t[k], sum(x[k] for x in j['guests']),
                 "total {} is the sum".format(k))
    # a loaded machine stretches the interval; it never shrinks
    check(j['interval'] >= 0.9 * args.interval,
          "interval {} s".format(j['interval']))

    cmd = [sys.executable, args.vstop, '-f', 'vs-no-such-prefix', '--once']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          check=False)
    check(proc.returncode != 0 and 'cannot connect' in proc.stderr,
          "without a switch: an error, not a traceback ({!r})"
          .format(proc.stderr.strip()))
    return 0


def cmd_hostflows(args):
    """/vsock/flows with a host-terminated connection (tel_hostflows.c)."""
    r = query(args.file_prefix, ['/vsock/flows', '/vsock/flows,3',
                                 '/vsock/flows,2', '/vsock/guest,3'])
    if r is None:
        return 1
    fl = r['/vsock/flows']
    got = rows(fl)
    check_eq(sorted(k for k in fl if isinstance(fl[k], list)),
             sorted(FLOW_COLUMNS), "flows columns")
    check_eq(fl.get('total'), 2, "flows total: the guest's end and the host's")
    host = [x for x in got if x['local_cid'] == 2]
    guest = [x for x in got if x['local_cid'] == 3]
    if not check_eq((len(host), len(guest)), (1, 1), "one host row, one guest row"):
        return 0
    h, g = host[0], guest[0]
    check_eq((h['local_port'], h['peer_cid'], h['peer_port'], h['type'],
              h['state'], h['direction']),
             (args.host_port, 3, args.port, 'stream', 'connected', 'out'),
             "host row: ends, type, state, direction")
    check_eq((g['local_port'], g['peer_cid'], g['peer_port'], g['direction']),
             (args.port, 2, args.host_port, 'in'), "guest row mirrors it")
    check_eq(h['tx_bytes'], args.host_bytes, "host row tx_bytes")
    check_eq(g['tx_bytes'], args.guest_bytes, "guest row tx_bytes")
    # REQUEST + data packets at least; the guest end counts the same way
    check(h['tx_packets'] >= 2, "host row tx_packets {} >= 2"
          .format(h['tx_packets']))
    check_eq(h['lcore'], args.main_lcore, "host row lcore: the main lcore")
    check_eq(h['buf_alloc'], args.buf_alloc, "host row buf_alloc (--buf-alloc)")
    check_eq(h['fwd_cnt'], args.guest_bytes,
             "host row fwd_cnt: what the host program was given")
    check_eq(g['fwd_cnt'], args.host_bytes,
             "guest row fwd_cnt: what the guest read")
    check_eq((h['peer_buf_alloc'], h['peer_fwd_cnt']),
             (g['buf_alloc'], g['fwd_cnt']),
             "host row's view of the guest's credit = the guest's grant")
    check_eq(h['in_flight'], 0, "host row: nothing in flight")
    check(0 <= h['state_age_ms'] < 600000, "host row state_age_ms {}"
          .format(h['state_age_ms']))
    for q in ('/vsock/flows,3', '/vsock/flows,2'):
        check_eq((r[q].get('total'), len(rows(r[q]))), (2, 2),
                 q + ": both ends")
    check_eq(r['/vsock/guest,3'].get('uds'), args.uds, "guest 3 uds")
    return 0


def main():
    """Parse the subcommand and run it."""
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('wait-running')
    s.add_argument('-f', '--file-prefix', required=True)
    s.add_argument('--timeout', type=float, default=10)
    s.add_argument('cids', nargs='+')
    s = sub.add_parser('telemetry')
    s.add_argument('--facts', required=True)
    s.add_argument('--doc', default=os.environ.get('VS_TELEMETRY_DOC'))
    s = sub.add_parser('closed')
    s.add_argument('--facts', required=True)
    s = sub.add_parser('capture-stats')
    s.add_argument('-f', '--file-prefix', required=True)
    s.add_argument('--running', type=int, required=True)
    s.add_argument('--records', type=int, required=True)
    s = sub.add_parser('pcap')
    s.add_argument('--expect', required=True)
    s = sub.add_parser('vstop')
    s.add_argument('-f', '--file-prefix', required=True)
    s.add_argument('--vstop', required=True)
    s.add_argument('--busy', required=True, help="sender,receiver")
    s.add_argument('--idle', required=True, help="idle CIDs")
    s.add_argument('-i', '--interval', type=float, default=0.5)
    s = sub.add_parser('hostflows')
    s.add_argument('-f', '--file-prefix', required=True)
    for a in ('port', 'host-port', 'host-bytes', 'guest-bytes', 'main-lcore',
              'buf-alloc'):
        s.add_argument('--' + a, type=int, required=True)
    s.add_argument('--uds', required=True)
    args = p.parse_args()
    fn = {'wait-running': cmd_wait_running, 'telemetry': cmd_telemetry,
          'closed': cmd_closed, 'capture-stats': cmd_capture_stats,
          'pcap': cmd_pcap, 'vstop': cmd_vstop,
          'hostflows': cmd_hostflows}[args.cmd]
    ret = fn(args)
    if ret:
        sys.exit(ret)
    finish()


if __name__ == '__main__':
    main()
