/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Guest ports: creation and removal, the CID table, and the handshakes between
 * the control plane and a port's owner lcore (start/stop, delete, move). */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
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
	return vs_port_owner(p);
}

enum vs_port_state
vs_port_state_get(const struct vs_port *p)
{
	enum vs_port_state s = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);

	return s != VS_PORT_RUNNING && vs_port_keeps(p) ? VS_PORT_SUSPENDED : s;
}

bool
vs_port_suspended(const struct vs_port *p)
{
	return vs_port_keeps(p);
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

/* A free slot of vs_sw.ports[]: the lowest one a deleted port left, or a new one. */
static int
free_slot(void)
{
	uint32_t i;

	for (i = 0; i < vs_sw.nports; i++)
		if (vs_sw.ports[i] == NULL)
			return (int)i;
	return vs_sw.nports < VS_MAX_GUESTS ? (int)vs_sw.nports : -1;
}

/* Publish @p to its owner: the slot first, then the count. Control plane, locked. */
static void
owner_link(struct vs_lcore *lc, struct vs_port *p)
{
	__atomic_store_n(&lc->ports[lc->nports], p, __ATOMIC_RELEASE);
	__atomic_store_n(&lc->nports, lc->nports + 1, __ATOMIC_RELEASE);
}

/* Take @p from its owner's array: the last port moves into its slot. A round that
 * read the old count may meet the last port twice or @p once more: both are
 * harmless until the grace period the callers wait for. Control plane, locked. */
static void
owner_unlink(struct vs_lcore *lc, struct vs_port *p)
{
	uint32_t i, n = lc->nports;

	for (i = 0; i < n; i++)
		if (lc->ports[i] == p)
			break;
	if (i == n)
		return;
	__atomic_store_n(&lc->ports[i], lc->ports[n - 1], __ATOMIC_RELEASE);
	__atomic_store_n(&lc->nports, n - 1, __ATOMIC_RELEASE);
}

/* May the caller wait for the workers? Not if it is one of them. */
static bool
caller_is_worker(void)
{
	unsigned int self = rte_lcore_id();

	return self < RTE_MAX_LCORE && vs_sw.lcores[self] != NULL &&
	       __atomic_load_n(&vs_sw.lcores[self]->polling, __ATOMIC_ACQUIRE);
}

struct vs_port *
vs_port_add(uint64_t cid, unsigned int lcore, const struct vs_port_ops *ops, void *drv)
{
	struct vs_lcore *lc;
	struct vs_port *p;
	uint32_t nb;
	int slot, err;

	if (!vsock_cid_is_guest(cid)) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&vs_sw.ctl_lock);
	if (vs_port_by_cid(cid) != NULL) {
		err = EEXIST;
		goto fail;
	}
	slot = free_slot();
	if (slot < 0) {
		err = ENOSPC;
		goto fail;
	}
	if (lcore >= RTE_MAX_LCORE || vs_sw.lcores[lcore] == NULL)
		lcore = least_loaded_worker();
	lc = vs_sw.lcores[lcore];

	p = rte_zmalloc_socket("vs_port", sizeof(*p), RTE_CACHE_LINE_SIZE,
			       rte_lcore_to_socket_id(lcore));
	if (p == NULL) {
		err = ENOMEM;
		goto fail;
	}
	/* Room for the soft limit twice over: the hard limit (see vs_rx.c). */
	nb = rte_align32pow2(vs_sw.conf.backlog_pkts * 2);
	p->backlog.q = rte_zmalloc_socket("vs_backlog", nb * sizeof(p->backlog.q[0]),
					  RTE_CACHE_LINE_SIZE, rte_lcore_to_socket_id(lcore));
	if (p->backlog.q == NULL) {
		rte_free(p);
		err = ENOMEM;
		goto fail;
	}
	p->backlog.mask = nb - 1;
	p->cid = cid;
	p->index = (uint16_t)slot;
	p->uid = ++vs_sw.next_uid;
	p->lcore = lcore;
	p->ops = ops;
	p->drv = drv;
	p->state = VS_PORT_CONFIGURED;
	p->numa_node = -1;

	if (rte_hash_add_key_data(vs_sw.cids, &p->cid, p) < 0) {
		rte_free(p->backlog.q);
		rte_free(p);
		err = ENOSPC;
		goto fail;
	}
	__atomic_store_n(&vs_sw.ports[slot], p, __ATOMIC_RELEASE);
	if ((uint32_t)slot == vs_sw.nports)
		__atomic_store_n(&vs_sw.nports, vs_sw.nports + 1, __ATOMIC_RELEASE);
	owner_link(lc, p);
	pthread_mutex_unlock(&vs_sw.ctl_lock);
	return p;
fail:
	pthread_mutex_unlock(&vs_sw.ctl_lock);
	errno = err;
	return NULL;
}

