/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef EMU_GUEST_H
#define EMU_GUEST_H

/**
 * @file
 * Emulated virtio-vsock guest: a vhost-user frontend in plain C.
 *
 * An emu_guest plays both QEMU's part (vhost-user frontend: it owns the guest
 * memory, a memfd shared with the backend, and drives the vhost-user handshake
 * of vhost-user-vsock-pci) and the guest kernel's part (the driver side of the
 * rx and tx split virtqueues and a socket layer modelled on Linux's
 * virtio_transport_common.c: connection state machine, credit, SHUTDOWN/RST).
 *
 * Everything is single-threaded and non-blocking: nothing moves unless the
 * caller drives it with emu_guest_poll() (or emu_poll_until()). One process may
 * run many guests. Guest physical addresses start at EMU_GPA_BASE, far from the
 * process's own addresses, so a backend that confuses GPAs and frontend virtual
 * addresses fails at once.
 *
 * Connections are small integers (like file descriptors) valid until
 * emu_close(). Functions return negative errno values on failure.
 *
 * Like QEMU's -chardev socket, the frontend either connects to the backend's
 * socket (the default) or listens on it and takes the backend's connection
 * (@c server in the options; QEMU's server=on, the switch's client mode):
 * emu_guest_listen() + emu_guest_accept(), or emu_guest_create() doing both.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* SHUT_RD, SHUT_WR, SHUT_RDWR for emu_shutdown() */
#include <sys/types.h>

#include <vsock_proto.h>

