/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Delivery into a guest's rx queue: straight from another guest's buffers, from
 * the backlog, or from another lcore's handover ring. Runs on the receiving
 * guest's owner lcore only. */

#include <rte_cycles.h>

#include "vs_switch_pvt.h"

#define VS_HANDOVER_BURST 32

static inline bool
backlog_empty(const struct vs_backlog *b)
{
	return b->head == b->tail;
}

static inline uint32_t
backlog_len(const struct vs_backlog *b)
{
	return b->tail - b->head;
}

/* Soft limit: stream data waits in the sender's tx ring beyond it. */
bool
vs_backlog_over_soft(const struct vs_port *d)
{
	return backlog_len(&d->backlog) >= vs_sw.conf.backlog_pkts ||
	       d->backlog.bytes >= vs_sw.conf.backlog_bytes;
}

/* Queue @m (from @src) for @d. Hard limits: the array (twice the soft limit in
 * packets) for every packet, VS_BACKLOG_HARD_FACTOR times the soft limit in bytes
 * for data from a guest (the host endpoint holds back at the soft limit itself,
 * vs_host_send()). */
static bool
backlog_push(struct vs_port *d, struct rte_mbuf *m, const struct vs_port *src)
{
	struct vs_backlog *b = &d->backlog;
	uint32_t bytes = m->pkt_len - vs_mbuf_priv(m)->off;

	if (backlog_len(b) > b->mask ||
	    (bytes > 0 && src != vs_sw.host && (uint64_t)b->bytes + bytes >
	     (uint64_t)vs_sw.conf.backlog_bytes * VS_BACKLOG_HARD_FACTOR)) {
		d->stats.drops[VS_DROP_BACKLOG_FULL]++;
		rte_pktmbuf_free(m);
		return false;
	}
	if (backlog_empty(b))
		__atomic_store_n(&d->rx_progress, rte_rdtsc(), __ATOMIC_RELAXED);
	/* Something to drain: polled every round again (lcore_round()). */
	d->idle_polls = 0;
	b->q[b->tail++ & b->mask] = m;
	b->bytes += bytes;
	return true;
}

void
vs_backlog_clear(struct vs_port *p)
{
	struct vs_backlog *b = &p->backlog;

	while (!backlog_empty(b))
		rte_pktmbuf_free(b->q[b->head++ & b->mask]);
	b->bytes = 0;
}

void
vs_rx_stash_return(struct vs_lcore *lc)
{
	struct vs_rx_stash *s = &lc->rx;

	if (s->port != NULL && s->next < s->n)
		virtq_unpop(&s->port->vq[VSOCK_VQ_RX], s->n - s->next);
	s->port = NULL;
	s->next = 0;
	s->n = 0;
}

/* The next rx chain of @d, taken with as many as the burst will likely fill:
 * the packets the tx burst still has for @d, or the buffers @bytes more need
 * (a guess from this chain's size). NULL if the guest has none. */
static struct virtq_chain *
rx_next(struct vs_lcore *lc, struct vs_port *d, uint32_t bytes)
{
	struct vs_rx_stash *s = &lc->rx;
	unsigned int want;

	if (s->port != d)
		vs_rx_stash_return(lc);
	if (s->next == s->n) {
		want = RTE_MAX((unsigned int)s->want, 1u);
		if (d->rx_buf_len > 0)
			want = RTE_MAX(want, bytes / d->rx_buf_len + 1);
		s->port = d;
		s->next = 0;
		s->n = (uint16_t)virtq_pop(&d->vq[VSOCK_VQ_RX], s->chains,
					   RTE_MIN(want, (unsigned int)VS_RX_STASH));
		if (s->n == 0)
			return NULL;
		if (s->chains[s->n - 1].len > VSOCK_HDR_LEN)
			d->rx_buf_len = s->chains[s->n - 1].len - VSOCK_HDR_LEN;
	}
	return &s->chains[s->next++];
}