/* Wait for @p's owner to acknowledge the deletion (or the workers to stop). */
static int
wait_owner_ack(struct vs_port *p)
{
	while (!__atomic_load_n(&p->dead, __ATOMIC_ACQUIRE)) {
		if (vs_switch_stopping())
			return -ESHUTDOWN;
		usleep(100);
	}
	return 0;
}

int
vs_port_del(struct vs_port *p)
{
	int32_t pos;
	int ret;

	if (p == NULL || p == vs_sw.host)
		return -EINVAL;
	if (caller_is_worker())
		return -EDEADLK;
	pthread_mutex_lock(&vs_sw.ctl_lock);
	/* Rings withdrawn: no worker is inside them when this returns. */
	vs_port_stop(p);
	/* New lookups miss from now on; readers that found it before hold it at most
	 * until their next quiescent state. */
	pos = rte_hash_del_key(vs_sw.cids, &p->cid);
	__atomic_store_n(&p->deleted, 1, __ATOMIC_RELEASE);
	/* The owner resets its connections (peers get an RST) and drops its
	 * backlog; nothing creates new ones: the port is not live. */
	ret = wait_owner_ack(p);
	if (ret < 0) {
		pthread_mutex_unlock(&vs_sw.ctl_lock);
		return ret;
	}
	owner_unlink(vs_sw.lcores[vs_port_owner(p)], p);
	__atomic_store_n(&vs_sw.ports[p->index], NULL, __ATOMIC_RELEASE);
	/* Workers (ports[] arrays, CID lookups, handover deliveries) and telemetry
	 * readers are past every reference they had. Packets still in rings name the
	 * port by slot and uid: vs_port_of() no longer finds it. */
	rte_rcu_qsbr_synchronize(vs_sw.qsv, RTE_QSBR_THRID_INVALID);
	if (pos >= 0)
		rte_hash_free_key_with_position(vs_sw.cids, pos);
	vs_backlog_clear(p);
	pthread_mutex_unlock(&vs_sw.ctl_lock);
	VS_LOG(INFO, "guest %" PRIu64 ": port deleted", p->cid);
	rte_free(p->backlog.q);
	rte_free(p);
	return 0;
}

int
vs_port_move(struct vs_port *p, unsigned int lcore)
{
	unsigned int old;

	if (p == NULL || p == vs_sw.host || lcore >= RTE_MAX_LCORE || vs_sw.lcores[lcore] == NULL)
		return -EINVAL;
	if (caller_is_worker())
		return -EDEADLK;
	pthread_mutex_lock(&vs_sw.ctl_lock);
	old = vs_port_owner(p);
	if (old == lcore) {
		pthread_mutex_unlock(&vs_sw.ctl_lock);
		return 0;
	}
	/* A suspended port's connections live in its owner's flow table. */
	if (vs_port_running(p) || vs_port_keeps(p)) {
		pthread_mutex_unlock(&vs_sw.ctl_lock);
		return -EBUSY;
	}
	/* A stop the old owner has not followed yet: it must reset the guest's
	 * connections in its own flow table first. */
	while (__atomic_load_n(&p->dp_active, __ATOMIC_ACQUIRE)) {
		if (vs_switch_stopping()) {
			pthread_mutex_unlock(&vs_sw.ctl_lock);
			return -ESHUTDOWN;
		}
		usleep(100);
	}
	owner_unlink(vs_sw.lcores[old], p);
	/* The old owner is done with it; packets for it in the old owner's ring are
	 * dropped there (vs_deliver_mbuf() checks the owner). */
	rte_rcu_qsbr_synchronize(vs_sw.qsv, RTE_QSBR_THRID_INVALID);
	__atomic_store_n(&p->lcore, lcore, __ATOMIC_RELEASE);
	owner_link(vs_sw.lcores[lcore], p);
	pthread_mutex_unlock(&vs_sw.ctl_lock);
	VS_LOG(INFO, "guest %" PRIu64 ": moved from lcore %u to lcore %u", p->cid, old, lcore);
	return 0;
}

