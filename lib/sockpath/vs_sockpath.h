/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_SOCKPATH_H
#define VS_SOCKPATH_H

/**
 * @file
 * Claiming a path for a listening UNIX socket, the same way for every socket
 * the switch creates (vhost-user guest sockets, hybrid vsock sockets, the
 * control socket): a live listener there is an error (another switch or QEMU
 * owns it), a stale socket file is removed, anything else is an error.
 * Plain C, no DPDK.
 */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Make @p path ready for bind().
 *
 * The directory must exist and be writable; a socket file nobody accepts on
 * (stream or seqpacket) is removed.
 *
 * @return 0, or a negative errno: -ENAMETOOLONG (longer than sun_path),
 *   -ENOENT or -ENOTDIR (no such directory), -EACCES (directory not writable),
 *   -EEXIST (a file that is not a socket), -EADDRINUSE (a live listener), or
 *   what stat(), socket() or unlink() said.
 */
int vs_sockpath_claim(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* VS_SOCKPATH_H */