uint32_t
vs_rx_write(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h,
	    const struct virtq_iov *iov, unsigned int niov, uint32_t soff, bool *complete)
{
	struct virtq *q = &d->vq[VSOCK_VQ_RX];
	struct virtq_chain *c;
	uint32_t len = h->op == VSOCK_OP_RW ? h->len : 0;
	uint32_t done = 0;
	unsigned int tries = 0;
	bool wrote = false;

	while ((!wrote || done < len) && tries++ < q->size) {
		uint8_t wire[VSOCK_HDR_LEN];
		struct vsock_hdr ph;
		uint32_t piece;

		c = rx_next(lc, d, len - done);
		if (c == NULL)
			break;
		/* A buffer that cannot hold a header, or no payload when payload is due,
		 * is handed back empty: the guest's own loss. */
		if (c->err != VIRTQ_OK || c->len < VSOCK_HDR_LEN ||
		    (c->len == VSOCK_HDR_LEN && len > done)) {
			virtq_push(q, c->head, 0);
			d->stats.drops[VS_DROP_BAD_DESC]++;
			continue;
		}
		piece = RTE_MIN(len - done, c->len - VSOCK_HDR_LEN);
		ph = *h;
		ph.len = piece;
		/* A message split over buffers ends only with its last piece. */
		if (h->op == VSOCK_OP_RW && done + piece < len)
			ph.flags &= ~VSOCK_SEQ_MASK;
		vsock_hdr_encode(&ph, wire);
		virtq_iov_write(c->iov, c->niov, 0, wire, VSOCK_HDR_LEN);
		if (piece > 0)
			virtq_iov_copy(c->iov, c->niov, VSOCK_HDR_LEN, iov, niov, soff + done,
				       piece);
		virtq_push(q, c->head, VSOCK_HDR_LEN + piece);
		d->stats.rx_pkts++;
		d->stats.rx_op[ph.op <= VSOCK_OP_MAX ? ph.op : 0]++;
		d->stats.rx_bytes += piece;
		done += piece;
		wrote = true;
	}
	if (wrote || tries > 1)
		vs_port_mark_dirty(lc, d);
	*complete = wrote && done == len;
	return done;
}

/* Queue what is left of a packet (from @done on) in @d's backlog. False if it
 * was dropped (no mbuf, or past the hard limit; counted). */
static bool
backlog_rest(struct vs_port *d, const struct vs_port *src, const struct vsock_hdr *h,
	     const struct virtq_iov *iov, unsigned int niov, uint32_t soff, uint32_t done)
{
	struct vsock_hdr rest = *h;
	struct rte_mbuf *m;

	if (h->op == VSOCK_OP_RW)
		rest.len = h->len - done;
	m = vs_mbuf_from_iov(&rest, iov, niov, soff + done);
	if (m == NULL) {
		d->stats.drops[VS_DROP_NO_MBUF]++;
		return false;
	}
	return backlog_push(d, m, src);
}

static void refuse_request(struct vs_lcore *lc, const struct vsock_hdr *h, struct vs_port *src);

enum vs_gate {
	VS_GATE_GO = 0,
	VS_GATE_WAIT, /* leave it in the sender's tx ring */
	VS_GATE_REFUSE, /* answer RST */
};

/* New connections wait in the sender's queue while @d's backlog is over its soft
 * limit, or are refused once @d looks stuck (its backlog did not move for
 * VS_STUCK_MS); replies and resets still pass (the spec's deadlock rule). Data
 * never waits: vs_tx.c let it through within the credit @d granted, so what one
 * connection can have queued is bounded by that credit, and a receiver that stops
 * taking packets does not stop its senders' other connections. Data that does
 * not fit under the hard limit resets its connection (vs_conn_reset_rx()). */
static inline enum vs_gate
request_gate(const struct vs_port *d, const struct vsock_hdr *h)
{
	uint64_t since;

	if (h->op != VSOCK_OP_REQUEST || !vs_backlog_over_soft(d))
		return VS_GATE_GO;
	since = __atomic_load_n(&d->rx_progress, __ATOMIC_RELAXED);
	if (rte_rdtsc() - since > rte_get_tsc_hz() / 1000 * VS_STUCK_MS)
		return VS_GATE_REFUSE;
	return VS_GATE_WAIT;
}

