/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* What each op does to the flow table, on the receiving side of a delivery
 * (ingress) and when a guest goes away. The sending side (egress) is in vs_tx.c. */

#include "vs_switch_pvt.h"

static inline void
ingress_key(const struct vsock_hdr *h, struct vs_flow_key *k)
{
	k->local_cid = h->dst_cid;
	k->local_port = h->dst_port;
	k->peer_cid = h->src_cid;
	k->peer_port = h->src_port;
}

/* Receiver @d's end of the connection, before @h is written to it. Returns false
 * if the packet must not be delivered (it was answered instead). */
bool
vs_flow_ingress(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h)
{
	struct vs_flow_key k;
	struct vs_flow *f;

	switch (h->op) {
	case VSOCK_OP_REQUEST:
		ingress_key(h, &k);
		f = vs_flow_lookup(lc->flows, &k);
		if (f == NULL)
			f = vs_flow_add(lc->flows, &k);
		if (f == NULL) {
			d->stats.drops[VS_DROP_FLOW_FULL]++;
			vs_send_rst(lc, h, vs_port_by_cid(h->src_cid));
			return false;
		}
		f->state = VS_FLOW_CONNECTING;
		f->type = (uint8_t)h->type;
		f->outgoing = 0;
		f->shutdown = 0;
		return true;
	case VSOCK_OP_RESPONSE:
		ingress_key(h, &k);
		f = vs_flow_lookup(lc->flows, &k);
		if (f != NULL)
			f->state = VS_FLOW_CONNECTED;
		return true;
	case VSOCK_OP_RST:
		ingress_key(h, &k);
		f = vs_flow_lookup(lc->flows, &k);
		if (f != NULL)
			vs_flow_del(lc->flows, f);
		return true;
	default:
		return true;
	}
}

/* @p went away: every connection it had gets an RST towards the peer, and its
 * ends leave the table. */
void
vs_flow_reset_port(struct vs_lcore *lc, struct vs_port *p)
{
	struct vs_flow *f;
	uint32_t next = 0;
	unsigned int n = 0;

	while ((f = vs_flow_next(lc->flows, &next)) != NULL) {
		struct vsock_hdr from_peer;

		if (f->key.local_cid != p->cid)
			continue;
		/* vs_send_rst() answers a packet: pretend the peer sent one. */
		from_peer = (struct vsock_hdr){
			.src_cid = f->key.peer_cid,
			.src_port = f->key.peer_port,
			.dst_cid = f->key.local_cid,
			.dst_port = f->key.local_port,
			.type = f->type,
		};
		vs_send_rst(lc, &from_peer, vs_port_by_cid(f->key.peer_cid));
		vs_flow_del(lc->flows, f);
		n++;
	}
	if (n > 0)
		VS_LOG(INFO, "guest %" PRIu64 ": %u connections reset", p->cid, n);
}
