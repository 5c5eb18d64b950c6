#! /usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors

"""
Host side of the host-path VM test (run-host-test.sh starts the switch and
gives the guest's QEMU command line after "--").

Before the guest boots it opens every host listener the guest will connect
to (<uds>_5002, <uds>_5006, control LISTEN 5004 and 5008), then starts QEMU
with the guest's command list put in place of @VSOCKCMD@ in its arguments,
and runs the cases in the order the guest runs its vslab-peer steps. Each
connection exchanges a known pattern both ways (vslab-peer.c describes it);
both ends check every byte, SEQPACKET message boundaries, and the CRC32 of
what the other side sent. The guest's result line (VSPEER: ...) is read from
its serial console.

Output: "vm-host: <case>: PASS|FAIL (...)" per case, then (unless
--no-summary) "vm-host: N passed, N failed"; exit 0 when all passed, else 1.
"""

import argparse
import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zlib

PAT_PERIOD = 65521
MSG_SIZES = [1, 2, 17, 100, 1000, 1500, 4095, 4096, 4097, 8192, 32768, 65535, 65536, 65537,
             100000, 3, 60000, 12345]
CID = 3
PORT_REFUSED = 5999         # nobody listens in the guest
PORT_GUEST_REFUSED = 5998   # nobody listens on the host
T0 = time.monotonic()


def log(msg):
    sys.stderr.write('vm-host: [{:.0f}s] {}\n'.format(time.monotonic() - T0, msg))
    sys.stderr.flush()


