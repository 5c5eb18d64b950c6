/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * fuzz_switch: the switch itself (lib/switch, lib/flow, lib/virtq, over a real
 * EAL) driven by three fake guests and the host port, every packet and every
 * ring entry chosen by the fuzzer.
 *
 * Guests 3 and 4 belong to worker lcore 1, guest 5 to lcore 2, so packets take
 * both the direct path (one copy from tx to rx buffers) and the handover path
 * (mbufs on another lcore's ring); CID 2 is the host port. No worker thread
 * runs: this thread plays each worker's round in turn (the switch's own
 * lcore_round(): vs_switch.c is included here for it), the guests' drivers and
 * the host driver, so a run is deterministic. A guest's memory is freed as soon
 * as vs_port_stop() returns, as librte_vhost may unmap it then: vs_port_stop()
 * only waits for one quiescent state of each worker, which may come from a round
 * that had already passed the port's refresh, so no round runs in between here. Guest memory is two heap blocks per guest, adjacent in guest
 * physical addresses (rx buffers straddle them), so AddressSanitizer catches
 * any byte touched outside a guest.
 *
 * The input is a program: guests send packets (header fields biased towards
 * CIDs and ports that exist, every op and type, payload in one descriptor, two,
 * or an indirect table), post rx buffers of every size down to 0, take what the
 * switch wrote, rewrite their rings, stop and restart; the host sends and
 * receives; workers run rounds. Checks beyond memory safety:
 *  - every packet a guest receives is addressed to it, from a CID that is not
 *    its own nor reserved, with a known op and type and a length that matches
 *    what was written, and no more than the buffer holds;
 *  - tx chains come back with length 0 and a head that was posted;
 *  - once every guest has stopped and the rings are drained, no connection end
 *    is left in any flow table and every mbuf is back in the pool.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mempool.h>

#include "fuzz_common.h"
/* The worker's round, lcore_round(), is static: take the whole file in. */
#include "vs_switch.c"

#define NG 3
#define QSIZE 16
#define REGION (128u * 1024)
#define GPA0 0x40000000ULL
#define SLOT 4096
/* Region 0 layout: rings, then tx slots; rx slots run on into region 1. */
#define OFF_DESC(q) ((q) * 0x400u)
#define OFF_AVAIL(q) (0x800u + (q) * 0x200u)
#define OFF_USED(q) (0xc00u + (q) * 0x400u)
#define OFF_TX 0x2000u
#define OFF_RX (REGION - 3 * SLOT + 2048) /* rx slot 2 straddles the regions */
#define MAX_OPS 512
/* A buffer owns two descriptors: head (even) and head + 1. */
#define NSLOT (QSIZE / 2)

struct fguest {
	uint64_t cid;
	unsigned int lcore;
	struct vs_port *port;
	uint8_t *mem[2];
	struct vs_port_rings rings;
	uint16_t avail_idx[2];
	uint16_t used_seen[2];
	uint32_t rx_cap[QSIZE]; /* bytes the rx buffer at this head holds */
	bool rx_posted[QSIZE];
	bool tx_posted[QSIZE];
	bool tainted; /* the guest rewrote its rings behind our back */
	bool running;
};

static struct fguest guests[NG];
static bool ready;
static char prefix[64];

static int
op_notify(void *drv, uint16_t qid)
{
	(void)drv;
	(void)qid;
	return 0;
}

static void
op_sync(void *drv, const uint16_t a[2], const uint16_t u[2])
{
	(void)drv;
	(void)a;
	(void)u;
}

static const struct vs_port_ops ops = { .notify = op_notify, .sync_bases = op_sync };

static uint8_t *
hva(struct fguest *g, uint64_t gpa, uint32_t len)
{
	uint64_t off = gpa - GPA0;

	if (gpa < GPA0 || off >= 2 * REGION || len > 2 * REGION - off)
		return NULL;
	if (off < REGION && off + len > REGION)
		return NULL; /* across the regions: callers split */
	return off < REGION ? g->mem[0] + off : g->mem[1] + (off - REGION);
}

