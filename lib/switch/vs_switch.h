/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_SWITCH_H
#define VS_SWITCH_H

/**
 * @file
 * The switch: guest ports, the CID table and the worker lcores that move packets
 * between guests.
 *
 * Each guest is a port owned by one worker lcore; only that lcore touches the
 * port's virtqueues. A worker polls its ports' tx queues in bursts, checks every
 * header, looks the connection up in its flow table and delivers:
 *  - to a port of its own: straight from the sender's tx buffers into the
 *    receiver's rx buffers, one copy per byte;
 *  - to a port of another lcore: copied once into an mbuf and handed over on
 *    that lcore's rte_ring.
 * A receiver without rx buffers gets a bounded backlog; once it is full, stream
 * data waits in the sender's tx ring (the sender is not polled further this
 * round), while control packets still pass.
 *
 * The control plane (librte_vhost callbacks, main lcore) never touches a ring.
 * It publishes a started port's rings with vs_port_start() and withdraws them
 * with vs_port_stop(), which returns only once no worker can be looking at them
 * any more (RCU QSBR): after that the guest's memory may be unmapped.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_atomic.h>
#include <rte_lcore.h>

#include "virtq.h"
#include "vsock_proto.h"

struct rte_mbuf;
struct rte_ring;
struct rte_tel_data;

#ifdef __cplusplus
extern "C" {
#endif

/** Lifecycle of a guest port, as the control plane sets it. */
enum vs_port_state {
	VS_PORT_CONFIGURED = 0, /**< socket exists, no frontend */
	VS_PORT_CONNECTED, /**< frontend attached, rings not running */
	VS_PORT_RUNNING, /**< rings running: traffic flows */
	VS_PORT_STOPPING, /**< rings being withdrawn */
	VS_PORT_SUSPENDED, /**< frontend gone within its reconnect grace: connections kept */
};

/** Why a packet from a guest was not delivered. */
enum vs_drop {
	VS_DROP_BAD_DESC = 0, /**< descriptor chain broke a rule */
	VS_DROP_BAD_HDR, /**< short chain, bad type, op, len or flags */
	VS_DROP_SPOOFED, /**< src_cid is not the guest's own */
	VS_DROP_RESERVED_DST, /**< dst_cid 0, 1 or VMADDR_CID_ANY */
	VS_DROP_NO_ROUTE, /**< unknown or not running destination (RST sent) */
	VS_DROP_NO_FLOW, /**< packet for a connection that does not exist (RST sent) */
	VS_DROP_FLOW_FULL, /**< flow table full (RST sent) */
	VS_DROP_BACKLOG_FULL, /**< receiver's backlog full */
	VS_DROP_NO_MBUF, /**< mbuf pool empty */
	VS_DROP_CONN_LIMIT, /**< REQUEST from or to a guest at its connection limit (RST sent) */
	VS_DROP_CREDIT, /**< RW beyond the credit the receiver granted (connection reset) */
	VS_DROP_MAX,
};

/** Counters of one port; written by its owner lcore only. */
struct vs_port_stats {
	uint64_t rx_pkts; /**< packets written into the guest's rx queue */
	uint64_t rx_bytes; /**< payload bytes written into the guest's rx queue */
	uint64_t tx_pkts; /**< packets taken from the guest's tx queue */
	uint64_t tx_bytes; /**< payload bytes taken from the guest's tx queue */
	uint64_t rst_sent; /**< RSTs the switch generated towards the guest */
	uint64_t notify; /**< interrupts sent */
	uint64_t expired; /**< connection ends reset by the handshake or linger timeout */
	uint64_t stalls; /**< polls that left data in the tx ring for backpressure */
	uint64_t tx_op[VSOCK_OP_MAX + 1]; /**< packets taken from the guest, by op */
	uint64_t rx_op[VSOCK_OP_MAX + 1]; /**< packets written to the guest, by op */
	uint64_t drops[VS_DROP_MAX];
};

/** Printable name of a drop reason (the telemetry field name). */
const char *vs_drop_name(enum vs_drop d);

/** Rings of a started guest, as librte_vhost hands them over. */
struct vs_port_rings {
	struct virtq_mem mem;
	struct vring_desc *desc[2];
	struct vring_avail *avail[2];
	struct vring_used *used[2];
	uint16_t size[2];
	uint16_t last_avail[2];
	uint16_t last_used[2];
	bool event_idx;
	bool seqpacket;
};

