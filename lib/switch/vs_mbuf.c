/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Packets that must outlive a poll (backlog, handover to another lcore) are
 * copied once into a chain of pool mbufs; the header travels in the private area. */

#include "vs_switch_pvt.h"

struct rte_mbuf *
vs_mbuf_from_iov(const struct vsock_hdr *h, const struct virtq_iov *iov, unsigned int niov,
		 uint32_t soff)
{
	uint32_t len = h->op == VSOCK_OP_RW ? h->len : 0;
	unsigned int nseg = len == 0 ? 1 : (len + VS_MBUF_DATA - 1) / VS_MBUF_DATA;
	struct rte_mbuf *segs[VSOCK_MAX_PKT_PAYLOAD / VS_MBUF_DATA + 1];
	struct vs_mbuf_priv *pv;
	uint32_t done = 0;
	unsigned int i;

	if (nseg > RTE_DIM(segs) || rte_pktmbuf_alloc_bulk(vs_sw.pool, segs, nseg) != 0)
		return NULL;
	for (i = 0; i < nseg; i++) {
		uint32_t chunk = RTE_MIN(len - done, (uint32_t)VS_MBUF_DATA);
		uint8_t *d = rte_pktmbuf_mtod(segs[i], uint8_t *);

		if (chunk > 0)
			virtq_iov_read(iov, niov, soff + done, d, chunk);
		segs[i]->data_len = (uint16_t)chunk;
		done += chunk;
		if (i > 0)
			segs[i - 1]->next = segs[i];
	}
	segs[0]->nb_segs = (uint16_t)nseg;
	segs[0]->pkt_len = len;
	pv = vs_mbuf_priv(segs[0]);
	vsock_hdr_encode(h, pv->hdr);
	pv->off = 0;
	pv->generated = 0;
	return segs[0];
}

unsigned int
vs_mbuf_iov(struct rte_mbuf *m, struct virtq_iov *iov, unsigned int max)
{
	unsigned int n = 0;

	for (; m != NULL && n < max; m = m->next) {
		iov[n].base = rte_pktmbuf_mtod(m, uint8_t *);
		iov[n].len = m->data_len;
		n++;
	}
	return n;
}