/* Copy into guest memory at @gpa, across the two regions if need be. */
static void
gwrite(struct fguest *g, uint64_t gpa, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	while (len > 0) {
		uint64_t off = gpa - GPA0;
		uint32_t room = off < REGION ? (uint32_t)(REGION - off) : (uint32_t)(2 * REGION - off);
		uint32_t n = len < room ? len : room;
		uint8_t *d = hva(g, gpa, n);

		if (d == NULL)
			return;
		memcpy(d, s, n);
		s += n;
		gpa += n;
		len -= n;
	}
}

static void
gread(struct fguest *g, uint64_t gpa, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	while (len > 0) {
		uint64_t off = gpa - GPA0;
		uint32_t room = off < REGION ? (uint32_t)(REGION - off) : (uint32_t)(2 * REGION - off);
		uint32_t n = len < room ? len : room;
		const uint8_t *s = hva(g, gpa, n);

		if (s == NULL)
			return;
		memcpy(d, s, n);
		d += n;
		gpa += n;
		len -= n;
	}
}

static struct vring_desc *
desc(struct fguest *g, int q)
{
	return (struct vring_desc *)(g->mem[0] + OFF_DESC(q));
}

static struct vring_avail *
avail(struct fguest *g, int q)
{
	return (struct vring_avail *)(g->mem[0] + OFF_AVAIL(q));
}

static struct vring_used *
used(struct fguest *g, int q)
{
	return (struct vring_used *)(g->mem[0] + OFF_USED(q));
}

static void
guest_start(struct fguest *g, bool event_idx, bool seqpacket)
{
	struct vs_port_rings *r = &g->rings;
	int q;

	/* New memory for every start: the old one is gone, as librte_vhost unmaps it. */
	g->mem[0] = calloc(1, REGION);
	g->mem[1] = calloc(1, REGION);
	FZ_ASSERT(g->mem[0] != NULL && g->mem[1] != NULL, "no memory");
	memset(r, 0, sizeof(*r));
	r->mem.nregions = 2;
	r->mem.regions[0] = (struct virtq_region){ GPA0, REGION, (uintptr_t)g->mem[0] };
	r->mem.regions[1] = (struct virtq_region){ GPA0 + REGION, REGION, (uintptr_t)g->mem[1] };
	for (q = 0; q < 2; q++) {
		r->desc[q] = desc(g, q);
		r->avail[q] = avail(g, q);
		r->used[q] = used(g, q);
		r->size[q] = QSIZE;
		g->avail_idx[q] = 0;
		g->used_seen[q] = 0;
	}
	r->event_idx = event_idx;
	r->seqpacket = seqpacket;
	memset(g->rx_posted, 0, sizeof(g->rx_posted));
	memset(g->tx_posted, 0, sizeof(g->tx_posted));
	g->tainted = false;
	FZ_ASSERT(vs_port_start(g->port, r) == 0, "start refused");
	g->running = true;
}

static void
guest_stop(struct fguest *g)
{
	if (!g->running)
		return;
	vs_port_stop(g->port);
	g->running = false;
	/* vs_port_stop() returned: the frontend may unmap the guest's memory now. */
	free(g->mem[0]);
	free(g->mem[1]);
	g->mem[0] = g->mem[1] = NULL;
}

static void
publish(struct fguest *g, int q, uint16_t head)
{
	struct vring_avail *a = avail(g, q);

	a->ring[g->avail_idx[q] % QSIZE] = head;
	g->avail_idx[q]++;
	__atomic_store_n(&a->idx, g->avail_idx[q], __ATOMIC_RELEASE);
}

/* ---- input ---- */

static uint64_t
pick_cid(struct fz *f, uint64_t own)
{
	static const uint64_t cids[] = { 3, 4, 5, 2, 3, 4, 5, 0, 1, 77, 0xffffffffULL,
					 0x100000003ULL };
	uint8_t b = fz_u8(f);

	if (b == 0xff)
		return fz_u64(f);
	if (b >= 0xf0)
		return own;
	return cids[b % (sizeof(cids) / sizeof(cids[0]))];
}