/* Apply request_gate(): VS_STALL, VS_DELIVERED (refused), or -1 to go on. */
static inline int
gate(struct vs_lcore *lc, struct vs_port *src, const struct vs_port *d,
     const struct vsock_hdr *h)
{
	switch (request_gate(d, h)) {
	case VS_GATE_WAIT:
		return VS_STALL;
	case VS_GATE_REFUSE:
		src->stats.drops[VS_DROP_BACKLOG_FULL]++;
		vs_send_rst(lc, h, src);
		return VS_DELIVERED;
	default:
		return -1;
	}
}

/* What could not be queued for @d: a REQUEST is refused, data resets its
 * connection (a stream must not lose bytes silently). */
static void
not_queued(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h,
	   struct vs_port *src)
{
	if (h->op == VSOCK_OP_REQUEST)
		refuse_request(lc, h, src);
	else if (h->op == VSOCK_OP_RW)
		vs_conn_reset_rx(lc, d, h, src);
}

/* A REQUEST that could not be queued: forget the receiver's end, answer RST. */
static void
refuse_request(struct vs_lcore *lc, const struct vsock_hdr *h, struct vs_port *src)
{
	struct vs_flow_key k;
	struct vs_flow *f;

	vs_flow_key_ingress(h, &k);
	f = vs_flow_lookup(lc->flows, &k);

	if (f != NULL)
		vs_end_del(lc, NULL, f);
	vs_send_rst(lc, h, src);
}

enum vs_deliver
vs_deliver_iov(struct vs_lcore *lc, struct vs_port *src, struct vs_port *d,
	       const struct vsock_hdr *h, const struct virtq_iov *iov, unsigned int niov,
	       uint32_t soff)
{
	bool complete;
	uint32_t done;

	if (vs_port_owner(d) != lc->lcore_id) {
		struct rte_mbuf *m;
		int g = gate(lc, src, d, h);

		if (g >= 0)
			return (enum vs_deliver)g;
		m = vs_mbuf_from_iov(h, iov, niov, soff);
		if (m == NULL)
			return VS_STALL;
		vs_mbuf_address(m, d, src);
		if (vs_port_enqueue(d, m) != 0) {
			rte_pktmbuf_free(m);
			return VS_STALL;
		}
		return VS_DELIVERED;
	}
	if (!vs_port_live(d) && !vs_port_keeps(d)) {
		/* Stopped after routing: a REQUEST still deserves its answer. */
		if (h->op == VSOCK_OP_REQUEST)
			vs_send_rst(lc, h, src);
		return VS_DELIVERED;
	}
	/* A suspended guest's rings are gone: what is for it waits in its backlog. */
	if (!backlog_empty(&d->backlog) || !vs_port_live(d)) {
		int g = gate(lc, src, d, h);

		if (g >= 0)
			return (enum vs_deliver)g;
		if (!vs_flow_ingress(lc, d, h))
			return VS_DELIVERED;
		if (!backlog_rest(d, src, h, iov, niov, soff, 0))
			not_queued(lc, d, h, src);
		return VS_DELIVERED;
	}
	if (!vs_flow_ingress(lc, d, h))
		return VS_DELIVERED;
	done = vs_rx_write(lc, d, h, iov, niov, soff, &complete);
	if (!complete && !backlog_rest(d, src, h, iov, niov, soff, done))
		not_queued(lc, d, h, src);
	return VS_DELIVERED;
}

/* Write a queued mbuf into @d's rx queue; true when all of it went. */
static bool
deliver_queued(struct vs_lcore *lc, struct vs_port *d, struct rte_mbuf *m)
{
	struct virtq_iov iov[VSOCK_MAX_PKT_PAYLOAD / VS_MBUF_DATA + 1];
	struct vs_mbuf_priv *pv = vs_mbuf_priv(m);
	struct vsock_hdr h;
	unsigned int niov = vs_mbuf_iov(m, iov, RTE_DIM(iov));
	bool complete;
	uint32_t done;

	vsock_hdr_decode(pv->hdr, &h);
	if (h.op == VSOCK_OP_RW)
		h.len -= pv->off;
	done = vs_rx_write(lc, d, &h, iov, niov, pv->off, &complete);
	pv->off += done;
	d->backlog.bytes -= RTE_MIN(done, d->backlog.bytes);
	return complete;
}

