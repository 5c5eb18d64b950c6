/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Guest ports: creation, the CID table, and the start/stop handshake between the
 * control plane and a port's owner lcore. */

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "vs_switch_pvt.h"

struct vs_port *
vs_port_by_cid(uint64_t cid)
{
	void *data;

	if (rte_hash_lookup_data(vs_sw.cids, &cid, &data) < 0)
		return NULL;
	return data;
}

struct vs_port *
vs_port_lookup(uint64_t cid)
{
	return vs_port_by_cid(cid);
}

uint64_t
vs_port_cid(const struct vs_port *p)
{
	return p->cid;
}

unsigned int
vs_port_lcore(const struct vs_port *p)
{
	return p->lcore;
}

enum vs_port_state
vs_port_state_get(const struct vs_port *p)
{
	return __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
}

static unsigned int
least_loaded_worker(void)
{
	unsigned int i, best = vs_sw.workers[0];

	for (i = 1; i < vs_sw.nworkers; i++)
		if (vs_sw.lcores[vs_sw.workers[i]]->nports < vs_sw.lcores[best]->nports)
			best = vs_sw.workers[i];
	return best;
}

struct vs_port *
vs_port_add(uint64_t cid, unsigned int lcore, const struct vs_port_ops *ops, void *drv)
{
	struct vs_lcore *lc;
	struct vs_port *p;
	uint32_t nb;

	if (!vsock_cid_is_guest(cid)) {
		errno = EINVAL;
		return NULL;
	}
	if (vs_port_by_cid(cid) != NULL) {
		errno = EEXIST;
		return NULL;
	}
	if (vs_sw.nports >= VS_MAX_GUESTS) {
		errno = ENOSPC;
		return NULL;
	}
	if (lcore >= RTE_MAX_LCORE || vs_sw.lcores[lcore] == NULL)
		lcore = least_loaded_worker();
	lc = vs_sw.lcores[lcore];

	p = rte_zmalloc_socket("vs_port", sizeof(*p), RTE_CACHE_LINE_SIZE,
			       rte_lcore_to_socket_id(lcore));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* Room for the soft limit twice over: the hard limit (see vs_rx.c). */
	nb = rte_align32pow2(vs_sw.conf.backlog_pkts * 2);
	p->backlog.q = rte_zmalloc_socket("vs_backlog", nb * sizeof(p->backlog.q[0]),
					  RTE_CACHE_LINE_SIZE, rte_lcore_to_socket_id(lcore));
	if (p->backlog.q == NULL) {
		rte_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->backlog.mask = nb - 1;
	p->cid = cid;
	p->index = (uint16_t)vs_sw.nports;
	p->lcore = lcore;
	p->ops = ops;
	p->drv = drv;
	p->state = VS_PORT_CONFIGURED;

	if (rte_hash_add_key_data(vs_sw.cids, &p->cid, p) < 0) {
		rte_free(p->backlog.q);
		rte_free(p);
		errno = ENOSPC;
		return NULL;
	}
	vs_sw.ports[vs_sw.nports++] = p;
	/* Publish to the owner: the slot first, then the count. */
	lc->ports[lc->nports] = p;
	__atomic_store_n(&lc->nports, lc->nports + 1, __ATOMIC_RELEASE);
	return p;
}

void
vs_port_set_connected(struct vs_port *p, bool connected)
{
	if (vs_port_state_get(p) == VS_PORT_RUNNING && !connected)
		vs_port_stop(p);
	__atomic_store_n(&p->state, connected ? VS_PORT_CONNECTED : VS_PORT_CONFIGURED,
			 __ATOMIC_RELEASE);
}

int
vs_port_start(struct vs_port *p, const struct vs_port_rings *r)
{
	unsigned int q;

	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		if (r->desc[q] == NULL || r->avail[q] == NULL || r->used[q] == NULL ||
		    r->size[q] == 0 || (r->size[q] & (r->size[q] - 1)) != 0)
			return -EINVAL;
	}
	if (vs_port_state_get(p) == VS_PORT_RUNNING)
		vs_port_stop(p);
	p->rings = *r;
	__atomic_fetch_add(&p->gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->state, VS_PORT_RUNNING, __ATOMIC_RELEASE);
	return 0;
}

void
vs_port_stop(struct vs_port *p)
{
	uint16_t avail[VSOCK_NUM_VQ], used[VSOCK_NUM_VQ];
	unsigned int q;

	if (vs_port_state_get(p) != VS_PORT_RUNNING)
		return;
	__atomic_store_n(&p->state, VS_PORT_STOPPING, __ATOMIC_RELEASE);
	/* Every worker passes a quiescent state: none is inside the rings now. */
	rte_rcu_qsbr_synchronize(vs_sw.qsv, RTE_QSBR_THRID_INVALID);
	/* The owner set up this generation's queues (it may have torn them down
	 * since, which keeps their indices). */
	if (p->dp_gen == __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE)) {
		for (q = 0; q < VSOCK_NUM_VQ; q++) {
			avail[q] = p->vq[q].last_avail;
			used[q] = p->vq[q].last_used;
		}
		if (p->ops != NULL && p->ops->sync_bases != NULL)
			p->ops->sync_bases(p->drv, avail, used);
	}
	__atomic_store_n(&p->state, VS_PORT_CONNECTED, __ATOMIC_RELEASE);
}

/* Owner lcore: follow the control plane's state. A stop (or a restart with new
 * rings) resets the guest's connections and drops what waited for it. */
void
vs_port_refresh(struct vs_lcore *lc, struct vs_port *p)
{
	bool running = vs_port_running(p);
	uint32_t gen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
	const struct vs_port_rings *r = &p->rings;
	unsigned int q;

	if (p->dp_active && (!running || gen != p->dp_gen)) {
		vs_backlog_clear(p);
		vs_flow_reset_port(lc, p);
		p->dp_active = false;
		VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": rings withdrawn", p->cid);
	}
	if (p->dp_active || !running || gen == p->dp_gen)
		return;
	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		if (virtq_init(&p->vq[q], r->desc[q], r->avail[q], r->used[q], r->size[q],
			       r->last_avail[q], r->last_used[q], r->event_idx,
			       q == VSOCK_VQ_RX, &r->mem) != 0)
			return;
	}
	p->dp_gen = gen;
	p->dp_active = true;
	VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": running on lcore %u", p->cid,
		  lc->lcore_id);
}

void
vs_port_stats_get(const struct vs_port *p, struct vs_port_stats *s)
{
	memcpy(s, &p->stats, sizeof(*s));
}

uint32_t
vs_port_flow_count(const struct vs_port *p)
{
	const struct vs_flow_table *t = vs_sw.lcores[p->lcore]->flows;
	const struct vs_flow *f;
	uint32_t next = 0, n = 0;

	while ((f = vs_flow_next(t, &next)) != NULL)
		if (f->key.local_cid == p->cid)
			n++;
	return n;
}