/** Switch-wide settings. */
struct vs_switch_conf {
	uint32_t max_flows_per_lcore; /**< connection ends per worker */
	uint32_t backlog_pkts; /**< packets a receiver may have waiting */
	uint32_t backlog_bytes; /**< payload bytes after which stream data waits */
	uint32_t nb_mbufs; /**< mbufs in the pool */
	uint32_t ring_size; /**< per-lcore handover ring */
	uint32_t max_conns; /**< connections per guest (its ends in the flow table) */
	uint32_t handshake_timeout_ms; /**< an end in CONNECTING longer is reset */
	uint32_t linger_timeout_ms; /**< an end closed both ways, without RST, longer is reset */
};

/** Defaults for struct vs_switch_conf. */
#define VS_DEFAULT_MAX_FLOWS 65536
#define VS_DEFAULT_BACKLOG_PKTS 1024
#define VS_DEFAULT_BACKLOG_BYTES (1024 * 1024)
#define VS_DEFAULT_NB_MBUFS 16383
#define VS_DEFAULT_RING_SIZE 4096
#define VS_DEFAULT_MAX_CONNS 1024
#define VS_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000
#define VS_DEFAULT_LINGER_TIMEOUT_MS 10000

/** Hooks an endpoint driver gives for its ports. */
struct vs_port_ops {
	/** Interrupt the guest for queue @p qid (0 rx, 1 tx). Called from the owner lcore. */
	int (*notify)(void *drv, uint16_t qid);
	/** Record consumed/used indices so that the frontend can read them back. */
	void (*sync_bases)(void *drv, const uint16_t last_avail[2], const uint16_t last_used[2]);
	/** Add the driver's own fields (socket path, ...) to a telemetry dict. Optional. */
	void (*info)(void *drv, struct rte_tel_data *d);
};

/** A guest port. Opaque outside the library. */
struct vs_port;

/**
 * Create the switch: mempool, CID table, per-lcore state for every worker lcore
 * (all enabled lcores but the main one; the main one if it is alone).
 *
 * @return 0 or a negative errno.
 */
int vs_switch_init(const struct vs_switch_conf *conf);

/** Free everything; workers must have stopped. */
void vs_switch_fini(void);

/**
 * Add a guest port.
 *
 * @param cid
 *   The guest's CID (checked: not reserved, not in use).
 * @param lcore
 *   Owner lcore, or RTE_MAX_LCORE to pick the least loaded worker.
 * @return
 *   The port, or NULL with errno (EINVAL reserved CID, EEXIST duplicate, ENOSPC).
 */
struct vs_port *vs_port_add(uint64_t cid, unsigned int lcore, const struct vs_port_ops *ops,
			    void *drv);

/**
 * Remove a guest port for good, while other lcores may still be sending to it.
 *
 * The port is stopped if it runs (as vs_port_stop()), leaves the CID table (new
 * packets for the CID get an RST as for an unknown CID), its owner lcore resets
 * every connection it had (peers get an RST) and drops its backlog, and it is
 * freed once no worker and no telemetry reader can see it (RCU QSBR). Packets
 * for it still in handover rings are dropped on delivery, also after its slot
 * went to a new port. The CID may be added again afterwards.
 *
 * The driver must no longer call vs_port_start()/vs_port_stop() for @p, and
 * must not free what ops->notify/sync_bases/info use before this returns. Control
 * plane only: never from a worker lcore (it waits for every worker).
 *
 * @return 0; -EINVAL for the host port or NULL; -EDEADLK from a worker lcore;
 *   -ESHUTDOWN if the workers stopped meanwhile (the port is then freed by
 *   vs_switch_fini()).
 */
int vs_port_del(struct vs_port *p);

/**
 * Give a port that is not running to another worker lcore (NUMA placement, before
 * vs_port_start()). Waits until the old owner let go of it.
 *
 * @return 0; -EINVAL if @p lcore is not a worker; -EBUSY if the port runs;
 *   -EDEADLK from a worker lcore; -ESHUTDOWN if the workers stopped.
 */
int vs_port_move(struct vs_port *p, unsigned int lcore);

/** Record the NUMA node of the guest's memory (-1: unknown), for telemetry. */
void vs_port_numa_set(struct vs_port *p, int node);

/** NUMA node of the guest's memory as recorded, or -1. */
int vs_port_numa_get(const struct vs_port *p);

/**
 * Where a port should run, given where the guest's memory is (pure function).
 *
 * @param mem_node
 *   NUMA node of the guest's memory, or -1 if unknown.
 * @param cur
 *   Current owner lcore.
 * @param pinned
 *   The port was given an lcore explicitly: never moved.
 * @param lcores, nodes, load, n
 *   Worker lcores, the node of each and how many ports each owns.
 * @return
 *   The least loaded worker on @p mem_node when @p cur is on another node and
 *   such a worker exists; @p cur otherwise.
 */
