/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_SWITCH_PVT_H
#define VS_SWITCH_PVT_H

#include <errno.h>
#include <pthread.h>

#include <rte_common.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "vs_capture.h"
#include "vs_config.h"
#include "vs_flow.h"
#include "vs_ratelimit.h"
#include "vs_switch.h"
#include "vsock_proto.h"

#define VS_BURST_SIZE VS_BURST

/* Data room of a pool mbuf: one guest rx buffer's worth of payload. */
#define VS_MBUF_DATA 4096

/* Metadata an mbuf carries in its private area: the packet's header (len = the
 * payload the mbuf holds), how much of that payload was already delivered, and
 * the destination port. Payload is the mbuf chain's data. */
struct vs_mbuf_priv {
	uint8_t hdr[VSOCK_HDR_LEN];
	uint32_t off;
	uint16_t dst;
	uint16_t src;
	uint8_t generated; /* an RST the switch made */
	uint8_t pad[3];
	/* Identity of the ports behind dst and src: an index is reused by a later
	 * guest, a uid never (see vs_port_of()). */
	uint32_t dst_uid;
	uint32_t src_uid;
};

static inline struct vs_mbuf_priv *
vs_mbuf_priv(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/* Packets waiting for a guest's rx buffers; owner lcore only. */
struct vs_backlog {
	struct rte_mbuf **q;
	uint32_t mask;
	uint32_t head; /* next to deliver */
	uint32_t tail; /* next free */
	uint32_t bytes; /* payload bytes waiting */
};

struct vs_port {
	/* Set once at creation (lcore: also by vs_port_move(), read atomically). */
	uint64_t cid;
	uint16_t index;
	uint32_t uid; /* never reused: tells a port from a later one in the same slot */
	unsigned int lcore;
	const struct vs_port_ops *ops;
	void *drv;

	/* Control plane writes, workers read. */
	uint32_t state; /* enum vs_port_state, atomic */
	uint32_t gen; /* bumped by every vs_port_start(), atomic */
	struct vs_port_rings rings; /* valid while state is RUNNING */
	uint32_t deleted; /* vs_port_del() runs: the owner tears down and acks */
	uint32_t dead; /* owner's ack: torn down, never looked at again */
	int numa_node; /* of the guest's memory, -1 unknown (set by the driver) */
	uint32_t susp; /* enum vs_susp, atomic: see vs_port_suspend() */
	uint64_t susp_deadline; /* TSC: a suspension not resumed by then ends */

	/* Owner lcore only. */
	uint32_t dp_gen; /* generation whose rings are set up below */
	bool dp_active;
	bool dirty; /* queues have unpublished used entries */
	bool dp_suspended; /* rings withdrawn, connections, backlog, indices kept */
	uint32_t rx_buf_len; /* payload room of its last rx buffer: how many to take */
	uint32_t idle_polls; /* polls in a row that found nothing to do (lcore_round()) */
	struct virtq vq[VSOCK_NUM_VQ];
	struct vs_backlog backlog;
	uint32_t conns; /* ends counted against conf.max_conns (vs_flow.counted) */
	struct vs_flow *in_last; /* end the last delivery to this port found (a hint) */
	uint64_t rx_progress; /* TSC: backlog started or last moved (senders read it) */
	struct vs_port_stats stats;
	struct vs_ratelimit log_rl; /* log lines the guest triggers on its lcore */
} __rte_cache_aligned;

/* Rx chains of one port taken in a burst and not used yet (vs_rx.c). They never
 * outlive a round: vs_rx_stash_return() gives them back before the quiescent
 * state, so a port's ring indices are exact whenever the control plane looks. */
#define VS_RX_STASH 16
struct vs_rx_stash {
	struct vs_port *port; /* whose rx queue they came from, or NULL */
	uint16_t next; /* next chain to use */
	uint16_t n; /* chains taken */
	uint16_t want; /* packets the current tx burst still has for the port */
	struct virtq_chain chains[VS_RX_STASH];
};

struct vs_lcore {
	unsigned int lcore_id;
	uint32_t nports; /* written by the control plane before ports[] is read */
	struct vs_port *ports[VS_MAX_GUESTS];
	struct rte_ring *in; /* mbufs from other lcores, for our ports */
	struct vs_flow_table *flows;

	/* Scratch for one burst. */
	struct virtq_chain chains[VS_BURST_SIZE];
	struct vs_rx_stash rx;
	struct vs_port *dirty[VS_MAX_GUESTS];
	uint32_t ndirty;

	uint64_t rounds;
	uint64_t busy_rounds;
	uint64_t next_sweep; /* TSC of the next step of the timeout sweep */
	uint32_t sweep_cursor; /* next flow slot the sweep looks at */
	uint64_t lost_rst; /* generated RSTs with no mbuf or no ring room */
	uint32_t polling; /* in vs_worker_main(): a QSBR reader */
} __rte_cache_aligned;

struct vs_switch {
	struct vs_switch_conf conf;
	struct rte_mempool *pool;
	struct rte_hash *cids; /* cid -> struct vs_port *, lock-free readers */
	struct rte_rcu_qsbr *qsv;
	struct vs_port *ports[VS_MAX_GUESTS];
	uint32_t nports;
	struct vs_lcore *lcores[RTE_MAX_LCORE];
	struct vs_port *host; /* CID 2, when a host endpoint is attached */
	struct rte_ring *host_in; /* packets for the host endpoint */
	int host_doorbell; /* eventfd, or -1 */
	uint32_t host_sleeping; /* the host endpoint waits in epoll: ring the doorbell */
	unsigned int workers[RTE_MAX_LCORE];
	unsigned int nworkers;
	volatile bool stop;
	/* Control plane: one writer of the CID table and ports arrays at a time. */
	pthread_mutex_t ctl_lock;
	uint32_t next_uid;
};

extern struct vs_switch vs_sw;

/* A packet taken from a tx queue, decoded. */
struct vs_pkt {
	struct vsock_hdr h;
	struct vs_port *dst;
	struct vs_flow *flow;
	struct vs_flow_key key;
	uint8_t drop; /* enum vs_drop + 1, or 0 */
};

/* Port in slot @idx if it still is the one with @uid: packets in rings name their
 * ports by slot, and a slot is reused once its port is deleted. */
static inline struct vs_port *
vs_port_of(uint16_t idx, uint32_t uid)
{
	struct vs_port *p;

	if (idx >= VS_MAX_GUESTS)
		return NULL;
	p = __atomic_load_n(&vs_sw.ports[idx], __ATOMIC_ACQUIRE);
	return p != NULL && p->uid == uid ? p : NULL;
}

/* Address an mbuf: from @src (may be NULL) to @dst. */
static inline void
vs_mbuf_address(struct rte_mbuf *m, const struct vs_port *dst, const struct vs_port *src)
{
	struct vs_mbuf_priv *pv = rte_mbuf_to_priv(m);

	pv->dst = dst->index;
	pv->dst_uid = dst->uid;
	pv->src = src != NULL ? src->index : dst->index;
	pv->src_uid = src != NULL ? src->uid : dst->uid;
}

/* Owner lcore of @p (vs_port_move() changes it while the port is not running). */
static inline unsigned int
vs_port_owner(const struct vs_port *p)
{
	return __atomic_load_n(&p->lcore, __ATOMIC_RELAXED);
}

/* Ring that carries packets to @p's owner. */
static inline struct rte_ring *
vs_port_ring(const struct vs_port *p)
{
	return p == vs_sw.host ? vs_sw.host_in : vs_sw.lcores[vs_port_owner(p)]->in;
}

/* Capture a packet given by its decoded header (only when a capture runs). */
static inline void
vs_capture_hdr(const struct vsock_hdr *h, const struct virtq_iov *iov, unsigned int niov,
	       uint32_t soff)
{
	if (__builtin_expect(vs_capture_on, 0)) {
		uint8_t wire[VSOCK_HDR_LEN];

		vsock_hdr_encode(h, wire);
		vs_capture_record(wire, iov, niov, soff, h->op == VSOCK_OP_RW ? h->len : 0);
	}
}

void vs_host_ring_doorbell(void);

/* Hand an mbuf to @p's owner; the host endpoint is woken if it sleeps. */
static inline int
vs_port_enqueue(struct vs_port *p, struct rte_mbuf *m)
{
	if (rte_ring_mp_enqueue(vs_port_ring(p), m) != 0)
		return -ENOBUFS;
	if (p == vs_sw.host) {
		/* Pairs with the fence in vs_host_sleep_prepare(). The first worker to
		 * see the endpoint asleep takes the flag: one doorbell write per sleep. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&vs_sw.host_sleeping, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(&vs_sw.host_sleeping, 0, __ATOMIC_RELAXED))
			vs_host_ring_doorbell();
	}
	return 0;
}

/* A suspension (vs_port_suspend()), as the control plane and the owner hand it
 * over: KEPT -> RESUMING (control: vs_port_resume()) or KEPT -> ENDED (control:
 * vs_port_unsuspend(); owner: grace over); the owner then returns it to NONE. */
enum vs_susp {
	VS_SUSP_NONE = 0,
	VS_SUSP_KEPT, /* connections kept, packets queued for the guest */
	VS_SUSP_RESUMING, /* rings back: the owner continues with the kept indices */
	VS_SUSP_ENDED, /* the owner resets what it kept */
};

/* vs_port.c */
struct vs_port *vs_port_by_cid(uint64_t cid);
void vs_port_refresh(struct vs_lcore *lc, struct vs_port *p);
static inline bool
vs_port_running(const struct vs_port *p)
{
	return __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == VS_PORT_RUNNING;
}
/*
 * Owner lcore: may the port's rings be written now? dp_active alone is not
 * enough: within a round, packets are delivered (handover drain, RSTs of another
 * guest's teardown) before vs_port_refresh() has seen a stop, and vs_port_stop()
 * may already have returned (its grace period ended with the previous round) and
 * the guest's memory be gone.
 */
static inline bool
vs_port_live(const struct vs_port *p)
{
	return p->dp_active && vs_port_running(p) &&
	       p->dp_gen == __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
}

/* Is @p suspended with its connections kept? Packets for it then wait in its
 * backlog instead of being refused. */
static inline bool
vs_port_keeps(const struct vs_port *p)
{
	uint32_t s = __atomic_load_n(&p->susp, __ATOMIC_ACQUIRE);

	return s == VS_SUSP_KEPT || s == VS_SUSP_RESUMING;
}

/* May packets be routed to @p (running, or suspended and keeping them)? */
static inline bool
vs_port_reachable(const struct vs_port *p)
{
	return vs_port_running(p) || vs_port_keeps(p);
}

static inline void
vs_port_mark_dirty(struct vs_lcore *lc, struct vs_port *p)
{
	if (!p->dirty) {
		p->dirty = true;
		lc->dirty[lc->ndirty++] = p;
	}
}
void vs_lcore_flush(struct vs_lcore *lc);

/* vs_rx.c: delivery into a guest's rx queue. */
enum vs_deliver {
	VS_DELIVERED = 0, /* written or queued: the source may be completed */
	VS_STALL, /* not now: leave it in the source's tx ring */
};
uint32_t vs_rx_write(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h,
		     const struct virtq_iov *iov, unsigned int niov, uint32_t soff, bool *complete);
enum vs_deliver vs_deliver_iov(struct vs_lcore *lc, struct vs_port *src, struct vs_port *d,
			       const struct vsock_hdr *h, const struct virtq_iov *iov,
			       unsigned int niov, uint32_t soff);
void vs_deliver_mbuf(struct vs_lcore *lc, struct rte_mbuf *m);
unsigned int vs_backlog_drain(struct vs_lcore *lc, struct vs_port *p);
void vs_backlog_clear(struct vs_port *p);
void vs_send_rst(struct vs_lcore *lc, const struct vsock_hdr *to_reset, struct vs_port *to);
void vs_rx_stash_return(struct vs_lcore *lc);
unsigned int vs_handover_drain(struct vs_lcore *lc);

/* Past the soft limit in bytes times this, an RW for a guest cannot be queued and
 * its connection is reset (the hard limit in packets is the backlog array). */
#define VS_BACKLOG_HARD_FACTOR 4

/* A receiver over its soft limit whose backlog has not moved for this long is
 * stuck: new connections to it are refused instead of waiting in (and so
 * stopping) their senders' tx rings. */
#define VS_STUCK_MS 1000

/* A connection refused or reset by the switch, logged (rate limited) with its
 * reason; @p is the guest on whose owner lcore this runs. */
static inline void
vs_log_conn(struct vs_port *p, const struct vsock_hdr *h, const char *what, const char *why)
{
	if (p == NULL || p == vs_sw.host)
		return;
	VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": connection %" PRIu64 ":%u -> %" PRIu64
		  ":%u %s: %s", p->cid, h->src_cid, h->src_port, h->dst_cid, h->dst_port, what,
		  why);
}

/* Key of the receiving end of packet @h (local = its destination). */
static inline void
vs_flow_key_ingress(const struct vsock_hdr *h, struct vs_flow_key *k)
{
	k->local_cid = h->dst_cid;
	k->local_port = h->dst_port;
	k->peer_cid = h->src_cid;
	k->peer_port = h->src_port;
}

/* vs_flowops.c: what each op does to the flow table. */
bool vs_backlog_over_soft(const struct vs_port *d);
bool vs_flow_ingress(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h);
void vs_flow_reset_port(struct vs_lcore *lc, struct vs_port *p);
void vs_end_count(struct vs_port *p, struct vs_flow *f);
void vs_end_del(struct vs_lcore *lc, struct vs_port *p, struct vs_flow *f);
void vs_conn_reset(struct vs_lcore *lc, const struct vsock_hdr *h, struct vs_port *src,
		   struct vs_port *dst);
void vs_conn_reset_rx(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h,
		      struct vs_port *src);
void vs_flow_sweep(struct vs_lcore *lc);

/* A guest at its connection limit: no new connection from or to it. */
static inline bool
vs_conn_limit_reached(const struct vs_port *p)
{
	return __atomic_load_n(&p->conns, __ATOMIC_RELAXED) >= vs_sw.conf.max_conns;
}

/* vs_mbuf.c */
struct rte_mbuf *vs_mbuf_from_iov(const struct vsock_hdr *h, const struct virtq_iov *iov,
				  unsigned int niov, uint32_t soff);
unsigned int vs_mbuf_iov(struct rte_mbuf *m, struct virtq_iov *iov, unsigned int max);

/* vs_telemetry.c: the telemetry thread reads flow tables as this QSBR thread. */
#define VS_QSBR_TELEMETRY_ID RTE_MAX_LCORE
#define VS_QSBR_THREADS (RTE_MAX_LCORE + 1)
int vs_telemetry_init(void);
void vs_telemetry_fini(void);

/* vs_tx.c */
unsigned int vs_tx_poll(struct vs_lcore *lc, struct vs_port *p);

#endif /* VS_SWITCH_PVT_H */
