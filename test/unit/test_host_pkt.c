/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Unit tests of the host port's glue in lib/switch (vs_host.c): packets filled
 * in place (vs_pkt_room() + vs_pkt_finish(), what the host endpoint reads host
 * sockets into) and the doorbell (one eventfd write per sleep of the endpoint).
 * Runs a minimal EAL (no hugepages, no PCI) and a switch with no guests.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vs_switch_pvt.h"
#include "unit.h"

#define SEG VS_MBUF_DATA

static uint8_t pattern[VSOCK_MAX_PKT_PAYLOAD];
static uint8_t back[VSOCK_MAX_PKT_PAYLOAD];

static unsigned int
chain_segs(const struct rte_mbuf *m, uint32_t *bytes)
{
	unsigned int n = 0;

	*bytes = 0;
	for (; m != NULL; m = m->next) {
		*bytes += m->data_len;
		n++;
	}
	return n;
}

/* Fill a room packet through its segments as a readv() would. */
static void
fill(struct rte_mbuf *m, uint32_t len)
{
	uint32_t off = 0, n;

	for (; m != NULL && off < len; m = m->next) {
		n = RTE_MIN((uint32_t)m->data_len, len - off);
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), pattern + off, n);
		off += n;
	}
}

static void
rw_hdr(struct vsock_hdr *h, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_CID_HOST;
	h->dst_cid = 3;
	h->src_port = 1234;
	h->dst_port = 5678;
	h->type = VSOCK_TYPE_STREAM;
	h->op = VSOCK_OP_RW;
	h->len = len;
	h->buf_alloc = 262144;
	h->fwd_cnt = 77;
}

/* A room of @room bytes finished with @len: segments, lengths, header, payload. */
static void
room_finish(uint32_t room, uint32_t len)
{
	unsigned int avail = rte_mempool_avail_count(vs_sw.pool);
	uint32_t bytes, keep = RTE_MIN(len, room);
	struct vsock_hdr h, got;
	/* unit_group() keeps the pointer until the next group: one name per group */
	static char names[16][64];
	static unsigned int nnames;
	char *name = names[nnames++ % RTE_DIM(names)];
	struct rte_mbuf *m;

	snprintf(name, sizeof(names[0]), "room %u, %u bytes read", room, len);
	unit_group(name);
	m = vs_pkt_room(room);
	UNIT_REQUIRE(m != NULL);
	UNIT_CHECK_EQ(m->pkt_len, room);
	UNIT_CHECK_EQ(m->nb_segs, room == 0 ? 1 : (room + SEG - 1) / SEG);
	UNIT_CHECK_EQ(chain_segs(m, &bytes), m->nb_segs);
	UNIT_CHECK_EQ(bytes, room);
	fill(m, keep);
	rw_hdr(&h, len);
	vs_pkt_finish(m, &h);
	UNIT_CHECK_EQ(m->pkt_len, keep);
	UNIT_CHECK_EQ(m->nb_segs, keep == 0 ? 1 : (keep + SEG - 1) / SEG);
	UNIT_CHECK_EQ(chain_segs(m, &bytes), m->nb_segs);
	UNIT_CHECK_EQ(bytes, keep);
	vs_pkt_hdr(m, &got);
	UNIT_CHECK_EQ(got.len, keep); /* never more than the packet holds */
	UNIT_CHECK_EQ(got.op, VSOCK_OP_RW);
	UNIT_CHECK_EQ(got.dst_cid, 3);
	UNIT_CHECK_EQ(got.src_port, 1234);
	UNIT_CHECK_EQ(got.fwd_cnt, 77);
	memset(back, 0, sizeof(back));
	UNIT_CHECK_EQ(vs_pkt_read(m, 0, back, sizeof(back)), keep);
	UNIT_CHECK_MEM(back, pattern, keep);
	rte_pktmbuf_free(m);
	/* The segments it did not keep went back too. */
	UNIT_CHECK_EQ(rte_mempool_avail_count(vs_sw.pool), avail);
}