void
vs_port_numa_set(struct vs_port *p, int node)
{
	__atomic_store_n(&p->numa_node, node, __ATOMIC_RELAXED);
}

int
vs_port_numa_get(const struct vs_port *p)
{
	return __atomic_load_n(&p->numa_node, __ATOMIC_RELAXED);
}

unsigned int
vs_port_place(struct vs_port *p, int mem_node, bool pinned)
{
	unsigned int lcores[RTE_MAX_LCORE], i, cur = vs_port_owner(p), to;
	int nodes[RTE_MAX_LCORE];
	uint32_t load[RTE_MAX_LCORE];

	vs_port_numa_set(p, mem_node);
	for (i = 0; i < vs_sw.nworkers; i++) {
		lcores[i] = vs_sw.workers[i];
		nodes[i] = (int)rte_lcore_to_socket_id(lcores[i]);
		load[i] = __atomic_load_n(&vs_sw.lcores[lcores[i]]->nports, __ATOMIC_RELAXED);
	}
	to = vs_numa_pick_lcore(mem_node, cur, pinned, lcores, nodes, load, vs_sw.nworkers);
	if (to != cur && vs_port_move(p, to) != 0)
		return cur;
	return to;
}

void
vs_port_set_connected(struct vs_port *p, bool connected)
{
	if (vs_port_running(p) && !connected)
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
	if (vs_port_running(p))
		vs_port_stop(p);
	/* A fresh start: whatever a suspension kept is reset first (the owner
	 * does so before it sets up the new rings). */
	vs_port_unsuspend(p);
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

	if (!vs_port_running(p))
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

bool
vs_port_suspend(struct vs_port *p, uint32_t grace_ms)
{
	uint32_t s = __atomic_load_n(&p->susp, __ATOMIC_ACQUIRE);
	bool kept = false;

	if (!vs_port_running(p))
		return vs_port_keeps(p);
	__atomic_store_n(&p->susp_deadline, rte_rdtsc() + rte_get_tsc_hz() / 1000 * grace_ms,
			 __ATOMIC_RELAXED);
	/* Before the rings go: the owner must never see them withdrawn without
	 * knowing to keep the connections. A resume its owner has not run yet is
	 * suspended again as it stands; a suspension being ended is not. */
	while (!kept && (s == VS_SUSP_NONE || s == VS_SUSP_RESUMING))
		kept = __atomic_compare_exchange_n(&p->susp, &s, VS_SUSP_KEPT, false,
						   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	vs_port_stop(p);
	if (kept)
		VS_LOG(NOTICE, "guest %" PRIu64 ": frontend gone; keeping its connections for "
		       "%u ms", p->cid, grace_ms);
	return kept;
}

int
vs_port_resume(struct vs_port *p, const struct vs_port_rings *r)
{
	uint32_t kept = VS_SUSP_KEPT;
	unsigned int q;

	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		if (r->desc[q] == NULL || r->avail[q] == NULL || r->used[q] == NULL ||
		    r->size[q] != p->rings.size[q])
			return -EINVAL;
	}
	/* Against the owner ending the grace at the same moment: one of us wins. */
	if (!__atomic_compare_exchange_n(&p->susp, &kept, VS_SUSP_RESUMING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return -ESTALE;
	p->rings = *r;
	__atomic_fetch_add(&p->gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->state, VS_PORT_RUNNING, __ATOMIC_RELEASE);
	VS_LOG(NOTICE, "guest %" PRIu64 ": frontend back with the same memory and rings; "
	       "connections continue", p->cid);
	return 0;
}

void
vs_port_unsuspend(struct vs_port *p)
{
	uint32_t s = __atomic_load_n(&p->susp, __ATOMIC_ACQUIRE);

	/* KEPT or RESUMING (a resumed port stopped before its owner ran it). */
	while ((s == VS_SUSP_KEPT || s == VS_SUSP_RESUMING) &&
	       !__atomic_compare_exchange_n(&p->susp, &s, VS_SUSP_ENDED, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* Owner lcore: what a suspension kept goes (its connections are reset). */
static void
drop_kept(struct vs_lcore *lc, struct vs_port *p)
{
	vs_backlog_clear(p);
	vs_flow_reset_port(lc, p);
}

/* Owner lcore: a suspension ends, by the control plane's word or by its grace
 * running out. */
static void
suspension_follow(struct vs_lcore *lc, struct vs_port *p)
{
	uint32_t s = __atomic_load_n(&p->susp, __ATOMIC_ACQUIRE);

	if (s == VS_SUSP_KEPT &&
	    rte_rdtsc() > __atomic_load_n(&p->susp_deadline, __ATOMIC_RELAXED) &&
	    __atomic_compare_exchange_n(&p->susp, &s, VS_SUSP_ENDED, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		VS_LOG_RL(&p->log_rl, NOTICE, "guest %" PRIu64 ": reconnect grace over, "
			  "frontend did not come back", p->cid);
		s = VS_SUSP_ENDED;
	}
	if (s != VS_SUSP_ENDED)
		return;
	if (p->dp_suspended)
		drop_kept(lc, p);
	p->dp_suspended = false;
	__atomic_store_n(&p->susp, VS_SUSP_NONE, __ATOMIC_RELEASE);
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

	/* Its rx chains taken earlier in this round go back to the queue they
	 * came from, before that queue is torn down or set up anew. */
	if (lc->rx.port == p)
		vs_rx_stash_return(lc);
	if (p->dp_active && (!running || gen != p->dp_gen)) {
		/* A suspension keeps everything, ring indices included. */
		if (vs_port_keeps(p))
			p->dp_suspended = true;
		else
			drop_kept(lc, p);
		__atomic_store_n(&p->dp_active, false, __ATOMIC_RELEASE);
		VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": rings withdrawn%s", p->cid,
			  p->dp_suspended ? ", connections kept" : "");
	}
	if (__atomic_load_n(&p->susp, __ATOMIC_RELAXED) != VS_SUSP_NONE)
		suspension_follow(lc, p);
	if (__atomic_load_n(&p->deleted, __ATOMIC_ACQUIRE)) {
		/* vs_port_del() waits for this: nothing of the guest is left here. */
		if (p->dp_suspended)
			drop_kept(lc, p);
		p->dp_suspended = false;
		/* Nothing is queued for it any more: packets still routed to it in
		 * this round are refused. */
		__atomic_store_n(&p->susp, VS_SUSP_NONE, __ATOMIC_RELEASE);
		__atomic_store_n(&p->dead, 1, __ATOMIC_RELEASE);
		return;
	}
	if (p->dp_active || !running || gen == p->dp_gen)
		return;
	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		/* Resumed: the rings moved in our address space, not in the guest's;
		 * the indices are where the switch left them. */
		uint16_t avail = p->dp_suspended ? p->vq[q].last_avail : r->last_avail[q];
		uint16_t used = p->dp_suspended ? p->vq[q].last_used : r->last_used[q];

		if (virtq_init(&p->vq[q], r->desc[q], r->avail[q], r->used[q], r->size[q],
			       avail, used, r->event_idx, q == VSOCK_VQ_RX, &r->mem) != 0)
			return;
	}
	p->dp_gen = gen;
	__atomic_store_n(&p->dp_active, true, __ATOMIC_RELEASE);
	/* A resume (also of a port suspended before its rings ever ran here). */
	if (p->dp_suspended || __atomic_load_n(&p->susp, __ATOMIC_ACQUIRE) == VS_SUSP_RESUMING) {
		p->dp_suspended = false;
		__atomic_store_n(&p->susp, VS_SUSP_NONE, __ATOMIC_RELEASE);
		/* The flush then interrupts the guest: its rings are served again. */
		vs_port_mark_dirty(lc, p);
		VS_LOG_RL(&p->log_rl, INFO, "guest %" PRIu64 ": resumed on lcore %u, %u packets "
			  "waiting", p->cid, lc->lcore_id, p->backlog.tail - p->backlog.head);
		return;
	}
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
	const struct vs_flow_table *t = vs_sw.lcores[vs_port_owner(p)]->flows;
	const struct vs_flow *f;
	uint32_t next = 0, n = 0;

	while ((f = vs_flow_next(t, &next)) != NULL)
		if (f->key.local_cid == p->cid)
			n++;
	return n;
}