static uint32_t
pick_port(struct fz *f)
{
	static const uint32_t ports[] = { 1, 2, 1024, 5000, 0xffffffff };
	uint8_t b = fz_u8(f);

	return b == 0xff ? fz_u32(f) : ports[b % 5];
}

static void
gen_hdr(struct fz *f, struct fguest *g, struct vsock_hdr *h, uint32_t *payload)
{
	uint8_t b = fz_u8(f);

	h->src_cid = (b & 0x80) ? pick_cid(f, g->cid) : g->cid;
	h->dst_cid = pick_cid(f, g->cid);
	h->src_port = pick_port(f);
	h->dst_port = pick_port(f);
	h->op = (b & 0x40) ? fz_u16(f) : (uint16_t)(1 + b % 7);
	h->type = (b & 0x20) ? fz_u16(f) : (uint16_t)(1 + ((b >> 3) & 1));
	h->flags = (b & 0x10) ? fz_u32(f) : (uint32_t)(fz_u8(f) & 3);
	h->buf_alloc = fz_u32(f);
	h->fwd_cnt = fz_u32(f);
	*payload = h->op == VSOCK_OP_RW ? fz_u16(f) % (SLOT - 128) : 0;
	h->len = (b & 0x04) ? fz_u32(f) : *payload;
}

/* A packet on guest @g's tx ring; the head is the slot. */
static void
op_tx(struct fz *f, struct fguest *g)
{
	uint16_t head = (uint16_t)(2 * (g->avail_idx[VSOCK_VQ_TX] % NSLOT));
	uint64_t slot = GPA0 + OFF_TX + (uint64_t)(head / 2) * SLOT;
	struct vring_desc *d = desc(g, VSOCK_VQ_TX);
	uint8_t wire[VSOCK_HDR_LEN], layout = fz_u8(f);
	uint8_t payload[SLOT];
	struct vsock_hdr h;
	uint32_t plen;

	if (g->tx_posted[head])
		return; /* the ring is full of our packets */
	gen_hdr(f, g, &h, &plen);
	vsock_hdr_encode(&h, wire);
	gwrite(g, slot, wire, sizeof(wire));
	fz_bytes(f, payload, plen < 16 ? plen : 16);
	memset(payload + (plen < 16 ? plen : 16), 0x5a, plen > 16 ? plen - 16 : 0);
	gwrite(g, slot + 64, payload, plen);
	switch (layout % 4) {
	case 0: /* header and payload back to back */
		gwrite(g, slot + VSOCK_HDR_LEN, payload, plen);
		d[head] = (struct vring_desc){ slot, VSOCK_HDR_LEN + plen, 0, 0 };
		break;
	case 1: /* header, then payload: two descriptors */
		d[head] = (struct vring_desc){ slot, VSOCK_HDR_LEN, plen ? VRING_DESC_F_NEXT : 0,
					       (uint16_t)(head + 1) };
		d[head + 1] = (struct vring_desc){ slot + 64, plen, 0, 0 };
		break;
	case 2: { /* an indirect table at the end of the slot */
		struct vring_desc t[2] = {
			{ slot, VSOCK_HDR_LEN, plen ? VRING_DESC_F_NEXT : 0, 1 },
			{ slot + 64, plen, 0, 0 },
		};

		gwrite(g, slot + SLOT - 64, t, sizeof(t));
		d[head] = (struct vring_desc){ slot + SLOT - 64, (plen ? 2 : 1) * 16,
					       VRING_DESC_F_INDIRECT, 0 };
		break;
	}
	default: /* anything */
		d[head].addr = (layout & 0x80) ? fz_u64(f) : slot + fz_u16(f) % SLOT;
		d[head].len = (layout & 0x40) ? fz_u32(f) : fz_u16(f) % (2 * SLOT);
		d[head].flags = fz_u16(f);
		d[head].next = fz_u16(f);
		break;
	}
	g->tx_posted[head] = true;
	publish(g, VSOCK_VQ_TX, head);
}

