/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* The host port (CID 2): a port without rings whose packets go to and come from a
 * host endpoint driver on its own thread, through rte_rings. */

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "vs_switch_pvt.h"

struct rte_ring *
vs_host_attach(void)
{
	struct vs_port *p;

	if (vs_sw.host != NULL)
		return vs_sw.host_in;
	if (vs_sw.nports >= VS_MAX_GUESTS) {
		errno = ENOSPC;
		return NULL;
	}
	p = rte_zmalloc("vs_host_port", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	vs_sw.host_in = rte_ring_create("vs_host_in", vs_sw.conf.ring_size, SOCKET_ID_ANY,
					RING_F_SC_DEQ);
	if (vs_sw.host_in == NULL) {
		rte_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->cid = VSOCK_CID_HOST;
	p->index = (uint16_t)vs_sw.nports;
	p->uid = ++vs_sw.next_uid;
	p->numa_node = -1;
	p->lcore = RTE_MAX_LCORE;
	p->state = VS_PORT_RUNNING;
	p->dp_active = true;
	vs_sw.ports[vs_sw.nports++] = p;
	if (rte_hash_add_key_data(vs_sw.cids, &p->cid, p) < 0) {
		vs_sw.nports--;
		rte_ring_free(vs_sw.host_in);
		vs_sw.host_in = NULL;
		rte_free(p);
		errno = ENOSPC;
		return NULL;
	}
	/* Published last: workers route to CID 2 from now on. */
	__atomic_store_n(&vs_sw.host, p, __ATOMIC_RELEASE);
	return vs_sw.host_in;
}

struct rte_mbuf *
vs_pkt_alloc(const struct vsock_hdr *h, const void *payload)
{
	struct virtq_iov iov = {
		.base = (uint8_t *)(uintptr_t)payload,
		.len = h->op == VSOCK_OP_RW ? h->len : 0,
	};

	if (h->op == VSOCK_OP_RW && h->len > VSOCK_MAX_PKT_PAYLOAD)
		return NULL;
	return vs_mbuf_from_iov(h, &iov, iov.len > 0 ? 1 : 0, 0);
}

struct rte_mbuf *
vs_pkt_room(uint32_t room)
{
	unsigned int nseg = room == 0 ? 1 : (room + VS_MBUF_DATA - 1) / VS_MBUF_DATA, i;
	struct rte_mbuf *segs[VSOCK_MAX_PKT_PAYLOAD / VS_MBUF_DATA + 1];

	if (room > VSOCK_MAX_PKT_PAYLOAD || rte_pktmbuf_alloc_bulk(vs_sw.pool, segs, nseg) != 0)
		return NULL;
	for (i = 0; i < nseg; i++) {
		segs[i]->data_len = (uint16_t)RTE_MIN(room - i * VS_MBUF_DATA,
						      (uint32_t)VS_MBUF_DATA);
		if (i > 0)
			segs[i - 1]->next = segs[i];
	}
	segs[0]->nb_segs = (uint16_t)nseg;
	segs[0]->pkt_len = room;
	return segs[0];
}

void
vs_pkt_finish(struct rte_mbuf *m, const struct vsock_hdr *h)
{
	struct vs_mbuf_priv *pv = vs_mbuf_priv(m);
	uint32_t len = h->op == VSOCK_OP_RW ? RTE_MIN(h->len, m->pkt_len) : 0, left = len;
	struct rte_mbuf *s = m, *rest;
	struct vsock_hdr hh = *h;
	uint16_t nseg = 1;

	/* Keep the segments that hold @len bytes (at least the first one). */
	for (;;) {
		s->data_len = (uint16_t)RTE_MIN(left, (uint32_t)s->data_len);
		left -= s->data_len;
		if (left == 0 || s->next == NULL)
			break;
		s = s->next;
		nseg++;
	}
	rest = s->next;
	s->next = NULL;
	if (rest != NULL) {
		rest->nb_segs = (uint16_t)(m->nb_segs - nseg);
		rest->pkt_len = m->pkt_len - len;
		rte_pktmbuf_free(rest);
	}
	m->nb_segs = nseg;
	m->pkt_len = len;
	hh.len = len;
	vsock_hdr_encode(&hh, pv->hdr);
	pv->off = 0;
	pv->generated = 0;
}

void
vs_pkt_hdr(const struct rte_mbuf *m, struct vsock_hdr *h)
{
	vsock_hdr_decode(vs_mbuf_priv((struct rte_mbuf *)(uintptr_t)m)->hdr, h);
}

uint32_t
vs_pkt_read(const struct rte_mbuf *m, uint32_t off, void *buf, uint32_t len)
{
	struct virtq_iov iov[VSOCK_MAX_PKT_PAYLOAD / VS_MBUF_DATA + 1];
	unsigned int niov = vs_mbuf_iov((struct rte_mbuf *)(uintptr_t)m, iov, RTE_DIM(iov));

	return virtq_iov_read(iov, niov, off, buf, len);
}

int
vs_guest_reachable(uint64_t cid)
{
	struct vs_port *p = vsock_cid_is_guest(cid) ? vs_port_by_cid(cid) : NULL;

	if (p == NULL)
		return -ENODEV;
	return vs_port_reachable(p) ? 0 : -EHOSTUNREACH;
}

unsigned int
vs_host_send(struct rte_mbuf **m, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vs_mbuf_priv *pv = vs_mbuf_priv(m[i]);
		struct vsock_hdr h;
		struct vs_port *d;

		vsock_hdr_decode(pv->hdr, &h);
		d = vsock_cid_is_guest(h.dst_cid) ? vs_port_by_cid(h.dst_cid) : NULL;
		if (d == NULL || !vs_port_reachable(d)) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (h.op == VSOCK_OP_RW && vs_backlog_over_soft(d))
			break;
		vs_mbuf_address(m[i], d, vs_sw.host);
		pv->generated = 0;
		/* Captured before the enqueue: after it the receiver may free the mbuf.
		 * A packet refused by a full ring and sent again is captured twice. */
		if (__builtin_expect(vs_capture_on, 0)) {
			struct virtq_iov iov[VSOCK_MAX_PKT_PAYLOAD / VS_MBUF_DATA + 1];
			unsigned int niov = vs_mbuf_iov(m[i], iov, RTE_DIM(iov));

			vs_capture_record(pv->hdr, iov, niov, 0, m[i]->pkt_len);
		}
		if (rte_ring_mp_enqueue(vs_port_ring(d), m[i]) != 0)
			break;
	}
	return i;
}

int
vs_host_doorbell_fd(void)
{
	if (vs_sw.host_doorbell < 0) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (fd < 0)
			return -errno;
		vs_sw.host_doorbell = fd;
	}
	return vs_sw.host_doorbell;
}

void
vs_host_ring_doorbell(void)
{
	if (vs_sw.host_doorbell >= 0)
		eventfd_write(vs_sw.host_doorbell, 1);
}

bool
vs_host_sleep_prepare(void)
{
	__atomic_store_n(&vs_sw.host_sleeping, 1, __ATOMIC_RELAXED);
	/* Pairs with the fence in vs_port_enqueue(): either the worker sees us
	 * sleeping, or we see its packet. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vs_sw.host_in == NULL || rte_ring_count(vs_sw.host_in) == 0;
}

void
vs_host_sleep_done(void)
{
	__atomic_store_n(&vs_sw.host_sleeping, 0, __ATOMIC_RELAXED);
}

void
vs_host_doorbell_clear(void)
{
	eventfd_t v;

	if (vs_sw.host_doorbell >= 0)
		eventfd_read(vs_sw.host_doorbell, &v);
}

void
vs_host_stats_get(struct vs_port_stats *s)
{
	if (vs_sw.host != NULL)
		vs_port_stats_get(vs_sw.host, s);
	else
		memset(s, 0, sizeof(*s));
}
