/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_SWITCH_PVT_H
#define VS_SWITCH_PVT_H

#include <errno.h>

#include <rte_common.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "vs_capture.h"
#include "vs_config.h"
#include "vs_flow.h"
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
	uint8_t pad[11];
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
	/* Set once at creation. */
	uint64_t cid;
	uint16_t index;
	unsigned int lcore;
	const struct vs_port_ops *ops;
	void *drv;

	/* Control plane writes, workers read. */
	uint32_t state; /* enum vs_port_state, atomic */
	uint32_t gen; /* bumped by every vs_port_start(), atomic */
	struct vs_port_rings rings; /* valid while state is RUNNING */

	/* Owner lcore only. */
	uint32_t dp_gen; /* generation whose rings are set up below */
	bool dp_active;
	bool dirty; /* queues have unpublished used entries */
	struct virtq vq[VSOCK_NUM_VQ];
	struct vs_backlog backlog;
	struct vs_port_stats stats;
} __rte_cache_aligned;

struct vs_lcore {
	unsigned int lcore_id;
	uint32_t nports; /* written by the control plane before ports[] is read */
	struct vs_port *ports[VS_MAX_GUESTS];
	struct rte_ring *in; /* mbufs from other lcores, for our ports */
	struct vs_flow_table *flows;

	/* Scratch for one burst. */
	struct virtq_chain chains[VS_BURST_SIZE];
	struct virtq_chain rx_chain;
	struct vs_port *dirty[VS_MAX_GUESTS];
	uint32_t ndirty;

	uint64_t rounds;
	uint64_t busy_rounds;
	uint64_t lost_rst; /* generated RSTs with no mbuf or no ring room */
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

/* Ring that carries packets to @p's owner. */
static inline struct rte_ring *
vs_port_ring(const struct vs_port *p)
{
	return p == vs_sw.host ? vs_sw.host_in : vs_sw.lcores[p->lcore]->in;
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
unsigned int vs_handover_drain(struct vs_lcore *lc);

/* vs_flowops.c: what each op does to the flow table. */
bool vs_backlog_over_soft(const struct vs_port *d);
bool vs_flow_ingress(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h);
void vs_flow_reset_port(struct vs_lcore *lc, struct vs_port *p);

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