def pattern(seed, n):
    """The first n bytes of vslab-peer's pattern for seed."""
    x = (seed * 2654435761 + 12345) & 0xffffffff
    block = bytearray(PAT_PERIOD)
    for i in range(PAT_PERIOD):
        x = (x * 1103515245 + 12345) & 0xffffffff
        block[i] = (x >> 16) & 0xff
    block = bytes(block)
    return (block * (n // PAT_PERIOD + 1))[:n]


def msg_sizes(total):
    """SEQPACKET message sizes of a total-byte exchange (as vslab-peer.c)."""
    sizes, off, k = [], 0, 0
    while off < total:
        s = min(MSG_SIZES[k % len(MSG_SIZES)], total - off)
        sizes.append(s)
        off += s
        k += 1
    return sizes


def mbps(nbytes, secs):
    return '{:.1f} MB/s'.format(nbytes / secs / 1e6) if secs > 0 else '-'


class Half:
    """One direction of a connection as this host sees it."""

    def __init__(self):
        self.bytes = 0
        self.msgs = 0
        self.crc = 0
        self.t0 = None
        self.t1 = None
        self.err = None

    def secs(self):
        return (self.t1 - self.t0) if self.t0 is not None and self.t1 is not None else 0


def send_all(sock, data, seq, half):
    """Send data (as SEQPACKET messages when seq), then shut down the sending side."""
    half.t0 = time.monotonic()
    try:
        if seq:
            off = 0
            for size in msg_sizes(len(data)):
                n = sock.send(data[off:off + size])
                if n != size:
                    raise OSError('message {}: {} of {} bytes sent'.format(half.msgs, n, size))
                off += size
                half.msgs += 1
        else:
            view = memoryview(data)
            for off in range(0, len(data), 65536):
                sock.sendall(view[off:off + 65536])
                half.msgs += 1
        half.bytes = len(data)
        half.crc = zlib.crc32(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        half.err = 'send: {}'.format(e)
    half.t1 = time.monotonic()


def recv_all(sock, expect, seq, half):
    """Receive until EOF, checking against the expected bytes (and message sizes)."""
    sizes = msg_sizes(len(expect)) if seq else None
    try:
        while True:
            if seq:
                data, _anc, flags, _addr = sock.recvmsg(1 << 20)
                if flags & socket.MSG_TRUNC:
                    raise OSError('message {} truncated'.format(half.msgs))
            else:
                data = sock.recv(65536)
            if half.t0 is None:
                half.t0 = time.monotonic()
            if not data:
                break
            n = len(data)
            if half.bytes + n > len(expect):
                raise OSError('{} bytes received, {} expected'.format(half.bytes + n, len(expect)))
            if seq and n != sizes[half.msgs]:
                raise OSError('message {}: {} bytes, {} expected'.format(half.msgs, n,
                                                                        sizes[half.msgs]))
            if data != expect[half.bytes:half.bytes + n]:
                i = next(i for i in range(n) if data[i] != expect[half.bytes + i])
                raise OSError('data differs at byte {}'.format(half.bytes + i))
            half.crc = zlib.crc32(data, half.crc)
            half.bytes += n
            half.msgs += 1
        if half.bytes != len(expect):
            raise OSError('EOF after {} of {} bytes'.format(half.bytes, len(expect)))
    except OSError as e:
        half.err = 'recv: {}'.format(e)
    half.t1 = time.monotonic()


class Guest:
    """The guest's serial console, read for vslab-peer's lines."""

    LINE = re.compile(r'VSPEER: (\S+) (ready|PASS|FAIL)(.*)')

    def __init__(self, console, proc):
        self.console = console
        self.proc = proc
        self.seen = {}

    def scan(self):
        try:
            with open(self.console, 'rb') as f:
                text = f.read().decode('ascii', 'replace')
        except OSError:
            return
        # only whole lines: QEMU may be in the middle of writing the last one
        for line in text.replace('\r', '').split('\n')[:-1]:
            if line.startswith('VSLAB-OUT:'):
                continue
            m = self.LINE.search(line)
            if m:
                key = (m.group(1), 'ready' if m.group(2) == 'ready' else 'result')
                self.seen.setdefault(key, (m.group(2), m.group(3).strip()))

    def wait(self, name, what, timeout):
        """(word, rest) of the guest's line for name, or None after timeout."""
        end = time.monotonic() + timeout
        while True:
            self.scan()
            if (name, what) in self.seen:
                return self.seen[(name, what)]
            if self.proc.poll() is not None or time.monotonic() >= end:
                self.scan()
                return self.seen.get((name, what))
            time.sleep(0.2)

    def text(self, pattern_):
        self.scan()
        try:
            with open(self.console, 'rb') as f:
                m = re.search(pattern_, f.read().decode('ascii', 'replace'))
                return m
        except OSError:
            return None


def guest_fields(rest):
    return dict(kv.split('=', 1) for kv in rest.split() if '=' in kv)


class Test:
    def __init__(self, args):
        self.args = args
        self.uds = args.uds
        self.ctl_path = args.control
        self.sbytes = args.stream_bytes
        self.qbytes = args.seq_bytes
        self.results = []
        self.deadline = time.monotonic() + args.timeout
        spec = importlib.util.spec_from_file_location('vs_ctl', args.vs_ctl)
        self.vsctl = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.vsctl)
        self.guest = None
        self.listeners = {}

    def left(self):
        return max(1.0, self.deadline - time.monotonic())

    def report(self, case, ok, detail):
        self.results.append(ok)
        print('vm-host: {}: {} ({})'.format(case, 'PASS' if ok else 'FAIL', detail))
        sys.stdout.flush()

    # ---- the guest's command list -------------------------------------------
    def guest_cmd(self):
        s, q = self.sbytes, self.qbytes
        steps = [
            'listen 5001 stream {s} {s} second',
            'connect 2 5002 stream {s} {s} first',
            'listen 5003 stream {s} {s} duplex',
            'connect 2 5004 stream {s} {s} duplex',
            'listen 5005 seqpacket {q} {q} second',
            'connect 2 5006 seqpacket {q} {q} first',
            'listen 5007 seqpacket {q} {q} duplex',
            'connect 2 5008 seqpacket {q} {q} duplex',
            'rst 2 {r} stream',
        ]
        return '; '.join('vslab-peer ' + st.format(s=s, q=q, r=PORT_GUEST_REFUSED)
                         for st in steps)

    # ---- listeners opened before the guest boots ----------------------------
    def open_listeners(self):
        for port, kind in ((5002, socket.SOCK_STREAM), (5006, socket.SOCK_SEQPACKET)):
            path = '{}_{}'.format(self.uds, port)
            ls = socket.socket(socket.AF_UNIX, kind)
            ls.bind(path)
            ls.listen(4)
            self.listeners[port] = ls
        # control LISTEN 5004 through vs-ctl.py itself (doc/getting_started.rst)
        self.vsctl_listen = subprocess.Popen(
            [sys.executable, self.args.vs_ctl, '-s', self.ctl_path, '-v', 'listen', '5004',
             '--once'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.vsctl_listen.stderr.readline().decode('ascii', 'replace').strip()
        if 'listening' not in line:
            raise RuntimeError('vs-ctl.py listen 5004: {}'.format(line or 'no answer'))
        # control LISTEN 5008 (SEQPACKET): the protocol by hand, for the boundaries
        self.ctl5008 = self.vsctl.control_connect(self.ctl_path)
        self.vsctl.command(self.ctl5008, 'LISTEN 5008 {}'.format(CID))

    # ---- helpers ------------------------------------------------------------
    def exchange(self, sock, seq, tx_seed, rx_seed, order):
        """Run one exchange on sock; returns (tx Half, rx Half)."""
        n = self.qbytes if seq else self.sbytes
        out, exp = pattern(tx_seed, n), pattern(rx_seed, n)
        tx, rx = Half(), Half()
        sock.settimeout(min(150.0, self.left()))
        if order == 'first':
            send_all(sock, out, seq, tx)
            recv_all(sock, exp, seq, rx)
        elif order == 'second':
            recv_all(sock, exp, seq, rx)
            if rx.err is None:
                send_all(sock, out, seq, tx)
        else:
            th = threading.Thread(target=send_all, args=(sock, out, seq, tx))
            th.start()
            recv_all(sock, exp, seq, rx)
            th.join()
        return tx, rx

    def judge(self, case, gname, tx, rx, extra='', seq=False):
        """Combine the host's halves with the guest's result line."""
        g = self.guest.wait(gname, 'result', min(200.0, self.left()))
        errs = []
        if tx.err:
            errs.append('host ' + tx.err)
        if rx.err:
            errs.append('host ' + rx.err)
        if g is None:
            errs.append('guest: no result from {}'.format(gname))
        elif g[0] != 'PASS':
            errs.append('guest: ' + g[1])
        else:
            f = guest_fields(g[1])
            if f.get('rx') != str(tx.bytes) or f.get('rxcrc') != '{:08x}'.format(tx.crc):
                errs.append('guest received {} B crc {}, host sent {} B crc {:08x}'.format(
                    f.get('rx'), f.get('rxcrc'), tx.bytes, tx.crc))
            if f.get('tx') != str(rx.bytes) or f.get('txcrc') != '{:08x}'.format(rx.crc):
                errs.append('guest sent {} B crc {}, host received {} B crc {:08x}'.format(
                    f.get('tx'), f.get('txcrc'), rx.bytes, rx.crc))
        if errs:
            self.report(case, False, '; '.join(errs))
            return
        f = guest_fields(g[1])
        g_rx = int(f.get('rx_ms', '0')) / 1000.0
        detail = ('host->guest {} B crc {:08x} in {:.2f} s (guest rx, {}), '
                  'guest->host {} B crc {:08x} in {:.2f} s (host rx, {}){}{}').format(
            tx.bytes, tx.crc, g_rx, mbps(tx.bytes, g_rx), rx.bytes, rx.crc, rx.secs(),
            mbps(rx.bytes, rx.secs()),
            '; messages {}/{}'.format(tx.msgs, rx.msgs) if seq else '', extra)
        self.report(case, True, detail)

    def wait_ready(self, gname):
        return self.guest.wait(gname, 'ready', min(200.0, self.left())) is not None

    def hybrid_connect(self, port, seq):
        """Connect through the hybrid socket: (socket, 'OK <host_port>') or raise."""
        if seq:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(10)
            s.connect(self.uds + '_seqpacket')
            s.send('CONNECT {}\n'.format(port).encode())
            line = s.recv(128).decode('ascii', 'replace')
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(self.uds)
            s.sendall('CONNECT {}\n'.format(port).encode())
            line = ''
            while not line.endswith('\n'):
                c = s.recv(1)
                if not c:
                    break
                line += c.decode('ascii', 'replace')
        if not re.match(r'^OK [0-9]+\n$', line):
            s.close()
            raise OSError('hybrid CONNECT {}: answer {!r}'.format(port, line))
        return s, line.strip()

    def accept(self, port):
        ls = self.listeners[port]
        ls.settimeout(min(200.0, self.left()))
        conn, _ = ls.accept()
        return conn

    # ---- the cases, in the guest's order -------------------------------------
    def case_hybrid_h2g(self, port, seq, case):
        gname = 'listen:{}'.format(port)
        if not self.wait_ready(gname):
            self.report(case, False, 'guest never listened on port {}'.format(port))
            return
        try:
            s, ok = self.hybrid_connect(port, seq)
        except OSError as e:
            self.report(case, False, str(e))
            return
        tx, rx = self.exchange(s, seq, port, port + 65536, 'first')
        s.close()
        self.judge(case, gname, tx, rx, '; {}'.format(ok), seq)

    def case_uds_listener(self, port, seq, case):
        gname = 'connect:2:{}'.format(port)
        try:
            conn = self.accept(port)
        except OSError as e:
            self.report(case, False, 'no guest connection on {}_{}: {}'.format(self.uds, port, e))
            return
        tx, rx = self.exchange(conn, seq, port + 65536, port, 'second')
        conn.close()
        self.judge(case, gname, tx, rx, seq=seq)

    def run_vsctl(self, proc, tx_seed, rx_seed):
        """Feed vs-ctl.py the pattern (unless its stdin is a file already),
        read its output: (tx Half, rx Half, stderr)."""
        out, exp = pattern(tx_seed, self.sbytes), pattern(rx_seed, self.sbytes)
        tx, rx = Half(), Half()

        def feed():
            tx.t0 = time.monotonic()
            try:
                if proc.stdin is not None:
                    proc.stdin.write(out)
                    proc.stdin.close()
                tx.bytes, tx.crc, tx.msgs = len(out), zlib.crc32(out), 1
            except OSError as e:
                tx.err = 'writing to vs-ctl.py: {}'.format(e)
            tx.t1 = time.monotonic()
        th = threading.Thread(target=feed)
        th.start()
        # vs-ctl.py waits for the guest as long as it takes: bound it
        killer = threading.Timer(min(200.0, self.left()), proc.kill)
        killer.start()
        data = bytearray()
        rx.t0 = None
        while True:
            chunk = proc.stdout.read1(65536)
            if rx.t0 is None:
                rx.t0 = time.monotonic()
            if not chunk:
                break
            data += chunk
        rx.t1 = time.monotonic()
        th.join()
        killer.cancel()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode('ascii', 'replace').strip()
        rx.bytes, rx.crc, rx.msgs = len(data), zlib.crc32(data), 1
        if bytes(data) != exp:
            if len(data) != len(exp):
                rx.err = 'vs-ctl.py printed {} bytes, {} expected'.format(len(data), len(exp))
            else:
                i = next(i for i in range(len(data)) if data[i] != exp[i])
                rx.err = 'data differs at byte {}'.format(i)
        if proc.returncode != 0:
            rx.err = (rx.err + '; ' if rx.err else '') + 'vs-ctl.py exit {}: {}'.format(
                proc.returncode, err)
        return tx, rx, err

    def case_ctl_connect_stream(self, port, case):
        gname = 'listen:{}'.format(port)
        if not self.wait_ready(gname):
            self.report(case, False, 'guest never listened on port {}'.format(port))
            return
        # stdin a regular file, as in "vs-ctl.py connect 3 1234 <file"
        path = os.path.join(os.path.dirname(os.path.abspath(self.args.console)),
                            'tx-{}.bin'.format(port))
        with open(path, 'wb') as f:
            f.write(pattern(port, self.sbytes))
        with open(path, 'rb') as f:
            proc = subprocess.Popen([sys.executable, self.args.vs_ctl, '-s', self.ctl_path,
                                     '-v', 'connect', str(CID), str(port)],
                                    stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tx, rx, err = self.run_vsctl(proc, port, port + 65536)
        os.unlink(path)
        self.judge(case, gname, tx, rx, '; vs-ctl.py: {}'.format(err.splitlines()[0] if err
                                                                 else '-'))

    def case_ctl_listen_stream(self, port, case):
        gname = 'connect:2:{}'.format(port)
        tx, rx, err = self.run_vsctl(self.vsctl_listen, port + 65536, port)
        self.judge(case, gname, tx, rx, '; vs-ctl.py: {}'.format(' / '.join(err.splitlines())))

    def case_ctl_connect_seq(self, port, case):
        gname = 'listen:{}'.format(port)
        if not self.wait_ready(gname):
            self.report(case, False, 'guest never listened on port {}'.format(port))
            return
        try:
            ctl = self.vsctl.control_connect(self.ctl_path)
            ctl.settimeout(10)
            reply, fd = self.vsctl.command(ctl, 'CONNECT {} {} seqpacket'.format(CID, port))
            ctl.close()
            if fd is None:
                raise OSError('no socket came with "{}"'.format(reply))
        except (OSError, self.vsctl.CtlError) as e:
            self.report(case, False, 'CONNECT {} {} seqpacket: {}'.format(CID, port, e))
            return
        s = socket.socket(fileno=fd)
        if s.type != socket.SOCK_SEQPACKET:
            self.report(case, False, 'the socket from CONNECT is not SOCK_SEQPACKET')
            return
        tx, rx = self.exchange(s, True, port, port + 65536, 'duplex')
        s.close()
        self.judge(case, gname, tx, rx, '; ' + reply, True)

    def case_ctl_listen_seq(self, port, case):
        gname = 'connect:2:{}'.format(port)
        try:
            self.ctl5008.settimeout(min(200.0, self.left()))
            line, fd = self.vsctl.read_line(self.ctl5008)
            if fd is None or not re.match(r'^ACCEPT {} [0-9]+ [0-9]+$'.format(CID), line):
                raise OSError('unexpected "{}"'.format(line))
        except (OSError, self.vsctl.CtlError) as e:
            self.report(case, False, 'LISTEN {}: {}'.format(port, e))
            return
        s = socket.socket(fileno=fd)
        if s.type != socket.SOCK_SEQPACKET:
            self.report(case, False, 'the socket from ACCEPT is not SOCK_SEQPACKET')
            return
        tx, rx = self.exchange(s, True, port + 65536, port, 'duplex')
        s.close()
        self.judge(case, gname, tx, rx, '; ' + line, True)

    def case_host_refused(self):
        # control socket, as the doc shows it with vs-ctl.py
        p = subprocess.run([sys.executable, self.args.vs_ctl, '-s', self.ctl_path, 'connect',
                            str(CID), str(PORT_REFUSED)], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        err = p.stderr.decode('ascii', 'replace').strip()
        ok = p.returncode == 1 and 'ERR ECONNREFUSED' in err
        self.report('control-connect-refused', ok, 'vs-ctl.py connect {} {}: exit {}, "{}"'.format(
            CID, PORT_REFUSED, p.returncode, err))
        # hybrid socket: closed without a word
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(self.uds)
            s.sendall('CONNECT {}\n'.format(PORT_REFUSED).encode())
            t = time.monotonic()
            data = s.recv(128)
            s.close()
            ok = data == b''
            detail = 'CONNECT {}: {} after {:.0f} ms'.format(
                PORT_REFUSED, 'closed without a word' if ok else 'answer {!r}'.format(data),
                (time.monotonic() - t) * 1000)
        except OSError as e:
            ok, detail = False, 'CONNECT {}: {}'.format(PORT_REFUSED, e)
        self.report('hybrid-connect-refused', ok, detail)

    def case_guest_rst(self):
        # guest -> host port nobody listens on: the switch answers RST, which
        # Linux's connect() reports as ECONNRESET
        name = 'rst:2:{}'.format(PORT_GUEST_REFUSED)
        g = self.guest.wait(name, 'result', min(200.0, self.left()))
        self.report('guest-connect-refused', g is not None and g[0] == 'PASS',
                    'guest connect to 2:{}: {}'.format(
                        PORT_GUEST_REFUSED, 'no result' if g is None else
                        (g[1] if g[0] != 'PASS' else 'RST, connect() failed with ECONNRESET')))

    def counters(self):
        try:
            s = self.vsctl.control_connect(self.ctl_path)
            s.settimeout(10)
            reply, _ = self.vsctl.command(s, 'STATS')
            s.close()
        except (OSError, self.vsctl.CtlError) as e:
            self.report('switch-counters', False, 'STATS: {}'.format(e))
            return
        st = dict(kv.split('=', 1) for kv in reply.split()[1:] if '=' in kv)
        bad = {k: st.get(k) for k in ('credit_violations', 'proto_errors', 'conns_open')
               if st.get(k) != '0'}
        keep = ' '.join('{}={}'.format(k, st.get(k)) for k in (
            'rx_bytes', 'tx_bytes', 'rx_rw', 'tx_rw', 'credit_updates', 'credit_requests',
            'credit_asks', 'refused', 'rst_sent', 'rst_rcvd', 'max_gap_ms'))
        self.report('switch-counters', not bad,
                    ('unexpected {} ; '.format(bad) if bad else '') + keep)

    def run(self, qemu):
        self.vsctl_listen = None
        try:
            self.open_listeners()
        except (OSError, RuntimeError, self.vsctl.CtlError) as e:
            self.report('setup', False, 'host listeners: {}'.format(e))
            if self.vsctl_listen is not None and self.vsctl_listen.poll() is None:
                self.vsctl_listen.kill()
            if not self.args.no_summary:
                print('vm-host: 0 passed, 1 failed')
            return 1
        cmd = self.guest_cmd()
        qemu = [a.replace('@VSOCKCMD@', cmd) for a in qemu]
        qlog = open(self.args.console[:-4] + '.qemu.log' if self.args.console.endswith('.log')
                    else self.args.console + '.qemu', 'wb')
        log('guest command: ' + cmd)
        open(self.args.console, 'wb').close()   # no stale lines from an earlier run
        proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog)
        self.guest = Guest(self.args.console, proc)
        try:
            t = time.monotonic()
            m = None
            while m is None and proc.poll() is None and time.monotonic() - t < min(
                    240, self.left()):
                m = self.guest.text(r'VSLAB: virtio-vsock (.*)')
                time.sleep(0.3)
            if m is None:
                self.report('guest-boot', False, 'no "VSLAB: virtio-vsock" line on the console')
            else:
                ok = 'local cid {}'.format(CID) in m.group(1)
                self.report('guest-boot', ok, 'after {:.0f} s: virtio-vsock {}'.format(
                    time.monotonic() - t, m.group(1).strip()))
            if m is not None:
                # the host's errors while the guest runs (it waits in its first step)
                if self.wait_ready('listen:5001'):
                    self.case_host_refused()
                self.case_hybrid_h2g(5001, False, 'hybrid-stream-host-to-guest')
                self.case_uds_listener(5002, False, 'hybrid-stream-guest-to-host')
                self.case_ctl_connect_stream(5003, 'control-stream-connect')
                self.case_ctl_listen_stream(5004, 'control-stream-listen')
                self.case_hybrid_h2g(5005, True, 'hybrid-seqpacket-host-to-guest')
                self.case_uds_listener(5006, True, 'hybrid-seqpacket-guest-to-host')
                self.case_ctl_connect_seq(5007, 'control-seqpacket-connect')
                self.case_ctl_listen_seq(5008, 'control-seqpacket-listen')
                self.case_guest_rst()
                self.counters()
            # the guest powers off once its list is done
            try:
                proc.wait(timeout=min(60, self.left()))
            except subprocess.TimeoutExpired:
                pass
            m = self.guest.text(r'VSLAB-EXIT: ([0-9]+)')
            log('guest exit: {}'.format(m.group(1) if m else 'none (still running)'))
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self.vsctl_listen.poll() is None:
                self.vsctl_listen.kill()
                self.vsctl_listen.wait()
        passed = sum(1 for r in self.results if r)
        failed = len(self.results) - passed
        if not self.args.no_summary:
            print('vm-host: {} passed, {} failed'.format(passed, failed))
        return 0 if failed == 0 and passed > 0 else 1


def size(s):
    mult = {'K': 1024, 'M': 1 << 20}.get(s[-1:].upper(), 1)
    return int(s[:-1] if mult > 1 else s) * mult


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--uds', required=True, help="the guest's hybrid socket path")
    ap.add_argument('--control', required=True, help="the switch's control socket")
    ap.add_argument('--console', required=True, help="file QEMU writes the guest's console to")
    ap.add_argument('--vs-ctl', required=True, help='usertools/vs-ctl.py')
    ap.add_argument('--stream-bytes', type=size, default=size('4M'))
    ap.add_argument('--seq-bytes', type=size, default=size('1M'))
    ap.add_argument('--timeout', type=float, default=600, help='bound for all cases (s)')
    ap.add_argument('--no-summary', action='store_true',
                    help='leave out the final "N passed, N failed" line')
    ap.add_argument('qemu', nargs=argparse.REMAINDER, help='-- QEMU command line')
    args = ap.parse_args()
    qemu = args.qemu[1:] if args.qemu[:1] == ['--'] else args.qemu
    if not qemu:
        ap.error('no QEMU command line after --')
    return Test(args).run(qemu)


if __name__ == '__main__':
    sys.exit(main())
