/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* What each op does to the flow table, on the receiving side of a delivery
 * (ingress), when a guest goes away, and when an end times out; per-guest
 * connection counts and resets. The sending side (egress) is in vs_tx.c. */

#include <rte_cycles.h>

#include "vs_switch_pvt.h"

/* Header (no op) of a packet between @f's ends: from its local end to the peer,
 * or, with @from_peer, from the peer to its local end. */
static void
flow_hdr(const struct vs_flow *f, bool from_peer, struct vsock_hdr *h)
{
	const struct vs_flow_key *k = &f->key;

	*h = (struct vsock_hdr){
		.src_cid = from_peer ? k->peer_cid : k->local_cid,
		.src_port = from_peer ? k->peer_port : k->local_port,
		.dst_cid = from_peer ? k->local_cid : k->peer_cid,
		.dst_port = from_peer ? k->local_port : k->peer_port,
		.type = f->type,
	};
}

/* Receiver @d's end for key @k. Consecutive packets to a guest mostly belong to
 * one connection: the end found last is tried first (a slot stays memory of the
 * table, and only this lcore changes it: live and the key tell whether it still
 * holds that end), which saves a hash lookup per packet of a busy connection. */
static inline struct vs_flow *
ingress_lookup(struct vs_lcore *lc, struct vs_port *d, const struct vs_flow_key *k)
{
	struct vs_flow *f = d->in_last;

	if (f != NULL && f->live && f->key.local_port == k->local_port &&
	    f->key.peer_port == k->peer_port && f->key.peer_cid == k->peer_cid &&
	    f->key.local_cid == k->local_cid)
		return f;
	f = vs_flow_lookup(lc->flows, k);
	if (f != NULL)
		d->in_last = f;
	return f;
}

/* Count @f (an end of @p) against @p's connection limit, once. */
void
vs_end_count(struct vs_port *p, struct vs_flow *f)
{
	if (!f->counted) {
		f->counted = 1;
		/* Other lcores read it (vs_conn_limit_reached() at their egress). */
		__atomic_store_n(&p->conns, p->conns + 1, __ATOMIC_RELAXED);
	}
}

/* Remove @f, an end of @p (NULL: look the port up by the end's CID). */
void
vs_end_del(struct vs_lcore *lc, struct vs_port *p, struct vs_flow *f)
{
	if (f->counted) {
		if (p == NULL)
			p = vs_port_by_cid(f->key.local_cid);
		if (p != NULL && p->conns > 0)
			__atomic_store_n(&p->conns, p->conns - 1, __ATOMIC_RELAXED);
		f->counted = 0;
	}
	vs_flow_del(lc->flows, f);
}

/* RST both ends of the connection @h belongs to (@src sent it to @dst, either may
 * be NULL). Each end leaves its table when its RST passes its ingress; the
 * caller removes the ends it already holds. */
void
vs_conn_reset(struct vs_lcore *lc, const struct vsock_hdr *h, struct vs_port *src,
	      struct vs_port *dst)
{
	struct vsock_hdr from_dst = {
		.src_cid = h->dst_cid,
		.src_port = h->dst_port,
		.dst_cid = h->src_cid,
		.dst_port = h->src_port,
		.type = h->type,
	};

	vs_send_rst(lc, h, src);
	vs_send_rst(lc, &from_dst, dst);
}

/* @h (from @src) cannot go into receiver @d's queue: remove @d's end and reset the
 * connection both ways. */
void
vs_conn_reset_rx(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h,
		 struct vs_port *src)
{
	struct vs_flow_key k;
	struct vs_flow *f;

	vs_flow_key_ingress(h, &k);
	f = vs_flow_lookup(lc->flows, &k);
	if (f != NULL)
		vs_end_del(lc, d, f);
	vs_conn_reset(lc, h, src, d);
}

/* Receiver @d's end of the connection, before @h is written to it. Returns false
 * if the packet must not be delivered (it was answered instead). Every header
 * carries the sender's credit: the receiver's end keeps it, vs_tx.c holds the
 * receiver to it when it sends RW back. */