static void
test_room(void)
{
	struct vsock_hdr h;
	struct rte_mbuf *m;
	unsigned int avail;

	room_finish(VSOCK_MAX_PKT_PAYLOAD, VSOCK_MAX_PKT_PAYLOAD);
	room_finish(VSOCK_MAX_PKT_PAYLOAD, 10000);
	room_finish(VSOCK_MAX_PKT_PAYLOAD, 2 * SEG);
	room_finish(VSOCK_MAX_PKT_PAYLOAD, 1);
	room_finish(VSOCK_MAX_PKT_PAYLOAD, 0);
	room_finish(5000, 5000);
	room_finish(5000, 9000); /* a header claiming more than the room */
	room_finish(0, 0);

	unit_group("room beyond one packet, control packet");
	UNIT_CHECK(vs_pkt_room(VSOCK_MAX_PKT_PAYLOAD + 1) == NULL);
	avail = rte_mempool_avail_count(vs_sw.pool);
	m = vs_pkt_room(3 * SEG);
	UNIT_REQUIRE(m != NULL);
	rw_hdr(&h, 100);
	h.op = VSOCK_OP_CREDIT_UPDATE; /* no payload whatever len says */
	vs_pkt_finish(m, &h);
	UNIT_CHECK_EQ(m->pkt_len, 0);
	UNIT_CHECK_EQ(m->nb_segs, 1);
	rte_pktmbuf_free(m);
	UNIT_CHECK_EQ(rte_mempool_avail_count(vs_sw.pool), avail);
}

static uint64_t
doorbell_writes(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

static void
test_doorbell(void)
{
	struct rte_mbuf *m[4], *out[8];
	struct vsock_hdr h;
	unsigned int i, n;
	int fd;

	unit_group("doorbell: one write per sleep");
	UNIT_REQUIRE(vs_host_attach() != NULL);
	fd = vs_host_doorbell_fd();
	UNIT_REQUIRE(fd >= 0);
	rw_hdr(&h, 0);
	h.op = VSOCK_OP_CREDIT_UPDATE;
	for (i = 0; i < RTE_DIM(m); i++) {
		m[i] = vs_pkt_alloc(&h, NULL);
		UNIT_REQUIRE(m[i] != NULL);
	}
	/* Awake: workers hand packets over without a write. */
	UNIT_CHECK_EQ(vs_port_enqueue(vs_sw.host, m[0]), 0);
	UNIT_CHECK_EQ(doorbell_writes(fd), 0);
	/* Packets wait: the endpoint must not sleep. */
	UNIT_CHECK(!vs_host_sleep_prepare());
	vs_host_sleep_done();
	n = rte_ring_dequeue_burst(vs_sw.host_in, (void **)out, RTE_DIM(out), NULL);
	UNIT_CHECK_EQ(n, 1);
	/* Asleep: the first packet rings, the next ones do not. */
	UNIT_CHECK(vs_host_sleep_prepare());
	for (i = 1; i < RTE_DIM(m); i++)
		UNIT_CHECK_EQ(vs_port_enqueue(vs_sw.host, m[i]), 0);
	UNIT_CHECK_EQ(doorbell_writes(fd), 1);
	vs_host_sleep_done();
	vs_host_doorbell_clear(); /* nothing to clear: must not block */
	n += rte_ring_dequeue_burst(vs_sw.host_in, (void **)out + 1, RTE_DIM(out) - 1, NULL);
	UNIT_CHECK_EQ(n, RTE_DIM(m));
	for (i = 0; i < n; i++)
		rte_pktmbuf_free(out[i]);
}

int
main(int argc, char **argv)
{
	char *eal_args[] = {
		argc > 0 ? argv[0] : (char *)"unit-host-pkt",
		(char *)"--no-huge", (char *)"-m", (char *)"128", (char *)"--no-pci",
		(char *)"--file-prefix", (char *)"unit_host_pkt",
		(char *)"--no-telemetry", (char *)"-l", (char *)"0",
		(char *)"--log-level=lib.*:error",
	};
	struct vs_switch_conf conf = {
		.max_flows_per_lcore = 64,
		.backlog_pkts = 64,
		.backlog_bytes = 1 << 20,
		.nb_mbufs = 1023,
		.ring_size = 64,
	};
	unsigned int i;

	unit_start("unit-host-pkt");
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + i / 251);
	UNIT_REQUIRE(rte_eal_init((int)RTE_DIM(eal_args), eal_args) >= 0);
	UNIT_REQUIRE(vs_switch_init(&conf) == 0);
	test_room();
	test_doorbell();
	vs_switch_fini();
	rte_eal_cleanup();
	return unit_done();
}
