#! /usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vsock-switch authors

"""
Talk to guests through a vsock-switch's control socket (--control PATH).

  vs-ctl.py -s PATH connect CID PORT [--seqpacket]
      connect to guest CID, port PORT; relay stdin/stdout like socat
  vs-ctl.py -s PATH listen PORT [--cid CID] [--exec CMD | --once]
      accept guest connections to host port PORT: relay each in turn with
      stdin/stdout, only the first (--once), or run CMD for each with the
      connection as its stdin and stdout (--exec, like socat's EXEC)
  vs-ctl.py -s PATH stats
      print the host endpoint's counters
  vs-ctl.py -s PATH conns
      list the open connections between guests and host programs
  vs-ctl.py -s PATH guest-add cid=N,socket=PATH[,lcore=N][,uds=PATH]
      add a guest while the switch runs (the words of --guest)
  vs-ctl.py -s PATH guest-del CID
      remove a guest: its connections are reset, its sockets removed
  vs-ctl.py -s PATH guests
      list the guests: CID, state, lcore, NUMA node of its memory, sockets

PATH defaults to $VS_CONTROL. Errors come back from the switch as
"ERR <ERRNO_NAME> <text>"; the exit status is 1 for them (2 for usage errors).
doc/host.rst describes the protocol.
"""

import argparse
import array
import os
import selectors
import signal
import socket
import subprocess
import sys

CHUNK = 65536
LINE_MAX = 8192


class CtlError(Exception):
    """The switch answered ERR, or the conversation broke."""


