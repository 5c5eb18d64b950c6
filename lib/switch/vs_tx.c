/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* A guest's tx queue, one burst at a time: take chains, check headers, route and
 * track connections (bulk lookups), deliver in order, complete the chains. */

#include <rte_cycles.h>

#include "vs_switch_pvt.h"

/* Decode and check chain @c of @src into @pkt; sets pkt->drop on failure. */
static void
tx_parse(const struct vs_port *src, const struct virtq_chain *c, struct vs_pkt *pkt)
{
	uint8_t wire[VSOCK_HDR_LEN];

	pkt->drop = 0;
	pkt->dst = NULL;
	pkt->flow = NULL;
	if (c->err != VIRTQ_OK) {
		pkt->drop = VS_DROP_BAD_DESC + 1;
		return;
	}
	if (c->len < VSOCK_HDR_LEN) {
		pkt->drop = VS_DROP_BAD_HDR + 1;
		return;
	}
	/* One copy of the header; the guest may rewrite its buffer meanwhile. */
	virtq_iov_read(c->iov, c->niov, 0, wire, VSOCK_HDR_LEN);
	vsock_hdr_decode(wire, &pkt->h);
	switch (vsock_hdr_check(&pkt->h, src->cid, c->len - VSOCK_HDR_LEN,
				src->rings.seqpacket)) {
	case VSOCK_HDR_OK:
		/* A guest reaches itself through its own loopback, never through the
		 * device; and its tx and rx buffers may overlap. */
		if (pkt->h.dst_cid == src->cid) {
			pkt->drop = VS_DROP_RESERVED_DST + 1;
			return;
		}
		break;
	case VSOCK_HDR_ERR_SPOOFED_SRC:
		pkt->drop = VS_DROP_SPOOFED + 1;
		return;
	case VSOCK_HDR_ERR_RESERVED_DST:
		pkt->drop = VS_DROP_RESERVED_DST + 1;
		return;
	default:
		pkt->drop = VS_DROP_BAD_HDR + 1;
		return;
	}
	pkt->key.local_cid = pkt->h.src_cid;
	pkt->key.local_port = pkt->h.src_port;
	pkt->key.peer_cid = pkt->h.dst_cid;
	pkt->key.peer_port = pkt->h.dst_port;
}

/* Sender's end of the connection, before delivery. A REQUEST creates it (again,
 * harmlessly, if the packet has to wait and comes back); any other op needs it,
 * and an RW must fit in the credit the receiver granted.
 * Returns NULL if the packet is not to be delivered (dropped or answered). */
static struct vs_flow *
tx_egress(struct vs_lcore *lc, struct vs_port *src, struct vs_pkt *pkt,
	  const struct virtq_chain *c)
{
	struct vs_flow *f = pkt->flow;

	/* The bulk lookup ran before earlier packets of this burst changed the table. */
	if (f == NULL || !f->live)
		f = vs_flow_lookup(lc->flows, &pkt->key);
	switch (pkt->h.op) {
	case VSOCK_OP_REQUEST:
		if (f == NULL) {
			if (vs_conn_limit_reached(src) || vs_conn_limit_reached(pkt->dst)) {
				/* The destination's count is read from another lcore: a
				 * hint; its own ingress checks again. */
				src->stats.drops[VS_DROP_CONN_LIMIT]++;
				vs_log_conn(src, &pkt->h, "refused", "connection limit");
				vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
				vs_send_rst(lc, &pkt->h, src);
				return NULL;
			}
			f = vs_flow_add(lc->flows, &pkt->key);
		}
		if (f == NULL) {
			src->stats.drops[VS_DROP_FLOW_FULL]++;
			vs_log_conn(src, &pkt->h, "refused", "flow table full");
			vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
			vs_send_rst(lc, &pkt->h, src);
			return NULL;
		}
		vs_end_count(src, f);
		vs_flow_restart(f);
		f->state = VS_FLOW_CONNECTING;
		f->type = (uint8_t)pkt->h.type;
		f->outgoing = 1;
		f->since = rte_rdtsc();
		return f;
	case VSOCK_OP_RST:
		if (f == NULL) {
			src->stats.drops[VS_DROP_NO_FLOW]++;
			vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
		}
		return f;
	case VSOCK_OP_RW:
		/* Guest to guest; the host endpoint holds guests to its own credit. */
		if (f != NULL && pkt->dst != vs_sw.host &&
		    !vs_credit_allows(&f->peer, f->tx_bytes, pkt->h.len)) {
			/* Beyond what the receiver granted: the connection is reset both
			 * ways, nothing of the packet goes. */
			src->stats.drops[VS_DROP_CREDIT]++;
			vs_log_conn(src, &pkt->h, "reset", "data beyond the receiver's credit");
			vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
			vs_end_del(lc, src, f);
			vs_conn_reset(lc, &pkt->h, src, pkt->dst);
			return NULL;
		}
		/* fall through */
	default:
		if (f == NULL) {
			src->stats.drops[VS_DROP_NO_FLOW]++;
			vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
			vs_send_rst(lc, &pkt->h, src);
		}
		return f;
	}
}

