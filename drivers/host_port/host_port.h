/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef HOST_PORT_H
#define HOST_PORT_H

/**
 * @file
 * The host endpoint (CID 2): vsock connections between guests and host programs,
 * relayed over Unix sockets.
 *
 * Guests' packets to CID 2 arrive on the ring vs_host_attach() returns; this driver
 * keeps the host end of every such connection (the guest end lives in the guest's
 * worker) and runs the virtio-vsock state machine for it: REQUEST/RESPONSE, RW
 * within the guest's credit, SHUTDOWN half-close both ways, RST, and credit
 * updates sent only when the guest's view of our free space runs low. Each
 * connection is one non-blocking Unix socket towards the host program.
 *
 * Host programs come in through:
 *  - a guest's hybrid socket (--guest ...,uds=PATH): "CONNECT <port>\n" on PATH
 *    (STREAM) or PATH_seqpacket (SEQPACKET), answered "OK <host_port>\n"; a guest
 *    connecting to CID 2 port P makes the switch connect to PATH_P;
 *  - the control socket (--control PATH): "CONNECT <cid> <port> [stream|seqpacket]",
 *    "LISTEN <port> [<cid>]" (accepted connections handed over with SCM_RIGHTS),
 *    "STATS", and guests at run time: "GUEST-ADD <spec>", "GUEST-DEL <cid>",
 *    "GUESTS".
 * doc/host.rst describes both protocols.
 *
 * Everything runs on one thread, the one calling host_port_poll(): no locks. The
 * loop never blocks while there is work; an idle round yields the CPU, and after
 * HOST_PORT_IDLE_ROUNDS of them it sleeps in epoll_wait() for
 * HOST_PORT_IDLE_SLEEP_MS at a time: host sockets' events, and a worker that hands
 * it packets (through the switch's doorbell eventfd, one write per sleep, never
 * while it is awake), wake it at once.
 */

#include <limits.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Default receive space advertised to guests per connection (buf_alloc). */
#define HOST_PORT_DEFAULT_BUF_ALLOC (256u * 1024)
/** Smallest and largest --buf-alloc. */
#define HOST_PORT_MIN_BUF_ALLOC 4096u
#define HOST_PORT_MAX_BUF_ALLOC (64u * 1024 * 1024)
/** Default time a guest has to answer a REQUEST, and a host program to send its line. */
#define HOST_PORT_DEFAULT_CONNECT_TIMEOUT_MS 2000u
/** Idle rounds (each yielding the CPU) spent polling before sleeping. */
#define HOST_PORT_IDLE_ROUNDS 16u
/** How long an idle round sleeps in epoll_wait(). */
#define HOST_PORT_IDLE_SLEEP_MS 1
/** Open connections (host sockets of any kind) at most. */
#define HOST_PORT_MAX_CONNS 16384u
/** Host ports given to host-initiated connections: [2^30, 2^31). */
#define HOST_PORT_EPHEMERAL_FIRST (1u << 30)
#define HOST_PORT_EPHEMERAL_END (1u << 31)

/** Settings of the host endpoint. */
struct host_port_conf {
	char control[PATH_MAX]; /**< control socket path, "" for none */
	uint32_t connect_timeout_ms; /**< REQUEST answer and handshake line deadline */
	uint32_t buf_alloc; /**< receive space per connection */
};

/** Counters of the host endpoint. Written by the polling thread only. */
struct host_port_stats {
	uint64_t conns_open; /**< connections with a vsock end now */
	uint64_t conns_host; /**< host-initiated connections established */
	uint64_t conns_guest; /**< guest-initiated connections established */
	uint64_t rx_pkts; /**< packets from guests */
	uint64_t rx_rw; /**< RW packets from guests */
	uint64_t rx_bytes; /**< payload bytes from guests */
	uint64_t tx_pkts; /**< packets handed to guests */
	uint64_t tx_rw; /**< RW packets handed to guests */
	uint64_t tx_bytes; /**< payload bytes handed to guests */
	uint64_t credit_updates; /**< explicit CREDIT_UPDATE packets sent */
	uint64_t credit_requests; /**< CREDIT_REQUEST packets received */
	uint64_t credit_asks; /**< CREDIT_REQUEST packets sent (guest credit short) */
	uint64_t credit_violations; /**< connections reset: guest sent beyond its credit */
	uint64_t rst_sent; /**< RST packets sent */
	uint64_t rst_rcvd; /**< RST packets received */
	uint64_t refused; /**< guest connections nobody on the host took */
	uint64_t connect_timeouts; /**< guests that did not answer a REQUEST in time */
	uint64_t bad_lines; /**< garbled or over-long handshake/control lines */
	uint64_t accept_refused; /**< host sockets closed at once: no fd left (EMFILE) */
	uint64_t handshake_timeouts; /**< host sockets that never sent their line */
	uint64_t proto_errors; /**< unexpected packets (connection reset) */
	uint64_t no_mbuf; /**< packets that waited for an mbuf */
	uint64_t lost_ctrl; /**< control packets dropped (no mbuf, queue full) */
	uint64_t send_stalls; /**< rounds in which a guest did not take all we had */
	uint64_t buffered; /**< guest bytes waiting for host sockets now */
	uint64_t buffered_peak; /**< highest value of @c buffered */
	uint64_t rounds; /**< poll rounds */
	uint64_t idle_sleeps; /**< rounds that slept in epoll_wait() */
	uint64_t max_gap_ms; /**< longest time between two rounds (loop not running) */
};

/**
 * Attach to the switch as CID 2 and open the control socket (if any). Call after
 * vs_switch_init() and before the guests' hybrid sockets are added.
 *
 * @return 0 or a negative errno (the reason was logged).
 */
int host_port_init(const struct host_port_conf *conf);

/**
 * Give guest @p cid a hybrid socket: listen on @p uds (STREAM) and
 * @p uds "_seqpacket" (SEQPACKET); guest connections to CID 2 port P go to
 * @p uds "_P".
 *
 * @return 0, or -ENAMETOOLONG, -EADDRINUSE (a live listener is there), -EEXIST (not
 *   a socket), -ENOENT/-ENOTDIR/-EACCES (directory), -ENOMEM.
 */
int host_port_add_guest(uint64_t cid, const char *uds);

/**
 * Take guest @p cid's hybrid socket away (listeners closed, paths removed) and
 * close every host socket of its connections (the host program reads EOF, or
 * gets ECONNRESET), control LISTENs for that CID included. Host endpoint thread.
 *
 * @return 0, or -ENOENT if the guest had no hybrid socket (its connections, if
 *   any, are closed all the same).
 */
int host_port_del_guest(uint64_t cid);

/**
 * One round: packets from guests, socket events, data both ways, timers.
 * Sleeps up to HOST_PORT_IDLE_SLEEP_MS when it has been idle for a while.
 *
 * @return units of work done (0: idle round).
 */
unsigned int host_port_poll(void);

/**
 * Run host_port_poll() on a control thread of its own until vs_switch_stop():
 * for a switch whose only lcore runs the worker loop.
 *
 * @return 0 or a negative errno.
 */
int host_port_thread_start(void);

/** Wait for the thread of host_port_thread_start() (after vs_switch_stop()). */
void host_port_thread_join(void);

/** Close every socket, free every packet held, remove the listening sockets. */
void host_port_fini(void);

/** Copy the counters (racy if another thread polls). */
void host_port_stats_get(struct host_port_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* HOST_PORT_H */