bool
vs_flow_ingress(struct vs_lcore *lc, struct vs_port *d, const struct vsock_hdr *h)
{
	struct vs_flow_key k;
	struct vs_flow *f;

	vs_flow_key_ingress(h, &k);
	f = ingress_lookup(lc, d, &k);
	switch (h->op) {
	case VSOCK_OP_REQUEST:
		if (f == NULL) {
			if (vs_conn_limit_reached(d)) {
				d->stats.drops[VS_DROP_CONN_LIMIT]++;
				vs_log_conn(d, h, "refused", "connection limit of the destination");
				vs_send_rst(lc, h, vs_port_by_cid(h->src_cid));
				return false;
			}
			f = vs_flow_add(lc->flows, &k);
		}
		if (f == NULL) {
			d->stats.drops[VS_DROP_FLOW_FULL]++;
			vs_log_conn(d, h, "refused", "flow table full");
			vs_send_rst(lc, h, vs_port_by_cid(h->src_cid));
			return false;
		}
		vs_flow_restart(f);
		f->state = VS_FLOW_CONNECTING;
		f->type = (uint8_t)h->type;
		f->outgoing = 0;
		f->since = rte_rdtsc();
		vs_credit_grant(&f->peer, h->buf_alloc, h->fwd_cnt);
		return true;
	case VSOCK_OP_RST:
		if (f != NULL)
			vs_end_del(lc, d, f);
		return true;
	case VSOCK_OP_RESPONSE:
		if (f != NULL && f->state == VS_FLOW_CONNECTING) {
			f->state = VS_FLOW_CONNECTED;
			f->since = rte_rdtsc();
		}
		/* fall through */
	default:
		if (f != NULL)
			vs_credit_grant(&f->peer, h->buf_alloc, h->fwd_cnt);
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
		flow_hdr(f, true, &from_peer);
		vs_send_rst(lc, &from_peer, vs_port_by_cid(f->key.peer_cid));
		vs_end_del(lc, p, f);
		n++;
	}
	__atomic_store_n(&p->conns, 0, __ATOMIC_RELAXED);
	if (n > 0)
		VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": %u connections reset", p->cid, n);
}

/* ---- timeouts ---- */

/* A full pass over the table takes about this many steps, one per millisecond. */
#define SWEEP_STEPS 1000

struct sweep {
	struct vs_lcore *lc;
	uint64_t now;
	uint64_t handshake; /* TSC cycles */
	uint64_t linger;
};

static void
sweep_one(struct vs_flow *f, void *arg)
{
	const struct sweep *s = arg;
	uint64_t age = s->now - f->since;
	struct vs_port *local, *peer;
	struct vsock_hdr h;

	if (f->since > s->now)
		return;
	if (!(f->state == VS_FLOW_CONNECTING && age > s->handshake) &&
	    !(f->state == VS_FLOW_CLOSING && age > s->linger &&
	      f->shutdown == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)))
		return;
	local = vs_port_by_cid(f->key.local_cid);
	peer = vs_port_by_cid(f->key.peer_cid);
	flow_hdr(f, false, &h);
	if (local != NULL)
		local->stats.expired++;
	vs_log_conn(local, &h, "reset", f->state == VS_FLOW_CONNECTING ?
		    "handshake timeout" : "linger timeout");
	vs_end_del(s->lc, local, f);
	vs_conn_reset(s->lc, &h, local, peer);
}

/* One step of the sweep that resets ends stuck in CONNECTING (handshake timeout)
 * or closed both ways without an RST (linger timeout): a bounded number of slots,
 * at most once a millisecond. Cheap enough to call every round. */
void
vs_flow_sweep(struct vs_lcore *lc)
{
	uint64_t hz = rte_get_tsc_hz();
	struct sweep s = { .lc = lc, .now = rte_rdtsc() };
	uint32_t n;

	if (s.now < lc->next_sweep)
		return;
	lc->next_sweep = s.now + hz / SWEEP_STEPS;
	s.handshake = hz / 1000 * vs_sw.conf.handshake_timeout_ms;
	s.linger = hz / 1000 * vs_sw.conf.linger_timeout_ms;
	n = vs_flow_slots(lc->flows) / SWEEP_STEPS + 1;
	vs_flow_scan(lc->flows, &lc->sweep_cursor, n, sweep_one, &s);
}