#ifdef __cplusplus
extern "C" {
#endif

/** First guest physical address of the emulated guest's memory. */
#define EMU_GPA_BASE 0x100000000ULL

/** Defaults, the values a Linux 6.1 guest uses. */
#define EMU_DEFAULT_QUEUE_SIZE 128
#define EMU_DEFAULT_MEM_SIZE (32u << 20)
#define EMU_DEFAULT_RX_BUF_SIZE 4096
#define EMU_DEFAULT_BUF_ALLOC (256u * 1024)
#define EMU_DEFAULT_CONNECT_TIMEOUT_MS 5000

/** How a tx packet is laid out in descriptors. */
enum emu_tx_layout {
	EMU_TX_SPLIT = 0, /**< 44-byte header descriptor + one payload descriptor (Linux 6.1) */
	EMU_TX_SINGLE,    /**< header and payload in one descriptor */
	EMU_TX_INDIRECT,  /**< one ring descriptor -> indirect table (header, payload) */
	EMU_TX_SCATTER,   /**< header descriptor + payload in descriptors of at most 4 KiB */
	EMU_TX_LAYOUT_MAX,
};

/** How an rx buffer is posted. */
enum emu_rx_layout {
	EMU_RX_SPLIT = 0, /**< 44-byte header descriptor + rx_buf_size descriptor (Linux 6.1) */
	EMU_RX_SINGLE,    /**< one descriptor of 44 + rx_buf_size bytes */
	EMU_RX_INDIRECT,  /**< indirect table holding the header and the buffer descriptor */
	EMU_RX_LAYOUT_MAX,
};

/** Connection states, as emu_conn_state() reports them. */
enum emu_conn_state {
	EMU_CONN_CONNECTING = 1, /**< REQUEST sent, no answer yet */
	EMU_CONN_CONNECTED,      /**< RESPONSE seen (or REQUEST accepted) */
	EMU_CONN_CLOSING,        /**< a SHUTDOWN went one way or the other, no RST yet */
	EMU_CONN_CLOSED,         /**< RST sent or received */
};

/** Number of counters per op in struct emu_stats (index = enum vsock_op). */
#define EMU_STATS_OPS 8

/** Counters of one guest. All monotonic. */
struct emu_stats {
	uint64_t rx_pkts[EMU_STATS_OPS]; /**< packets received per op (index 0: unknown op) */
	uint64_t tx_pkts[EMU_STATS_OPS]; /**< packets put on the tx ring per op */
	uint64_t rx_bytes;               /**< RW payload bytes received */
	uint64_t tx_bytes;               /**< RW payload bytes sent */
	uint64_t rx_bad;                 /**< malformed rx packets (length, flags, type) */
	uint64_t rx_misrouted;           /**< rx packets whose dst_cid is not ours */
	uint64_t rx_credit_overflow;     /**< RW dropped: peer sent beyond our buf_alloc */
	uint64_t rx_no_sock;             /**< packets for no socket (answered with RST) */
	uint64_t tx_ring_full;           /**< times a packet waited for tx descriptors */
	uint64_t ctrl_dropped;           /**< control packets dropped (pending queue full) */
	uint64_t kicks;                  /**< eventfd writes to kick fds */
	uint64_t interrupts;             /**< call fd signals seen */
	uint64_t rx_bufs_used;           /**< rx buffers consumed from the used ring */
	uint64_t tx_chains_used;         /**< tx chains given back on the used ring */
	uint64_t used_bad;               /**< used entries naming a head that was not available */
};

/** Options of emu_guest_create(). Start from emu_guest_opts_init(). */
struct emu_guest_opts {
	const char *socket_path;  /**< vhost-user socket the backend listens on (or we do) */
	bool server;              /**< listen on socket_path, the backend connects */
	uint32_t queue_size;      /**< descriptors per virtqueue (power of two) */
	size_t mem_size;          /**< guest memory bytes (multiple of 2 MiB) */
	bool start_rings;         /**< start the driver (rings enabled) in create */
	int tx_layout;            /**< enum emu_tx_layout */
	int rx_layout;            /**< enum emu_rx_layout */
	uint32_t rx_buf_size;     /**< payload bytes of one rx buffer (tiny values allowed) */
	uint32_t buf_alloc;       /**< receive buffer space advertised per connection */
	uint32_t tx_pkt_size;     /**< largest payload of one tx packet (<= 64 KiB) */
	uint64_t features_clear;  /**< virtio feature bits the guest refuses */
	int mem_regions;          /**< 1, or 2: memory in two regions, second at a GPA gap */
	bool no_kick;             /**< never write the kick eventfds */
	int connect_timeout_ms;   /**< how long to retry connect() while the socket is missing
				       (server: how long create waits for the backend) */
	const char *name;         /**< label for error messages */
};

struct emu_guest;

/** Per connection facts, from emu_conn_info(). */
struct emu_conn_info {
	uint16_t type;            /**< VSOCK_TYPE_* */
	uint32_t local_port;
	uint64_t peer_cid;
	uint32_t peer_port;
	uint32_t buf_alloc;       /**< ours */
	uint32_t fwd_cnt;         /**< bytes the application consumed */
	uint32_t rx_queued;       /**< bytes received, not yet read */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;          /**< payload bytes sent */
	uint32_t credit;          /**< bytes we may still send */
	uint32_t shut;            /**< SHUTDOWN flags we sent */
	uint32_t peer_shut;       /**< SHUTDOWN flags the peer sent */
};

/**
 * Fill @p o with defaults: queue 128, 32 MiB, rings started, Linux 6.1 layouts,
 * 4 KiB rx buffers, 256 KiB buf_alloc, 64 KiB tx packets, one memory region.
 *
 * @param o
 *   Options to fill.
 * @param socket_path
 *   Backend's vhost-user socket.
 */
void emu_guest_opts_init(struct emu_guest_opts *o, const char *socket_path);

/**
 * Create a guest: connect to the backend (retrying while the socket does not
 * exist yet), negotiate features and protocol features, read the CID with
 * GET_CONFIG. If @c o->start_rings, also start the driver (emu_guest_start()).
 *
 * @param o
 *   Options.
 * @return
 *   The guest, or NULL with errno set (ETIMEDOUT: no backend; EPROTO: the
 *   backend broke the protocol; ENOTSUP: a needed feature is not offered).
 */
struct emu_guest *emu_guest_create(const struct emu_guest_opts *o);

/**
 * Server mode (@c o->server must be set): allocate the guest and its memory and
 * listen on @c o->socket_path (a stale socket there is replaced, as QEMU does),
 * without waiting for the backend. Many guests can listen at once and be
 * accepted later, in any order.
 *
 * @return
 *   The guest (not attached: emu_guest_poll() returns 0 until accepted), or NULL
 *   with errno set (EINVAL: not server mode; EEXIST: the path is not a socket;
 *   EADDRINUSE; ENAMETOOLONG; ENOMEM).
 */
struct emu_guest *emu_guest_listen(const struct emu_guest_opts *o);

/**
 * Server mode: take the backend's connection on the listening socket, then do
 * what emu_guest_create() does after connecting (handshake, CID, and start the
 * driver if @c start_rings). Also after the connection was lost (backend gone,
 * emu_guest_crash()): the backend's next connection starts a new session on the
 * same memory, as QEMU's server chardev accepts a reconnecting backend.
 *
 * @param timeout_ms
 *   How long to wait for the backend to connect (0: do not wait).
 * @return
 *   0, -EAGAIN (0 ms and nobody connecting), -ETIMEDOUT, -EISCONN (attached),
 *   -EINVAL (not a listening guest), or the errors of the handshake.
 */
int emu_guest_accept(struct emu_guest *g, int timeout_ms);

/**
 * Start the guest driver the way QEMU does on DRIVER_OK: SET_FEATURES,
 * SET_MEM_TABLE, set up both vrings, post rx buffers, SET_VRING_ENABLE 1.
 * May be called again after emu_guest_stop() (driver reload).
 *
 * @return
 *   0, -EALREADY if running, -ENOTCONN after a crash, or another -errno.
 */
int emu_guest_start(struct emu_guest *g);

/** The CID the backend gave this guest (GET_CONFIG). */
uint64_t emu_guest_cid(const struct emu_guest *g);

/** True between emu_guest_start() and emu_guest_stop()/crash. */
bool emu_guest_running(const struct emu_guest *g);

/**
 * Do all pending work without blocking: consume rx packets and refill rx,
 * reclaim tx descriptors, send queued control packets, expire closing
 * connections.
 *
 * @return
 *   Units of work done (0: nothing to do), or -ENOTCONN once the backend closed
 *   the vhost-user connection.
 */
int emu_guest_poll(struct emu_guest *g);

/**
 * Stop the guest driver like a driver reset: SET_VRING_ENABLE 0, then
 * GET_VRING_BASE for each ring. All connections are reset locally (no packets
 * sent), as Linux does on a transport reset. Listeners stay.
 *
 * @return
 *   0 or -errno.
 */
int emu_guest_stop(struct emu_guest *g);

/** Close the vhost-user socket abruptly, like a killed QEMU. Memory stays until destroy. */
void emu_guest_crash(struct emu_guest *g);

/**
 * Stop the driver if it runs (like QEMU quitting: SET_VRING_ENABLE 0,
 * GET_VRING_BASE), close the vhost-user connection, free everything.
 * NULL is allowed.
 */
void emu_guest_destroy(struct emu_guest *g);

/** Copy the guest's counters into @p s. */
void emu_guest_stats(const struct emu_guest *g, struct emu_stats *s);

/**
 * Drive several guests until a condition holds. Sleeps briefly when a round of
 * polls did no work, so an idle wait does not take a CPU.
 *
 * @param gs
 *   Guests to poll (NULL entries are skipped).
 * @param n
 *   Number of entries in @p gs.
 * @param cond
 *   Checked after every round; NULL means "never" (poll for the whole timeout).
 * @param arg
 *   Passed to @p cond.
 * @param timeout_ms
 *   Give up after this long.
 * @return
 *   0 when @p cond returned non-zero, -ETIMEDOUT otherwise.
 */
int emu_poll_until(struct emu_guest **gs, int n, int (*cond)(void *), void *arg, int timeout_ms);

/**
 * Listen on @p port for connections of @p type.
 *
 * @return
 *   0, -EADDRINUSE, -EINVAL (bad type), -ESOCKTNOSUPPORT (SEQPACKET not negotiated).
 */
int emu_listen(struct emu_guest *g, uint32_t port, uint16_t type);

/**
 * Take an established connection from the listener on @p port.
 *
 * @return
 *   Connection id >= 0, -EAGAIN if none is waiting, -EINVAL if no listener.
 */
int emu_accept(struct emu_guest *g, uint32_t port);

/**
 * Start connecting to @p cid : @p port (non-blocking: sends REQUEST, state
 * EMU_CONN_CONNECTING until RESPONSE or RST arrives).
 *
 * @return
 *   Connection id >= 0, -ENOTCONN if the driver is not running, -ESOCKTNOSUPPORT,
 *   -EADDRNOTAVAIL (no free local port), -ENOMEM.
 */
int emu_connect(struct emu_guest *g, uint64_t cid, uint32_t port, uint16_t type);

/** enum emu_conn_state of @p conn, or -EBADF. */
int emu_conn_state(struct emu_guest *g, int conn);

/**
 * Error of @p conn: 0, -ECONNRESET (RST received while connected),
 * -ECONNREFUSED (RST received while connecting), -EPROTO, or -EBADF.
 */
int emu_conn_error(struct emu_guest *g, int conn);

/** Fill @p info about @p conn. @return 0 or -EBADF. */
int emu_conn_info(struct emu_guest *g, int conn, struct emu_conn_info *info);

/**
 * Send data. STREAM: queues as much as peer credit and free tx descriptors
 * allow, in packets of at most tx_pkt_size. SEQPACKET: the whole message as
 * one or more packets (only the last has SEQ_EOM), or nothing; if credit is
 * short, a CREDIT_REQUEST goes to the peer (once per stall). Like Linux, an
 * empty send sends nothing.
 *
 * @return
 *   Bytes queued (> 0, or 0 if @p len is 0), -EAGAIN (no credit or no
 *   descriptors), -ENOTCONN (still connecting), -EPIPE (shut down for writing,
 *   either side), the connection's error after an RST, -EMSGSIZE (SEQPACKET
 *   message larger than the peer's buf_alloc), -EBADF.
 */
ssize_t emu_send(struct emu_guest *g, int conn, const void *buf, size_t len);

/** Like emu_send(); on SEQPACKET also marks the message end with SEQ_EOR if @p eor. */
ssize_t emu_send_msg(struct emu_guest *g, int conn, const void *buf, size_t len, bool eor);

/**
 * Receive data. STREAM: up to @p len bytes. SEQPACKET: one whole message
 * (truncated to @p len, the rest discarded), only once its last piece is here.
 * Data received before an RST stays readable.
 *
 * @param eor
 *   If not NULL, set for SEQPACKET when the message carried SEQ_EOR; false otherwise.
 * @return
 *   Bytes copied, 0 at end of stream (peer sent SHUTDOWN SEND, or the connection
 *   is closed), -EAGAIN, -ENOTCONN (still connecting), -EBADF.
 */
ssize_t emu_recv(struct emu_guest *g, int conn, void *buf, size_t len, bool *eor);

/**
 * Shut down one or both directions like shutdown(2): SHUT_RD, SHUT_WR or
 * SHUT_RDWR become a SHUTDOWN packet with RCV and/or SEND.
 *
 * @return
 *   0, -ENOTCONN, -EINVAL, -EBADF.
 */
int emu_shutdown(struct emu_guest *g, int conn, int how);

/**
 * Close like Linux: if the peer already shut down both ways send RST, else send
 * SHUTDOWN(RCV|SEND) and keep the connection in the background until the peer's
 * RST (or a timeout, then RST). The id is invalid afterwards.
 *
 * @return
 *   0 or -EBADF.
 */
int emu_close(struct emu_guest *g, int conn);

/**
 * Put any packet on the tx ring, header fields as given (even a spoofed
 * src_cid or a len that does not match @p len): for hostile tests.
 *
 * @param h
 *   Header, encoded as is.
 * @param payload
 *   @p len bytes after the header (may be NULL if @p len is 0).
 * @return
 *   0, -EAGAIN (no descriptors), -EMSGSIZE (over tx_pkt_size), -ENOTCONN.
 */
int emu_send_raw(struct emu_guest *g, const struct vsock_hdr *h, const void *payload,
		uint32_t len);

/**
 * Leave the backend as a frontend that restarts for a live update does: close
 * the vhost-user connection and keep everything else. The guest driver goes on
 * (connections, rings, buffers; packets it queues wait on the tx ring) and the
 * backend sees a disconnect, not a driver stop.
 *
 * @return 0, or -ENOTCONN if not attached.
 */
int emu_guest_detach(struct emu_guest *g);

/**
 * Come back after emu_guest_detach(), as the new frontend of the same guest:
 * connect again (server mode: accept the backend's connection, up to
 * @p timeout_ms), device init, and for a running driver the device start on
 * the same memory (the same memfd) and rings, each ring's base being the used
 * index the backend last published.
 *
 * @return 0; -EISCONN if attached; -EPROTO if the backend now gives another
 *   CID; a negative errno from the vhost-user exchange (still detached).
 */
int emu_guest_reattach(struct emu_guest *g, int timeout_ms);

/**
 * After emu_guest_stop(): per queue (VSOCK_VQ_RX, VSOCK_VQ_TX), the index the
 * backend answered GET_VRING_BASE with (how far it took buffers) and how far
 * the guest had seen buffers come back. A device that completes everything it
 * takes reports the two equal once the guest has polled.
 */
void emu_guest_stop_bases(const struct emu_guest *g, uint32_t base[2], uint16_t used[2]);

/**
 * Bench aid: make a STREAM connection's receive side a sink. Payload received
 * from then on is counted, not stored: emu_recv() returns how many bytes it
 * consumed (and returns their credit) without writing them to its buffer.
 * Off by default; for measuring the switch, never for checking data.
 *
 * @return
 *   0, -EBADF, or -EPROTOTYPE for a SEQPACKET connection.
 */
int emu_set_rx_sink(struct emu_guest *g, int conn, bool on);

#ifdef __cplusplus
}
#endif

#endif /* EMU_GUEST_H */