unsigned int vs_numa_pick_lcore(int mem_node, unsigned int cur, bool pinned,
				const unsigned int *lcores, const int *nodes,
				const uint32_t *load, unsigned int n);

/**
 * Move a port that is not running to the best worker for @p mem_node (see
 * vs_numa_pick_lcore(); @p pinned ports stay) and record the node.
 * @return the owner lcore afterwards.
 */
unsigned int vs_port_place(struct vs_port *p, int mem_node, bool pinned);

/** Find a port by CID; NULL if none. */
struct vs_port *vs_port_lookup(uint64_t cid);

/** CID of a port. */
uint64_t vs_port_cid(const struct vs_port *p);

/** Owner lcore of a port. */
unsigned int vs_port_lcore(const struct vs_port *p);

/** Current state. */
enum vs_port_state vs_port_state_get(const struct vs_port *p);

/** Mark the frontend attached or gone (no rings involved). */
void vs_port_set_connected(struct vs_port *p, bool connected);

/**
 * Publish started rings: the owner lcore begins polling them.
 * @return 0, or -EINVAL for rings that cannot be used.
 */
int vs_port_start(struct vs_port *p, const struct vs_port_rings *r);

/**
 * Withdraw the rings. Returns once no worker touches them; the owner lcore then
 * resets every connection of the guest (peers get an RST) and drops its backlog.
 * Final ring indices are handed to ops->sync_bases before returning.
 */
void vs_port_stop(struct vs_port *p);

/**
 * The frontend went away but may come back (``reconnect-grace``, a live update):
 * withdraw the rings as vs_port_stop() does, but keep the guest's connections
 * and queue what arrives for it (within the backlog limits; senders wait beyond
 * them) for up to @p grace_ms. Unless vs_port_resume() comes first, the owner
 * lcore then resets every connection as after a stop. Control plane only.
 *
 * @return true if the connections are kept; false if the port was stopped
 *   instead (it was not running, or a suspension of it is being ended).
 */
bool vs_port_suspend(struct vs_port *p, uint32_t grace_ms);

/**
 * Continue a suspended port on @p r: same guest memory and rings, mapped anew.
 * The ring indices are the switch's own, kept since vs_port_suspend() (those in
 * @p r are ignored and handed to ops->sync_bases once the owner runs them).
 *
 * @return 0; -ESTALE if the port is not suspended (its grace ended, or it was
 *   never suspended): start it with vs_port_start() instead.
 */
int vs_port_resume(struct vs_port *p, const struct vs_port_rings *r);

/**
 * End a suspension now (other memory came back, or the guest is going): the
 * owner lcore resets the kept connections. No-op for a port not suspended.
 */
void vs_port_unsuspend(struct vs_port *p);

/** True while @p is suspended (connections kept for a frontend to come back). */
bool vs_port_suspended(const struct vs_port *p);

/** Sum of a port's counters (read racily from its lcore's writes). */
void vs_port_stats_get(const struct vs_port *p, struct vs_port_stats *s);

/** Number of open connection ends of a guest (approximate while traffic flows). */
uint32_t vs_port_flow_count(const struct vs_port *p);

/**
 * Body of a worker lcore: poll until vs_switch_stop() is called.
 * @param arg unused
 * @return 0
 */
int vs_worker_main(void *arg);

/** Ask every worker to return. */
void vs_switch_stop(void);

/** True once vs_switch_stop() was called. */
bool vs_switch_stopping(void);

/**
 * @name Host endpoint
 * Guests reach the host at CID 2. A host endpoint driver (host programs over Unix
 * sockets) attaches once; packets guests send to CID 2 then arrive, as mbufs, on
 * the ring vs_host_attach() returns, and the driver answers with vs_host_send().
 * The driver runs on a thread of its own (the main lcore) and keeps the host ends
 * of connections; the guests' ends stay on their workers.
 * @{
 */

/**
 * Create the host port (CID 2).
 * @return the ring host-bound packets arrive on, or NULL with errno.
 */
struct rte_ring *vs_host_attach(void);

/**
 * Build a packet: header @p h (h->len payload bytes for RW) and its payload.
 * @return an mbuf chain, or NULL when the pool is empty.
 */
struct rte_mbuf *vs_pkt_alloc(const struct vsock_hdr *h, const void *payload);

/**
 * An RW packet to fill in place: a chain with room for @p room payload bytes
 * (at most VSOCK_MAX_PKT_PAYLOAD), every segment's data_len set to its room, so
 * that a readv() over the segments fills it; then vs_pkt_finish().
 * @return the chain, or NULL when the pool is empty.
 */