/* Rx buffers: sizes from none to a page, in one or two descriptors or indirect. */
static void
op_rx(struct fz *f, struct fguest *g)
{
	static const uint32_t sizes[] = { 0, 8, 43, 44, 45, 60, 100, 1000, 2048, 4096 };
	unsigned int n = 1 + fz_u8(f) % 8, i;
	struct vring_desc *d = desc(g, VSOCK_VQ_RX);

	for (i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(2 * (g->avail_idx[VSOCK_VQ_RX] % NSLOT));
		uint64_t slot = GPA0 + OFF_RX + (uint64_t)(head / 2) * SLOT;
		uint8_t b = fz_u8(f);
		uint32_t size = sizes[b % 10];

		if (g->rx_posted[head])
			return;
		switch ((b >> 4) % 3) {
		case 0:
			d[head] = (struct vring_desc){ slot, size, VRING_DESC_F_WRITE, 0 };
			break;
		case 1: { /* header piece + the rest, as Linux posts them */
			uint32_t first = size < VSOCK_HDR_LEN ? size : VSOCK_HDR_LEN;

			d[head] = (struct vring_desc){ slot, first,
				VRING_DESC_F_WRITE | (size > first ? VRING_DESC_F_NEXT : 0),
				(uint16_t)(head + 1) };
			d[head + 1] = (struct vring_desc){ slot + first, size - first,
							   VRING_DESC_F_WRITE, 0 };
			break;
		}
		default: { /* an indirect table in the slot's last 16 bytes */
			struct vring_desc t;

			if (size > SLOT - 16)
				size = SLOT - 16;
			t = (struct vring_desc){ slot, size, VRING_DESC_F_WRITE, 0 };
			gwrite(g, slot + SLOT - 16, &t, sizeof(t));
			d[head] = (struct vring_desc){ slot + SLOT - 16, 16, VRING_DESC_F_INDIRECT, 0 };
			break;
		}
		}
		g->rx_cap[head] = size;
		g->rx_posted[head] = true;
		publish(g, VSOCK_VQ_RX, head);
	}
}

/* The guest reads what the switch wrote. */
static void
op_rx_take(struct fguest *g)
{
	struct vring_used *u = used(g, VSOCK_VQ_RX);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);

	while (g->used_seen[VSOCK_VQ_RX] != idx) {
		struct vring_used_elem e = u->ring[g->used_seen[VSOCK_VQ_RX] % QSIZE];
		uint8_t wire[VSOCK_HDR_LEN];
		struct vsock_hdr h;

		g->used_seen[VSOCK_VQ_RX]++;
		if (g->tainted)
			continue;
		FZ_ASSERT(e.id < QSIZE && g->rx_posted[e.id], "guest %llu: used rx head %u not posted",
			  (unsigned long long)g->cid, e.id);
		g->rx_posted[e.id] = false;
		FZ_ASSERT(e.len <= g->rx_cap[e.id], "guest %llu: %u bytes written into %u",
			  (unsigned long long)g->cid, e.len, g->rx_cap[e.id]);
		if (e.len == 0)
			continue;
		FZ_ASSERT(e.len >= VSOCK_HDR_LEN, "guest %llu: %u bytes, less than a header",
			  (unsigned long long)g->cid, e.len);
		gread(g, GPA0 + OFF_RX + (uint64_t)(e.id / 2) * SLOT, wire, sizeof(wire));
		vsock_hdr_decode(wire, &h);
		FZ_ASSERT(h.dst_cid == g->cid, "guest %llu got a packet for %llu",
			  (unsigned long long)g->cid, (unsigned long long)h.dst_cid);
		FZ_ASSERT(h.src_cid != g->cid && (vsock_cid_is_guest(h.src_cid) ||
						  h.src_cid == VSOCK_CID_HOST),
			  "guest %llu got a packet from %llu", (unsigned long long)g->cid,
			  (unsigned long long)h.src_cid);
		FZ_ASSERT(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_MAX, "op %u", h.op);
		FZ_ASSERT(h.type == VSOCK_TYPE_STREAM || h.type == VSOCK_TYPE_SEQPACKET,
			  "type %u", h.type);
		FZ_ASSERT(h.len == e.len - VSOCK_HDR_LEN, "header len %u, written %u", h.len,
			  e.len - VSOCK_HDR_LEN);
		FZ_ASSERT(h.op == VSOCK_OP_RW || h.len == 0, "%s with %u bytes",
			  vsock_op_name(h.op), h.len);
	}
}

