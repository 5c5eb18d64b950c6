/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VHOST_PORT_H
#define VHOST_PORT_H

/**
 * @file
 * Guest ports over vhost-user (librte_vhost).
 *
 * One vhost-user socket per guest; the switch is the device backend. The
 * frontend (QEMU's vhost-user-vsock-pci, or the project's emulated guest) learns
 * the guest's CID with GET_CONFIG, which librte_vhost 22.11 only answers for vDPA
 * devices: it is answered here, from a message hook installed on every new
 * connection. GET_QUEUE_NUM is answered with 2 (rx, tx: the event queue stays in
 * the frontend). Offered: VERSION_1, VSOCK_F_SEQPACKET, RING_INDIRECT_DESC,
 * RING_EVENT_IDX and the protocol features MQ, REPLY_ACK, CONFIG; not STATUS, which
 * QEMU's vsock never completes.
 *
 * Setting our own feature bits turns librte_vhost's net data path off: the rings
 * are walked by lib/virtq on the port's worker lcore, and their indices are handed
 * back with rte_vhost_set_vring_base() so that GET_VRING_BASE and interrupt
 * suppression stay right.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vs_port;

#ifdef __cplusplus
extern "C" {
#endif

/** Features a vsock backend offers. */
#define VHOST_PORT_FEATURES                                                         \
	((1ULL << 32) /* VIRTIO_F_VERSION_1 */ | (1ULL << 1) /* VSOCK_F_SEQPACKET */ |  \
	 (1ULL << 28) /* VIRTIO_RING_F_INDIRECT_DESC */ |                               \
	 (1ULL << 29) /* VIRTIO_RING_F_EVENT_IDX */ |                                   \
	 (1ULL << 30) /* VHOST_USER_F_PROTOCOL_FEATURES */)

/** How a guest is attached. */
struct vhost_port_conf {
	uint64_t cid;
	char socket[PATH_MAX];
	unsigned int lcore; /**< owner lcore, RTE_MAX_LCORE for automatic */
	/**
	 * Client mode: the frontend listens on @c socket (QEMU's
	 * -chardev socket,server=on) and the switch connects to it, and again
	 * every second while it is not there (librte_vhost's reconnect thread).
	 * A client guest takes one fd of librte_vhost's 1024-fd set, a server
	 * guest two (listener and connection).
	 */
	bool client;
	/**
	 * Reconnect grace in milliseconds (0: none). A frontend that disconnects
	 * (not a driver stop) suspends the guest instead of ending it: its CID,
	 * connections and queued packets are kept this long, and a frontend that
	 * comes back on the same socket with the same guest memory (same memfd,
	 * offsets and guest addresses) and the same rings continues them; see
	 * vs_port_suspend().
	 */
	uint32_t reconnect_grace_ms;
};

/** A guest as "--guest" and the control socket's GUEST-ADD give it. */
struct vhost_port_spec {
	struct vhost_port_conf conf;
	char uds[PATH_MAX]; /**< hybrid socket for host programs, "" for none */
};

/** Keys of a guest spec. */
#define VHOST_PORT_SPEC_USAGE \
	"cid=<N>,socket=<path>[,lcore=<N>][,uds=<path>][,client][,reconnect-grace=<ms>]"

/** Longest reconnect grace a spec may ask for (one hour). */
#define VHOST_PORT_MAX_GRACE_MS 3600000u

/**
 * Parse and check a guest spec (VHOST_PORT_SPEC_USAGE):
 * a CID that is not reserved, a non-empty socket path, an uds path that leaves
 * room for "_<port>", an lcore the EAL enabled. Does not look at other guests.
 *
 * @param arg
 *   The spec.
 * @param s
 *   Filled on success.
 * @param err, errlen
 *   Why it was refused (one line, no newline), on failure.
 * @return 0 or -EINVAL.
 */
int vhost_port_spec_parse(const char *arg, struct vhost_port_spec *s, char *err, size_t errlen);

/**
 * Create a guest port and start listening on its socket (claimed first with
 * vs_sockpath_claim(): a live listener is -EADDRINUSE, a stale socket reused).
 * In client mode, connect to the frontend's socket instead (no claim: the path
 * belongs to the frontend); a frontend that is not there yet is not an error,
 * it is tried again every second.
 *
 * @return 0, or a negative errno (those of vs_sockpath_claim(), -ENOSPC,
 *   -ENOMEM, -EINVAL, -EIO).
 */
int vhost_port_create(const struct vhost_port_conf *conf);

/**
 * Whether a frontend is attached to the guest with CID @p cid now (for client
 * mode: whether the switch's connection succeeded).
 */
bool vhost_port_attached(uint64_t cid);

/**
 * Remove guest @p cid at run time: stop listening (librte_vhost unregisters the
 * socket, removes it and detaches a live frontend, stopping its rings), then
 * vs_port_del(): its connections are reset and the CID is free again. Call from
 * the control plane, never from a librte_vhost callback.
 *
 * @return 0, -ENOENT (no such guest), or what vs_port_del() returns.
 */
int vhost_port_delete(uint64_t cid);

/** Whether a vhost-user guest uses socket @p path. */
bool vhost_port_socket_used(const char *path);

/**
 * Call @p fn for every guest (under the driver's lock: @p fn must not call back
 * into this driver).
 */
void vhost_port_foreach(void (*fn)(const struct vhost_port_conf *conf, const struct vs_port *p,
				   void *arg), void *arg);

/** Stop listening, detach every frontend, remove the sockets. */
void vhost_port_destroy_all(void);

#ifdef __cplusplus
}
#endif

#endif /* VHOST_PORT_H */
