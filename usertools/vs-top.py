#! /usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors

"""
Live view of a vsock-switch: per-guest packet and byte rates, busiest first.

Reads the switch's DPDK telemetry socket (the one dpdk-telemetry.py uses,
/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2) every interval and shows, for
each guest, what it sent (TX: taken from its tx queue) and received (RX:
written into its rx queue) per second, drops per second and open connections.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import time

TELEMETRY_VERSION = 'v2'
SOCKET_NAME = 'dpdk_telemetry.{}'.format(TELEMETRY_VERSION)
DEFAULT_PREFIX = 'vsock-switch'
# entries of one telemetry array (RTE_TEL_MAX_ARRAY_ENTRIES in DPDK 22.11)
ARRAY_MAX = 512
RATE_FIELDS = [('rx_packets', 'rx_pkts_rate'), ('rx_bytes', 'rx_bytes_rate'),
               ('tx_packets', 'tx_pkts_rate'), ('tx_bytes', 'tx_bytes_rate'),
               ('drops', 'drops_rate'), ('rst_sent', 'rst_rate')]


def get_dpdk_runtime_dir(fp):
    """The DPDK runtime directory of a file-prefix, as EAL computes it."""
    run_dir = os.environ.get('RUNTIME_DIRECTORY')
    if not run_dir:
        if os.getuid() == 0:
            run_dir = '/var/run'
        else:
            run_dir = os.environ.get('XDG_RUNTIME_DIR', '/tmp')
    return os.path.join(run_dir, 'dpdk', fp)


class Telemetry:
    """A connection to a DPDK application's telemetry socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(path)
        info = json.loads(self.sock.recv(1024).decode())
        self.max_len = info['max_output_len']

    def query(self, cmd):
        """Send one command; its value (None if the application refused it)."""
        self.sock.send(cmd.encode())
        reply = self.sock.recv(self.max_len).decode()
        if not reply:
            raise ConnectionError("telemetry socket closed")
        return json.loads(reply).get(cmd.split(',')[0])

    def close(self):
        """Close the connection."""
        self.sock.close()


def guest_cids(tel):
    """CIDs of the attached guests.

    A telemetry array holds at most 512 entries (RTE_TEL_MAX_ARRAY_ENTRIES): a
    full page is followed by '/vsock/guests,<next CID>' for the rest, for as
    long as that brings new CIDs."""
    cids, seen = [], set()
    page = tel.query('/vsock/guests') or []
    while page:
        new = [c for c in page if c not in seen]
        cids += new
        seen.update(new)
        if len(page) < ARRAY_MAX or not new:
            break
        page = tel.query('/vsock/guests,{}'.format(max(page) + 1)) or []
    return cids


def sample(tel):
    """Counters of every guest: {cid: {...}}, and the switch totals."""
    guests = {}
    for cid in guest_cids(tel):
        g = tel.query('/vsock/guest,{}'.format(cid))
        if g is None:  # removed meanwhile
            continue
        g['drops'] = sum(v for k, v in g.items() if k.startswith('drop_'))
        guests[cid] = g
    return time.monotonic(), guests, tel.query('/vsock/stats') or {}


def rates(prev, cur):
    """Per-guest rates between two samples, busiest first, and their total."""
    t0, g0, _ = prev
    t1, g1, stats = cur
    dt = max(t1 - t0, 1e-6)
    out = []
    for cid, g in g1.items():
        old = g0.get(cid, {})
        row = {'cid': cid, 'state': g.get('state', '?'),
               'lcore': g.get('lcore'), 'connections': g.get('connections', 0)}
        for field, name in RATE_FIELDS:
            # a guest removed and added again restarts at zero
            delta = g.get(field, 0) - old.get(field, 0)
            row[name] = round(max(delta, 0) / dt) if old else 0
        out.append(row)
    out.sort(key=lambda r: (r['rx_bytes_rate'] + r['tx_bytes_rate'],
                            r['rx_pkts_rate'] + r['tx_pkts_rate'], -r['cid']),
             reverse=True)
    total = {name: sum(r[name] for r in out) for _, name in RATE_FIELDS}
    total['connections'] = stats.get(
        'connection_ends', sum(r['connections'] for r in out))
    total['guests'] = len(out)
    total['guests_running'] = stats.get(
        'guests_running', sum(r['state'] == 'running' for r in out))
    return {'interval': round(dt, 3), 'guests': out, 'total': total}