/* The packet went: account it on the sender's end. */
static void
tx_commit(struct vs_lcore *lc, struct vs_port *src, struct vs_pkt *pkt, struct vs_flow *f)
{
	uint8_t shut;

	f->tx_pkts++;
	f->buf_alloc = pkt->h.buf_alloc;
	f->fwd_cnt = pkt->h.fwd_cnt;
	switch (pkt->h.op) {
	case VSOCK_OP_RST:
		vs_end_del(lc, src, f);
		break;
	case VSOCK_OP_RESPONSE:
		/* The local end accepted: it counts against its limit from now on. */
		vs_end_count(src, f);
		if (f->state == VS_FLOW_CONNECTING) {
			f->state = VS_FLOW_CONNECTED;
			f->since = rte_rdtsc();
		}
		break;
	case VSOCK_OP_SHUTDOWN:
		shut = f->shutdown | (uint8_t)pkt->h.flags;
		if (shut != f->shutdown || f->state != VS_FLOW_CLOSING)
			f->since = rte_rdtsc();
		f->shutdown = shut;
		f->state = VS_FLOW_CLOSING;
		break;
	case VSOCK_OP_RW:
		f->tx_bytes += pkt->h.len;
		break;
	default:
		break;
	}
}

/* The port of @cid: the one @f remembers while it still stands (same slot, same
 * uid, not deleted: a uid is never reused and a port keeps its CID), else the
 * CID table's, then remembered in @f. */
static inline struct vs_port *
tx_dst(struct vs_flow *f, uint64_t cid)
{
	struct vs_port *p;

	if (f != NULL && f->peer_uid != 0) {
		p = vs_port_of(f->peer_slot, f->peer_uid);
		if (p != NULL && !__atomic_load_n(&p->deleted, __ATOMIC_ACQUIRE))
			return p;
		f->peer_uid = 0;
	}
	p = vs_port_by_cid(cid);
	if (f != NULL && p != NULL) {
		f->peer_slot = p->index;
		f->peer_uid = p->uid;
	}
	return p;
}

/* Route every parsed packet: sender's flow in bulk, then the destination port
 * (from the flow while it is valid). */
static void
tx_lookup(struct vs_lcore *lc, struct vs_pkt *pkts, unsigned int n)
{
	const struct vs_flow_key *keys[VS_BURST_SIZE];
	struct vs_flow *flows[VS_BURST_SIZE];
	unsigned int idx[VS_BURST_SIZE];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		if (pkts[i].drop)
			continue;
		keys[k] = &pkts[i].key;
		idx[k++] = i;
	}
	vs_flow_lookup_bulk(lc->flows, keys, k, flows);
	for (i = 0; i < k; i++) {
		struct vs_pkt *pkt = &pkts[idx[i]];

		pkt->flow = flows[i];
		pkt->dst = tx_dst(flows[i], pkt->h.dst_cid);
	}
}

unsigned int
vs_tx_poll(struct vs_lcore *lc, struct vs_port *src)
{
	struct virtq *q = &src->vq[VSOCK_VQ_TX];
	struct vs_pkt pkts[VS_BURST_SIZE];
	unsigned int i, n;

	n = virtq_pop(q, lc->chains, VS_BURST_SIZE);
	if (n == 0) {
		if (q->broken && src->dp_active) {
			VS_LOG_RL(&src->log_rl, ERR,
				  "guest %" PRIu64 ": tx ring indices broken, queue stopped", src->cid);
			src->stats.drops[VS_DROP_BAD_DESC]++;
			src->dp_active = false;
			vs_backlog_clear(src);
			vs_flow_reset_port(lc, src);
		}
		return 0;
	}
	for (i = 0; i < n; i++)
		tx_parse(src, &lc->chains[i], &pkts[i]);
	tx_lookup(lc, pkts, n);

	for (i = 0; i < n; i++) {
		const struct virtq_chain *c = &lc->chains[i];
		struct vs_pkt *pkt = &pkts[i];
		struct vs_flow *f;

		if (pkt->drop) {
			src->stats.drops[pkt->drop - 1]++;
			virtq_push(q, c->head, 0);
			continue;
		}
		if (pkt->dst == NULL || !vs_port_reachable(pkt->dst)) {
			/* Nobody to answer: answer now, never a silent drop. The capture shows
			 * the packet before the RST that answers it. */
			vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
			src->stats.drops[VS_DROP_NO_ROUTE]++;
			if (pkt->h.op == VSOCK_OP_REQUEST)
				vs_log_conn(src, &pkt->h, "refused", pkt->dst == NULL ?
					    "no such CID" : "destination not running");
			if (pkt->h.op != VSOCK_OP_RST)
				vs_send_rst(lc, &pkt->h, src);
			virtq_push(q, c->head, 0);
			continue;
		}
		f = tx_egress(lc, src, pkt, c);
		if (f == NULL) {
			virtq_push(q, c->head, 0);
			continue;
		}
		lc->rx.want = (uint16_t)(n - i);
		if (vs_deliver_iov(lc, src, pkt->dst, &pkt->h, c->iov, c->niov,
				   VSOCK_HDR_LEN) == VS_STALL) {
			src->stats.stalls++;
			/* Waiting for its receiver is not idle: polled every round. */
			src->idle_polls = 0;
			break;
		}
		tx_commit(lc, src, pkt, f);
		vs_capture_hdr(&pkt->h, c->iov, c->niov, VSOCK_HDR_LEN);
		src->stats.tx_op[pkt->h.op]++;
		src->stats.tx_pkts++;
		src->stats.tx_bytes += pkt->h.op == VSOCK_OP_RW ? pkt->h.len : 0;
		virtq_push(q, c->head, 0);
	}
	lc->rx.want = 0;
	if (i < n)
		virtq_unpop(q, n - i);
	vs_port_mark_dirty(lc, src);
	return i;
}