static void
op_tx_take(struct fguest *g)
{
	struct vring_used *u = used(g, VSOCK_VQ_TX);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);

	while (g->used_seen[VSOCK_VQ_TX] != idx) {
		struct vring_used_elem e = u->ring[g->used_seen[VSOCK_VQ_TX] % QSIZE];

		g->used_seen[VSOCK_VQ_TX]++;
		if (g->tainted)
			continue;
		FZ_ASSERT(e.id < QSIZE && g->tx_posted[e.id], "used tx head %u not posted", e.id);
		FZ_ASSERT(e.len == 0, "tx chain came back with length %u", e.len);
		g->tx_posted[e.id] = false;
	}
}

static void
op_corrupt(struct fz *f, struct fguest *g)
{
	int q = fz_u8(f) & 1;
	uint8_t b = fz_u8(f);

	g->tainted = true;
	switch (b % 4) {
	case 0:
		desc(g, q)[fz_u8(f) % QSIZE] = (struct vring_desc){ fz_u64(f), fz_u32(f),
			fz_u16(f), fz_u16(f) };
		break;
	case 1:
		g->avail_idx[q] = (uint16_t)(g->avail_idx[q] + fz_u8(f));
		__atomic_store_n(&avail(g, q)->idx, g->avail_idx[q], __ATOMIC_RELEASE);
		break;
	case 2:
		avail(g, q)->ring[fz_u8(f) % QSIZE] = fz_u16(f);
		break;
	default:
		avail(g, q)->flags = fz_u16(f);
		break;
	}
}

/* ---- the switch side ---- */

/* One worker round of lcore @lcore_id: the switch's own lcore_round(). */
static unsigned int
round_lcore(unsigned int lcore_id)
{
	return lcore_round(vs_sw.lcores[lcore_id]);
}

static unsigned int
host_drain(void)
{
	struct rte_mbuf *m[32];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(vs_sw.host_in, (void **)m, 32, NULL);
	for (i = 0; i < n; i++) {
		struct vsock_hdr h;

		vs_pkt_hdr(m[i], &h);
		FZ_ASSERT(h.dst_cid == VSOCK_CID_HOST, "host got a packet for %llu",
			  (unsigned long long)h.dst_cid);
		rte_pktmbuf_free(m[i]);
	}
	return n;
}