unsigned int
vs_backlog_drain(struct vs_lcore *lc, struct vs_port *p)
{
	struct vs_backlog *b = &p->backlog;
	uint32_t head0 = b->head, bytes0 = b->bytes;
	unsigned int n = 0;

	while (!backlog_empty(b) && n < VS_BURST_SIZE) {
		struct rte_mbuf *m = b->q[b->head & b->mask];

		lc->rx.want = (uint16_t)RTE_MIN(backlog_len(b), (uint32_t)VS_BURST_SIZE - n);
		if (!deliver_queued(lc, p, m))
			break;
		b->head++;
		rte_pktmbuf_free(m);
		n++;
	}
	lc->rx.want = 0;
	if (backlog_empty(b))
		b->bytes = 0;
	else if (b->head != head0 || b->bytes != bytes0)
		__atomic_store_n(&p->rx_progress, rte_rdtsc(), __ATOMIC_RELAXED);
	return n;
}

/* An mbuf for one of our ports, from another lcore or generated here. */
void
vs_deliver_mbuf(struct vs_lcore *lc, struct rte_mbuf *m)
{
	struct vs_mbuf_priv *pv = vs_mbuf_priv(m);
	struct vs_port *d = vs_port_of(pv->dst, pv->dst_uid);
	struct vs_port *src;
	struct vsock_hdr h;

	vsock_hdr_decode(pv->hdr, &h);
	/* The port was deleted (its slot may hold a later guest now) or moved to
	 * another lcore since the packet was queued: it is not for us any more. */
	if (d == NULL || vs_port_owner(d) != lc->lcore_id) {
		if (h.op == VSOCK_OP_REQUEST)
			vs_send_rst(lc, &h, vs_port_of(pv->src, pv->src_uid));
		rte_pktmbuf_free(m);
		return;
	}
	if (pv->generated)
		d->stats.rst_sent++;
	if (!vs_port_live(d) && !vs_port_keeps(d)) {
		if (h.op == VSOCK_OP_REQUEST)
			vs_send_rst(lc, &h, vs_port_of(pv->src, pv->src_uid));
		rte_pktmbuf_free(m);
		return;
	}
	if (!vs_flow_ingress(lc, d, &h)) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Suspended: it waits in the backlog for the rings to come back. */
	if (backlog_empty(&d->backlog) && vs_port_live(d) && deliver_queued(lc, d, m)) {
		rte_pktmbuf_free(m);
		return;
	}
	src = vs_port_of(pv->src, pv->src_uid);
	/* A failed push frees the mbuf (and pv with it). */
	if (!backlog_push(d, m, src))
		not_queued(lc, d, &h, src);
}

unsigned int
vs_handover_drain(struct vs_lcore *lc)
{
	struct rte_mbuf *m[VS_HANDOVER_BURST];
	unsigned int i, n;

	n = rte_ring_sc_dequeue_burst(lc->in, (void **)m, VS_HANDOVER_BURST, NULL);
	for (i = 0; i < n; i++) {
		lc->rx.want = (uint16_t)(n - i);
		vs_deliver_mbuf(lc, m[i]);
	}
	lc->rx.want = 0;
	return n;
}

/* Answer @to_reset (a packet @to sent) with an RST, as if from its destination. */
void
vs_send_rst(struct vs_lcore *lc, const struct vsock_hdr *to_reset, struct vs_port *to)
{
	struct vsock_hdr rst = {
		.src_cid = to_reset->dst_cid,
		.dst_cid = to_reset->src_cid,
		.src_port = to_reset->dst_port,
		.dst_port = to_reset->src_port,
		.type = to_reset->type,
		.op = VSOCK_OP_RST,
	};
	struct rte_mbuf *m;

	if (to == NULL)
		return;
	vs_capture_hdr(&rst, NULL, 0, 0);
	if (vs_port_owner(to) == lc->lcore_id) {
		to->stats.rst_sent++;
		vs_deliver_iov(lc, to, to, &rst, NULL, 0, 0);
		return;
	}
	m = vs_mbuf_from_iov(&rst, NULL, 0, 0);
	if (m == NULL) {
		lc->lost_rst++;
		return;
	}
	vs_mbuf_address(m, to, NULL);
	vs_mbuf_priv(m)->generated = 1;
	if (vs_port_enqueue(to, m) != 0) {
		lc->lost_rst++;
		rte_pktmbuf_free(m);
	}
}