def human(n, unit=''):
    """1234567 -> '1.2M'."""
    for suffix in ('', 'K', 'M', 'G', 'T'):
        if abs(n) < 1000 or suffix == 'T':
            fmt = '{:.0f}{}{}' if suffix == '' else '{:.1f}{}{}'
            return fmt.format(n, suffix, unit)
        n /= 1000.0
    return str(n)


def table(view, prefix, limit):
    """The view as lines of text."""
    t = view['total']
    fmt = '{:>10} {:<18} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>6}'
    title = 'vsock-switch {}: {} guests, {} running, {} connection ends, ' \
        'interval {:.1f} s'
    lines = [title.format(prefix, t['guests'], t['guests_running'],
                          t['connections'], view['interval']),
             fmt.format('CID', 'STATE', 'LCORE', 'TX pkt/s', 'TX B/s',
                        'RX pkt/s', 'RX B/s', 'DROP/s', 'RST/s', 'CONNS')]
    shown = view['guests'] if limit is None else view['guests'][:limit]
    for r in shown:
        lines.append(fmt.format(
            r['cid'], r['state'], '-' if r['lcore'] is None else r['lcore'],
            human(r['tx_pkts_rate']), human(r['tx_bytes_rate']),
            human(r['rx_pkts_rate']), human(r['rx_bytes_rate']),
            human(r['drops_rate']), human(r['rst_rate']), r['connections']))
    if len(shown) < len(view['guests']):
        lines.append('{:>10} ({} more guests)'.format(
            '...', len(view['guests']) - len(shown)))
    lines.append(fmt.format(
        'TOTAL', '', '', human(t['tx_pkts_rate']), human(t['tx_bytes_rate']),
        human(t['rx_pkts_rate']), human(t['rx_bytes_rate']),
        human(t['drops_rate']), human(t['rst_rate']), t['connections']))
    return lines


def main():
    """Parse arguments, then show samples until interrupted (or once)."""
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-f', '--file-prefix', default=DEFAULT_PREFIX,
                        help='EAL --file-prefix of the switch '
                        '(default %(default)s)')
    parser.add_argument('-i', '--interval', type=float, default=1.0,
                        help='seconds between samples (default %(default)s)')
    parser.add_argument('--once', action='store_true',
                        help='print one sample (rates over one interval) '
                        'and exit')
    parser.add_argument('--json', action='store_true',
                        help='print samples as JSON objects, one a line')
    parser.add_argument('-n', '--top', type=int, default=None,
                        help='show at most this many guests '
                        '(default: what fits)')
    args = parser.parse_args()
    if args.interval <= 0:
        parser.error('--interval must be positive')

    path = os.path.join(get_dpdk_runtime_dir(args.file_prefix), SOCKET_NAME)
    try:
        tel = Telemetry(path)
    except (OSError, ValueError) as e:
        sys.exit("vs-top: cannot connect to {}: {} (is the switch running "
                 "with --file-prefix {}?)".format(path, e, args.file_prefix))
    tty = sys.stdout.isatty() and not args.once and not args.json
    try:
        prev = sample(tel)
        while True:
            time.sleep(args.interval)
            cur = sample(tel)
            view = rates(prev, cur)
            prev = cur
            if args.json:
                print(json.dumps(view), flush=True)
            else:
                limit = args.top
                if limit is None and tty:
                    limit = max(shutil.get_terminal_size().lines - 4, 1)
                text = '\n'.join(table(view, args.file_prefix, limit))
                print(('\033[H\033[J' if tty else '') + text, flush=True)
                if not tty and not args.once:
                    print(flush=True)
            if args.once:
                break
    except KeyboardInterrupt:
        # one Ctrl-C is enough; a second one must not break the clean-up
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (OSError, ValueError) as e:
        sys.exit("vs-top: telemetry: {}".format(e))
    finally:
        tel.close()


if __name__ == '__main__':
    main()