static void
op_host_send(struct fz *f)
{
	struct rte_mbuf *m;
	struct vsock_hdr h;
	uint32_t plen;
	static uint8_t payload[SLOT];

	gen_hdr(f, &guests[0], &h, &plen);
	/* The host endpoint is our own code: its headers are well formed. */
	h.src_cid = VSOCK_CID_HOST;
	h.op = (uint16_t)(1 + h.op % VSOCK_OP_MAX);
	h.type = (uint16_t)(1 + h.type % 2);
	plen = h.op == VSOCK_OP_RW ? plen : 0;
	h.len = plen;
	m = vs_pkt_alloc(&h, payload);
	if (m == NULL)
		return;
	if (vs_host_send(&m, 1) == 0)
		rte_pktmbuf_free(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cleanup(void)
{
	char cmd[128];

	if (!ready)
		return;
	vs_switch_fini();
	rte_eal_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s", prefix);
	if (system(cmd) != 0)
		return;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *eal[] = {
		(*argv)[0], (char *)"--no-huge", (char *)"-m", (char *)"512", (char *)"--no-pci",
		(char *)"--no-telemetry", (char *)"--lcores", (char *)"(0-2)@0",
		(char *)"--file-prefix", prefix, (char *)"--log-level=lib.*:error",
	};
	struct vs_switch_conf conf = {
		.max_flows_per_lcore = 64,
		.backlog_pkts = 16,
		.backlog_bytes = 65536,
		.nb_mbufs = 4096,
		.ring_size = 64,
	};
	int i;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "fuzz_switch_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "fuzz_switch: EAL init failed\n");
		exit(1);
	}
	rte_log_set_global_level(RTE_LOG_CRIT);
	FZ_ASSERT(vs_switch_init(&conf) == 0, "switch init");
	FZ_ASSERT(vs_host_attach() != NULL, "host attach");
	for (i = 0; i < NG; i++) {
		struct fguest *g = &guests[i];

		g->cid = 3 + (uint64_t)i;
		g->lcore = i < 2 ? 1 : 2;
		g->port = vs_port_add(g->cid, g->lcore, &ops, g);
		FZ_ASSERT(g->port != NULL, "guest %d", i);
		vs_port_set_connected(g->port, true);
	}
	ready = true;
	atexit(cleanup);
	return 0;
}

/* Stop everything and wait until nothing moves: then nothing may be left. */
static void
teardown(void)
{
	unsigned int i, k, work;

	for (i = 0; i < NG; i++)
		guest_stop(&guests[i]);
	for (k = 0; k < 64; k++) {
		work = round_lcore(1) + round_lcore(2) + host_drain();
		if (work == 0 && rte_ring_count(vs_sw.lcores[1]->in) == 0 &&
		    rte_ring_count(vs_sw.lcores[2]->in) == 0 && rte_ring_count(vs_sw.host_in) == 0)
			break;
	}
	FZ_ASSERT(k < 64, "the switch never settles");
	FZ_ASSERT(vs_flow_count(vs_sw.lcores[1]->flows) == 0 &&
		  vs_flow_count(vs_sw.lcores[2]->flows) == 0,
		  "connection ends left after every guest stopped: %u on lcore 1, %u on lcore 2",
		  vs_flow_count(vs_sw.lcores[1]->flows), vs_flow_count(vs_sw.lcores[2]->flows));
	FZ_ASSERT(rte_mempool_in_use_count(vs_sw.pool) == 0, "%u mbufs leaked",
		  rte_mempool_in_use_count(vs_sw.pool));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	unsigned int n = 0, i;
	uint8_t cfg;

	fz_init(&f, data, size);
	cfg = fz_u8(&f);
	for (i = 0; i < NG; i++)
		guest_start(&guests[i], cfg & 1, cfg & (2 << i));
	while (fz_more(&f) && n++ < MAX_OPS) {
		uint8_t op = fz_u8(&f);
		struct fguest *g = &guests[(op >> 4) % NG];

		switch (op % 12) {
		case 0:
		case 1:
		case 2:
			if (g->running)
				op_tx(&f, g);
			break;
		case 3:
			if (g->running)
				op_rx(&f, g);
			break;
		case 4:
			if (g->running) {
				op_rx_take(g);
				op_tx_take(g);
			}
			break;
		case 5:
		case 6:
			round_lcore(1);
			break;
		case 7:
			round_lcore(2);
			break;
		case 8:
			op_host_send(&f);
			break;
		case 9:
			host_drain();
			break;
		case 10:
			if (g->running)
				guest_stop(g);
			else
				guest_start(g, fz_u8(&f) & 1, true);
			break;
		default:
			if (g->running && (op & 0x80))
				op_corrupt(&f, g);
			else
				round_lcore(1 + (op & 1));
			break;
		}
	}
	/* The switch finishes what is queued; the guests take it. */
	for (i = 0; i < 8; i++) {
		round_lcore(1);
		round_lcore(2);
		host_drain();
	}
	for (i = 0; i < NG; i++) {
		if (guests[i].running) {
			op_rx_take(&guests[i]);
			op_tx_take(&guests[i]);
		}
	}
	teardown();
	return 0;
}
