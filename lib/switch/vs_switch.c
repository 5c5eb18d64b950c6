/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Switch set-up and the worker lcore loop. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "vs_switch_pvt.h"

RTE_LOG_REGISTER(vs_logtype, vsock.switch, INFO);

struct vs_switch vs_sw;

static int
lcore_init(unsigned int lcore_id)
{
	int socket = (int)rte_lcore_to_socket_id(lcore_id);
	struct vs_lcore *lc;
	char name[RTE_RING_NAMESIZE];

	lc = rte_zmalloc_socket("vs_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE, socket);
	if (lc == NULL)
		return -ENOMEM;
	lc->lcore_id = lcore_id;
	snprintf(name, sizeof(name), "vs_in_%u", lcore_id);
	lc->in = rte_ring_create(name, vs_sw.conf.ring_size, socket, RING_F_SC_DEQ);
	if (lc->in == NULL)
		goto fail;
	snprintf(name, sizeof(name), "vs_flows_%u", lcore_id);
	lc->flows = vs_flow_table_create(name, vs_sw.conf.max_flows_per_lcore, socket,
					 vs_sw.qsv);
	if (lc->flows == NULL)
		goto fail;
	vs_sw.lcores[lcore_id] = lc;
	vs_sw.workers[vs_sw.nworkers++] = lcore_id;
	return 0;
fail:
	rte_ring_free(lc->in);
	rte_free(lc);
	return -rte_errno ? -rte_errno : -ENOMEM;
}

int
vs_switch_init(const struct vs_switch_conf *conf)
{
	struct rte_hash_parameters hp = {
		.name = "vs_cids",
		.entries = VS_MAX_GUESTS * 2,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	unsigned int lcore_id;
	size_t sz;
	int ret;

	memset(&vs_sw, 0, sizeof(vs_sw));
	vs_sw.host_doorbell = -1;
	pthread_mutex_init(&vs_sw.ctl_lock, NULL);
	vs_sw.conf = *conf;
	vs_sw.conf.ring_size = rte_align32pow2(conf->ring_size);
	if (vs_sw.conf.max_conns == 0)
		vs_sw.conf.max_conns = VS_DEFAULT_MAX_CONNS;
	if (vs_sw.conf.handshake_timeout_ms == 0)
		vs_sw.conf.handshake_timeout_ms = VS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	if (vs_sw.conf.linger_timeout_ms == 0)
		vs_sw.conf.linger_timeout_ms = VS_DEFAULT_LINGER_TIMEOUT_MS;

	sz = rte_rcu_qsbr_get_memsize(VS_QSBR_THREADS);
	vs_sw.qsv = rte_zmalloc("vs_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (vs_sw.qsv == NULL || rte_rcu_qsbr_init(vs_sw.qsv, VS_QSBR_THREADS) != 0)
		return -ENOMEM;

	vs_sw.pool = rte_pktmbuf_pool_create("vs_mbufs", conf->nb_mbufs, 256,
					     sizeof(struct vs_mbuf_priv),
					     RTE_PKTMBUF_HEADROOM + VS_MBUF_DATA,
					     (int)rte_socket_id());
	if (vs_sw.pool == NULL) {
		VS_LOG(ERR, "cannot create a pool of %u mbufs (about %u MiB): %s; give the EAL "
		       "more memory (-m) or ask for fewer (--mbufs)", conf->nb_mbufs,
		       (unsigned int)(((uint64_t)conf->nb_mbufs *
				       (RTE_PKTMBUF_HEADROOM + VS_MBUF_DATA + 256)) >> 20),
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	vs_sw.cids = rte_hash_create(&hp);
	if (vs_sw.cids == NULL)
		return -ENOMEM;

	/* Workers: every lcore but the main one, or the main one alone. */
	RTE_LCORE_FOREACH_WORKER(lcore_id) {
		ret = lcore_init(lcore_id);
		if (ret < 0)
			return ret;
	}
	if (vs_sw.nworkers == 0) {
		ret = lcore_init(rte_get_main_lcore());
		if (ret < 0)
			return ret;
	}
	return vs_telemetry_init();
}

void
vs_switch_fini(void)
{
	unsigned int i;

	vs_telemetry_fini();
	vs_switch_capture_stop();
	for (i = 0; i < vs_sw.nports; i++) {
		if (vs_sw.ports[i] == NULL)
			continue; /* deleted */
		vs_backlog_clear(vs_sw.ports[i]);
		rte_free(vs_sw.ports[i]->backlog.q);
		rte_free(vs_sw.ports[i]);
	}
	for (i = 0; i < vs_sw.nworkers; i++) {
		struct vs_lcore *lc = vs_sw.lcores[vs_sw.workers[i]];
		struct rte_mbuf *m;

		while (rte_ring_dequeue(lc->in, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(lc->in);
		vs_flow_table_free(lc->flows);
		rte_free(lc);
	}
	if (vs_sw.host_in != NULL) {
		struct rte_mbuf *m;

		while (rte_ring_dequeue(vs_sw.host_in, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(vs_sw.host_in);
	}
	if (vs_sw.host_doorbell >= 0)
		close(vs_sw.host_doorbell);
	rte_hash_free(vs_sw.cids);
	rte_mempool_free(vs_sw.pool);
	rte_free(vs_sw.qsv);
	pthread_mutex_destroy(&vs_sw.ctl_lock);
	memset(&vs_sw, 0, sizeof(vs_sw));
	vs_sw.host_doorbell = -1;
}

int
vs_switch_capture_stop(void)
{
	if (!vs_capture_info(NULL, 0, NULL, NULL))
		return -ENOENT;
	__atomic_store_n(&vs_capture_on, false, __ATOMIC_RELEASE);
	if (vs_sw.qsv != NULL)
		rte_rcu_qsbr_synchronize(vs_sw.qsv, RTE_QSBR_THRID_INVALID);
	return vs_capture_stop();
}

void
vs_switch_stop(void)
{
	__atomic_store_n(&vs_sw.stop, true, __ATOMIC_RELEASE);
}

bool
vs_switch_stopping(void)
{
	return __atomic_load_n(&vs_sw.stop, __ATOMIC_ACQUIRE);
}

/* Publish used entries of every queue touched this round; one interrupt per
 * queue at most, and only if the guest asked for it. */
void
vs_lcore_flush(struct vs_lcore *lc)
{
	uint32_t i, n = lc->ndirty;

	/* Rx chains taken and not used go back before anything is published. */
	vs_rx_stash_return(lc);
	/* A queue whose interrupt could not be sent is marked again, into the
	 * slots already walked. */
	lc->ndirty = 0;
	for (i = 0; i < n; i++) {
		struct vs_port *p = lc->dirty[i];
		uint16_t avail[VSOCK_NUM_VQ], used[VSOCK_NUM_VQ];
		bool published = false;
		unsigned int q;

		p->dirty = false;
		if (!p->dp_active)
			continue;
		for (q = 0; q < VSOCK_NUM_VQ; q++) {
			published |= virtq_flush(&p->vq[q]);
			avail[q] = p->vq[q].last_avail;
			used[q] = p->vq[q].last_used;
		}
		if (published && p->ops != NULL && p->ops->sync_bases != NULL)
			p->ops->sync_bases(p->drv, avail, used);
		for (q = 0; q < VSOCK_NUM_VQ; q++) {
			if (!virtq_need_notify(&p->vq[q]))
				continue;
			if (p->ops != NULL && p->ops->notify != NULL &&
			    p->ops->notify(p->drv, (uint16_t)q) != 0) {
				p->vq[q].signalled_valid = false;
				vs_port_mark_dirty(lc, p);
				continue;
			}
			p->stats.notify++;
		}
	}
}

/*
 * Idle guests off the round: a port whose polls found nothing to do (no tx
 * chain, no backlog) VS_IDLE_POLLS times in a row is polled every
 * VS_SLOW_EVERY-th round only (the idle ones spread over the rounds by their
 * place in the array). Its first packet after a pause then waits up to
 * VS_SLOW_EVERY - 1 rounds more, and a stop, delete or resume of it is seen as
 * much later; packets for it still go straight into its rx ring, and one that
 * has to wait in its backlog makes it busy again (backlog_push()).
 */
#define VS_IDLE_POLLS 64
#define VS_SLOW_EVERY 16

/* One round over everything this lcore owns. Returns work done. */
static unsigned int
lcore_round(struct vs_lcore *lc)
{
	uint32_t i, nports = __atomic_load_n(&lc->nports, __ATOMIC_ACQUIRE);
	unsigned int work = vs_handover_drain(lc), w;
	uint32_t turn = (uint32_t)lc->rounds;

	for (i = 0; i < nports; i++) {
		/* The control plane may move a port into this slot (vs_port_del()). */
		struct vs_port *p = __atomic_load_n(&lc->ports[i], __ATOMIC_ACQUIRE);

		if (p->idle_polls >= VS_IDLE_POLLS && ((turn + i) & (VS_SLOW_EVERY - 1)) != 0)
			continue;
		vs_port_refresh(lc, p);
		w = 0;
		if (p->dp_active)
			w = vs_backlog_drain(lc, p) + vs_tx_poll(lc, p);
		if (w > 0 || p->backlog.head != p->backlog.tail)
			p->idle_polls = 0;
		else if (p->idle_polls < VS_IDLE_POLLS)
			p->idle_polls++;
		work += w;
	}
	vs_flow_sweep(lc);
	vs_lcore_flush(lc);
	return work;
}

int
vs_worker_main(void *arg __rte_unused)
{
	unsigned int lcore_id = rte_lcore_id();
	struct vs_lcore *lc = vs_sw.lcores[lcore_id];

	if (lc == NULL)
		return 0;
	rte_rcu_qsbr_thread_register(vs_sw.qsv, lcore_id);
	rte_rcu_qsbr_thread_online(vs_sw.qsv, lcore_id);
	__atomic_store_n(&lc->polling, 1, __ATOMIC_RELEASE);
	VS_LOG(INFO, "worker on lcore %u polling", lcore_id);
	while (!vs_switch_stopping()) {
		lc->rounds++;
		if (lcore_round(lc) > 0)
			lc->busy_rounds++;
		else
			rte_pause();
		rte_rcu_qsbr_quiescent(vs_sw.qsv, lcore_id);
	}
	__atomic_store_n(&lc->polling, 0, __ATOMIC_RELEASE);
	rte_rcu_qsbr_thread_offline(vs_sw.qsv, lcore_id);
	rte_rcu_qsbr_thread_unregister(vs_sw.qsv, lcore_id);
	return 0;
}