struct rte_mbuf *vs_pkt_room(uint32_t room);

/**
 * Complete a packet of vs_pkt_room(): keep the segments that hold @p h->len
 * payload bytes (no more than its room; 0 unless RW), free the others, and give
 * it header @p h with len set to the payload it kept.
 */
void vs_pkt_finish(struct rte_mbuf *m, const struct vsock_hdr *h);

/** Header of a packet mbuf (len = payload bytes it holds). */
void vs_pkt_hdr(const struct rte_mbuf *m, struct vsock_hdr *h);

/** Copy up to @p len payload bytes of a packet mbuf from @p off on. Returns bytes. */
uint32_t vs_pkt_read(const struct rte_mbuf *m, uint32_t off, void *buf, uint32_t len);

/**
 * Whether a guest can be sent to now.
 * @return 0; -ENODEV for an unknown CID; -EHOSTUNREACH for a guest whose driver
 *   has not started its rings (or stopped them).
 */
int vs_guest_reachable(uint64_t cid);

/**
 * Hand packets from the host to their guests (by dst_cid), in order.
 *
 * Stops at the first packet that cannot go now: its guest's handover ring is
 * full, or it is stream data and the guest's backlog is over its limit. Packets
 * for a guest that is unknown or not running are freed and counted as sent: the
 * guest's end is gone, and its teardown already told the host with an RST.
 *
 * @return number of packets taken (sent or freed); the rest stay the caller's.
 */
unsigned int vs_host_send(struct rte_mbuf **m, unsigned int n);

/**
 * Doorbell of the host endpoint: an eventfd the workers write after handing it
 * packets while it sleeps. Poll it (EPOLLIN) and read it to clear.
 * @return the fd (created on first call), or -errno.
 */
int vs_host_doorbell_fd(void);

/**
 * The host endpoint is about to sleep: from now on workers ring the doorbell.
 * @return false if packets already wait (do not sleep); call vs_host_sleep_done()
 *   either way.
 */
bool vs_host_sleep_prepare(void);

/** The host endpoint is awake again: workers stop ringing. */
void vs_host_sleep_done(void);

/** The doorbell was rung (epoll said so): clear it. */
void vs_host_doorbell_clear(void);

/** Counters of the host port (guest-facing view), or zeros. */
void vs_host_stats_get(struct vs_port_stats *s);

/** @} */

/**
 * Add fields about guest @p cid to a telemetry dict; a driver that is not the
 * port's own (the host endpoint's per-guest socket) registers one. At most 8.
 * @return 0, or -ENOSPC.
 */
int vs_telemetry_guest_hook(void (*fn)(uint64_t cid, struct rte_tel_data *d));

/** A connection end kept outside the workers' flow tables, as /vsock/flows shows it. */
struct vs_flow_row {
	uint64_t local_cid;
	uint64_t peer_cid;
	uint32_t local_port;
	uint32_t peer_port;
	uint16_t type; /**< VSOCK_TYPE_* */
	uint8_t state; /**< enum vs_flow_state (vs_flow.h) */
	uint8_t outgoing; /**< this end sent the REQUEST */
	uint64_t tx_pkts; /**< packets this end sent */
	uint64_t tx_bytes; /**< payload bytes this end sent */
	uint64_t state_age_ms; /**< time in this state */
	uint32_t buf_alloc; /**< credit this end gave: buffer size */
	uint32_t fwd_cnt; /**< credit this end gave: bytes it consumed */
	uint32_t peer_buf_alloc; /**< credit the peer gave */
	uint32_t peer_fwd_cnt;
	uint32_t in_flight; /**< bytes this end sent that the peer has not consumed */
	unsigned int lcore; /**< thread that keeps it (the main lcore for the host endpoint) */
};

/**
 * Add rows about connection ends the switch's tables do not hold (the host
 * endpoint's) to /vsock/flows. Optional, one.
 *
 * @p fn gets the CID filter (0: all; else ends whose local or peer CID is it), room
 * for @p room rows, and returns how many ends match (rows filled: at most @p room,
 * in @p *nrows).
 */
void vs_telemetry_flows_hook(uint64_t (*fn)(uint64_t cid, struct vs_flow_row *rows,
					     unsigned int room, unsigned int *nrows));

/**
 * Stop a running capture (see vs_capture.h): no worker is inside the capture
 * path when the file is closed. Control plane only.
 * @return 0, or -ENOENT if none runs.
 */
int vs_switch_capture_stop(void);

/** Register the switch's log type. */
extern int vs_logtype;

#define VS_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, vs_logtype, "vsock-switch: " fmt "\n", ##__VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* VS_SWITCH_H */