def control_connect(path):
    """A connected stream socket to the control socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        raise CtlError('cannot connect to {}: {}'.format(path, e.strerror))
    return s


def read_line(sock):
    """One line and the file descriptor sent with it (or None); nothing beyond."""
    peek = sock.recv(LINE_MAX, socket.MSG_PEEK)
    if not peek:
        raise CtlError('the switch closed the connection')
    end = peek.find(b'\n')
    want = end + 1 if end >= 0 else len(peek)
    fds = array.array('i')
    data, anc, _flags, _addr = sock.recvmsg(want, socket.CMSG_SPACE(fds.itemsize))
    fd = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            fd = fds[0]
    line = data.decode('ascii', 'replace').rstrip('\r\n')
    if end < 0:
        # the line continues: keep reading (no descriptor comes with a tail)
        rest, _ = read_line(sock)
        line += rest
    return line, fd


def command(sock, line):
    """Send a command line; return the reply line and descriptor, raise on ERR."""
    sock.sendall(line.encode('ascii') + b'\n')
    reply, fd = read_line(sock)
    if not reply.startswith('OK'):
        raise CtlError(reply)
    return reply, fd


def relay(sock, seqpacket, fin=0, fout=1):
    """Copy fin -> sock and sock -> fout until the socket's peer is done."""
    # select(), not epoll: stdin may be a regular file or /dev/null, which
    # epoll refuses (EPERM) and select() reports always readable
    sel = selectors.SelectSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(fin, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is sock:
                data = sock.recv(CHUNK * 16 if seqpacket else CHUNK)
                if not data:
                    # end of the stream (vsock has no empty SEQPACKET messages)
                    return
                while data:
                    data = data[os.write(fout, data):]
            else:
                data = os.read(fin, CHUNK)
                if not data:
                    sel.unregister(fin)
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        return
                    continue
                try:
                    if seqpacket:
                        sock.send(data)     # one read, one message
                    else:
                        sock.sendall(data)
                except BrokenPipeError:
                    return


def do_connect(args):
    sock = control_connect(args.socket)
    kind = 'seqpacket' if args.seqpacket else 'stream'
    reply, fd = command(sock, 'CONNECT {} {} {}'.format(args.cid, args.port, kind))
    if args.verbose:
        sys.stderr.write('{}\n'.format(reply))
    if args.seqpacket:
        if fd is None:
            raise CtlError('no socket came with the answer')
        sock.close()
        sock = socket.socket(fileno=fd)
    relay(sock, args.seqpacket)
    sock.close()
    return 0


def do_listen(args):
    ctl = control_connect(args.socket)
    cmd = 'LISTEN {}'.format(args.port)
    if args.cid is not None:
        cmd += ' {}'.format(args.cid)
    command(ctl, cmd)
    if args.verbose:
        sys.stderr.write('listening on host port {}\n'.format(args.port))
    children = []
    while True:
        line, fd = read_line(ctl)
        if fd is None or not line.startswith('ACCEPT '):
            raise CtlError('unexpected "{}"'.format(line))
        if args.verbose or args.exec_cmd:
            sys.stderr.write('{}\n'.format(line))
        conn = socket.socket(fileno=fd)
        seqpacket = conn.type == socket.SOCK_SEQPACKET
        if args.exec_cmd:
            children.append(subprocess.Popen(args.exec_cmd, shell=True, stdin=conn,
                                             stdout=conn, close_fds=True))
            conn.close()
            children = [c for c in children if c.poll() is None]
            continue
        relay(conn, seqpacket)
        conn.close()
        if args.once:
            return 0


def do_stats(args):
    sock = control_connect(args.socket)
    reply, _ = command(sock, 'STATS')
    for item in reply.split()[1:]:
        key, _, value = item.partition('=')
        print('{:20} {}'.format(key, value))
    return 0


def do_conns(args):
    sock = control_connect(args.socket)
    sock.sendall(b'CONNS\n')
    lines = read_all(sock)
    print('{:>10} {:>10} {:>10} {:9} {:10} {:>10} {:>10} {:5}'.format(
        'CID', 'GUEST_PORT', 'HOST_PORT', 'TYPE', 'STATE', 'BUFFERED', 'CREDIT', 'SHUT'))
    for line in lines[:-1]:
        f = line.split()
        if len(f) < 9 or f[0] != 'CONN':
            continue
        kv = dict(x.split('=', 1) for x in f[6:] if '=' in x)
        print('{:>10} {:>10} {:>10} {:9} {:10} {:>10} {:>10} {:5}'.format(
            f[1], f[2], f[3], f[4], f[5], kv.get('buffered', ''), kv.get('credit', ''),
            kv.get('shut', '')))
    return 0


def read_all(sock):
    """Every line until the switch closes; raise unless the last one is OK."""
    data = b''
    while True:
        chunk = sock.recv(CHUNK)
        if not chunk:
            break
        data += chunk
    lines = data.decode('ascii', 'replace').splitlines()
    if not lines or not lines[-1].startswith('OK'):
        raise CtlError(lines[-1] if lines else 'no answer')
    return lines


def do_guest_add(args):
    sock = control_connect(args.socket)
    command(sock, 'GUEST-ADD {}'.format(args.spec))
    if args.verbose:
        sys.stderr.write('guest added\n')
    return 0


def do_guest_del(args):
    sock = control_connect(args.socket)
    command(sock, 'GUEST-DEL {}'.format(args.cid))
    if args.verbose:
        sys.stderr.write('guest {} deleted\n'.format(args.cid))
    return 0


def do_guests(args):
    sock = control_connect(args.socket)
    sock.sendall(b'GUESTS\n')
    lines = read_all(sock)
    print('{:>10} {:18} {:>5} {:>9}  {}'.format('CID', 'STATE', 'LCORE', 'NUMA_NODE',
                                                'SOCKET [UDS]'))
    for line in lines[:-1]:
        f = line.split()
        if not f or f[0] != 'GUEST':
            continue
        kv = dict(x.split('=', 1) for x in f[1:] if '=' in x)
        paths = kv.get('socket', '')
        if 'uds' in kv:
            paths += ' ' + kv['uds']
        print('{:>10} {:18} {:>5} {:>9}  {}'.format(kv.get('cid', ''), kv.get('state', ''),
                                                    kv.get('lcore', ''),
                                                    kv.get('numa_node', ''), paths))
    return 0


def main():
    parser = argparse.ArgumentParser(
        description='Connect to and listen for guests through a vsock-switch '
                    'control socket.')
    parser.add_argument('-s', '--socket', default=os.environ.get('VS_CONTROL'),
                        help='control socket (default: $VS_CONTROL)')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='report the switch\'s answers on stderr')
    sub = parser.add_subparsers(dest='cmd', required=True)

    p = sub.add_parser('connect', help='connect to a guest, relay stdin/stdout')
    p.add_argument('cid', type=int, help='guest CID')
    p.add_argument('port', type=int, help='guest port')
    p.add_argument('--seqpacket', action='store_true',
                   help='SOCK_SEQPACKET: each read of stdin is one message')
    p.set_defaults(func=do_connect)

    p = sub.add_parser('listen', help='accept guest connections to a host port')
    p.add_argument('port', type=int, help='host port the guests connect to')
    p.add_argument('--cid', type=int, help='only connections from this guest')
    group = p.add_mutually_exclusive_group()
    group.add_argument('--exec', dest='exec_cmd', metavar='CMD',
                       help='run CMD (with sh -c) for each connection, the '
                            'connection as its stdin and stdout')
    group.add_argument('--once', action='store_true',
                       help='relay the first connection, then exit')
    p.set_defaults(func=do_listen)

    p = sub.add_parser('stats', help='print the host endpoint counters')
    p.set_defaults(func=do_stats)

    p = sub.add_parser('conns', help='list the open connections')
    p.set_defaults(func=do_conns)

    p = sub.add_parser('guest-add', help='add a guest while the switch runs')
    p.add_argument('spec', help='cid=N,socket=PATH[,lcore=N][,uds=PATH]')
    p.set_defaults(func=do_guest_add)

    p = sub.add_parser('guest-del', help='remove a guest')
    p.add_argument('cid', type=int, help='guest CID')
    p.set_defaults(func=do_guest_del)

    p = sub.add_parser('guests', help='list the guests')
    p.set_defaults(func=do_guests)

    args = parser.parse_args()
    if not args.socket:
        parser.error('no control socket: use -s PATH or set VS_CONTROL')
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return args.func(args)
    except CtlError as e:
        sys.stderr.write('vs-ctl: {}\n'.format(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
