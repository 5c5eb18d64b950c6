/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * layouts: the same small transfers between guests that lay out their rings
 * differently. Every guest sends to and receives from every other one, so each
 * tx layout (header + payload descriptors, one descriptor, indirect table,
 * payload scattered over 4 KiB descriptors) meets each rx layout (split,
 * single, indirect; 4 KiB, tiny and odd-sized buffers), with and without
 * EVENT_IDX, with one or two memory regions, small rings and small credit.
 * Per pair: a STREAM transfer both ways at once (VS_TEST_LAYOUT_BYTES, default
 * 1 MiB each way), then SEQPACKET messages both ways.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "harness.h"

static const char *test_name = "layouts";

struct guest_cfg {
	uint64_t cid;
	const char *desc;
	int tx_layout;
	int rx_layout;
	uint32_t rx_buf_size;
	uint32_t queue_size;
	uint32_t buf_alloc;
	uint32_t tx_pkt_size;
	int mem_regions;
	size_t mem_size;
	uint64_t features_clear;
};

static const struct guest_cfg cfgs[] = {
	{ 3, "tx split, rx split 4K (Linux 6.1)", EMU_TX_SPLIT, EMU_RX_SPLIT, 0, 0, 0, 0, 1, 0, 0 },
	{ 4, "tx single, rx single 4K", EMU_TX_SINGLE, EMU_RX_SINGLE, 0, 0, 0, 0, 1, 0, 0 },
	{ 5, "tx indirect, rx indirect 4K", EMU_TX_INDIRECT, EMU_RX_INDIRECT, 0, 0, 0, 0, 1, 0, 0 },
	{ 6, "tx scatter, rx split 256B, 2 regions", EMU_TX_SCATTER, EMU_RX_SPLIT, 256, 0, 0, 0,
	  2, 0, 0 },
	{ 7, "tx split 4K pkts, rx single 1K, no EVENT_IDX, queue 64", EMU_TX_SPLIT,
	  EMU_RX_SINGLE, 1024, 64, 0, 4096, 1, 0, 1ULL << VIRTIO_RING_F_EVENT_IDX },
	{ 8, "tx scatter, rx indirect 60B, queue 256, 2 regions, 64K credit", EMU_TX_SCATTER,
	  EMU_RX_INDIRECT, 60, 256, 64 << 10, 0, 2, 64 << 20, 0 },
	{ 9, "tx single, rx split 4K, no INDIRECT/EVENT_IDX, queue 32, 16K credit",
	  EMU_TX_SINGLE, EMU_RX_SPLIT, 0, 32, 16 << 10, 0, 1, 0,
	  (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX) },
};

#define NG ((int)(sizeof(cfgs) / sizeof(cfgs[0])))

static const uint32_t msg_sizes[] = { 1, 59, 60, 61, 255, 1000, 4096, 5000, 16384, 40000,
				      65536, 70000, 131072 };
#define NMSG ((int)(sizeof(msg_sizes) / sizeof(msg_sizes[0])))

static struct emu_guest *
make_guest(const struct harness *h, const struct guest_cfg *c)
{
	struct emu_guest_opts o;

	harness_guest_opts(h, c->cid, &o);
	o.tx_layout = c->tx_layout;
	o.rx_layout = c->rx_layout;
	if (c->rx_buf_size)
		o.rx_buf_size = c->rx_buf_size;
	if (c->queue_size)
		o.queue_size = c->queue_size;
	if (c->buf_alloc)
		o.buf_alloc = c->buf_alloc;
	if (c->tx_pkt_size)
		o.tx_pkt_size = c->tx_pkt_size;
	if (c->mem_size)
		o.mem_size = c->mem_size;
	o.mem_regions = c->mem_regions;
	o.features_clear = c->features_clear;
	return harness_guest(h, c->cid, &o);
}

static uint32_t
buf_alloc_of(const struct guest_cfg *c)
{
	return c->buf_alloc ? c->buf_alloc : EMU_DEFAULT_BUF_ALLOC;
}

/* Messages that fit the receiver's buffer (larger ones are EMSGSIZE by design). */
static int
sizes_for(const struct guest_cfg *rx, uint32_t *out)
{
	int i, n = 0;

	for (i = 0; i < NMSG; i++)
		if (msg_sizes[i] <= buf_alloc_of(rx))
			out[n++] = msg_sizes[i];
	return n;
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t bytes = harness_env_u64("VS_TEST_LAYOUT_BYTES", 1u << 20);
	uint64_t cids[NG];
	struct emu_guest *gs[NG], *pair[2];
	struct harness_flow fa, fb;
	struct harness_flow *fs[2] = { &fa, &fb };
	uint32_t sizes[NMSG];
	char name_a[64], name_b[64];
	struct harness h;
	int i, j, n, ca, cb, ret, port = 9000;

	for (i = 0; i < NG; i++)
		cids[i] = cfgs[i].cid;
	harness_start(&h, sw, cids, NG);
	for (i = 0; i < NG; i++) {
		gs[i] = make_guest(&h, &cfgs[i]);
		printf("guest %llu: %s\n", (unsigned long long)cfgs[i].cid, cfgs[i].desc);
	}
	for (i = 0; i < NG; i++) {
		for (j = i + 1; j < NG; j++) {
			pair[0] = gs[i];
			pair[1] = gs[j];
			printf("guest %llu <-> guest %llu\n", (unsigned long long)cfgs[i].cid,
			       (unsigned long long)cfgs[j].cid);
			harness_pair(gs[i], gs[j], port++, VSOCK_TYPE_STREAM, &ca, &cb);
			snprintf(name_a, sizeof(name_a), "%llu->%llu stream",
				 (unsigned long long)cfgs[i].cid, (unsigned long long)cfgs[j].cid);
			snprintf(name_b, sizeof(name_b), "%llu->%llu stream",
				 (unsigned long long)cfgs[j].cid, (unsigned long long)cfgs[i].cid);
			harness_flow_init(&fa, name_a, gs[i], ca, gs[j], cb, i * 100 + j, bytes);
			harness_flow_init(&fb, name_b, gs[j], cb, gs[i], ca, j * 100 + i, bytes);
			ret = harness_flows_run(fs, 2, pair, 2, 10000);
			CHECK(ret == 0, "stream both ways (%s)", ret ? strerror(-ret) : "ok");
			harness_flow_check(&fa);
			harness_flow_check(&fb);
			harness_flow_fini(&fa);
			harness_flow_fini(&fb);
			emu_close(gs[i], ca);
			emu_close(gs[j], cb);

			harness_pair(gs[i], gs[j], port++, VSOCK_TYPE_SEQPACKET, &ca, &cb);
			snprintf(name_a, sizeof(name_a), "%llu->%llu seqpacket",
				 (unsigned long long)cfgs[i].cid, (unsigned long long)cfgs[j].cid);
			n = sizes_for(&cfgs[j], sizes);
			harness_msgs(pair, 2, gs[i], ca, gs[j], cb, sizes, n, i * 1000 + j, name_a);
			snprintf(name_b, sizeof(name_b), "%llu->%llu seqpacket",
				 (unsigned long long)cfgs[j].cid, (unsigned long long)cfgs[i].cid);
			n = sizes_for(&cfgs[i], sizes);
			harness_msgs(pair, 2, gs[j], cb, gs[i], ca, sizes, n, j * 1000 + i, name_b);
			emu_close(gs[i], ca);
			emu_close(gs[j], cb);
		}
	}
	emu_poll_until(gs, NG, NULL, NULL, 100);
	for (i = 0; i < NG; i++) {
		char what[32];

		snprintf(what, sizeof(what), "guest %llu", (unsigned long long)cfgs[i].cid);
		harness_check_clean(gs[i], what);
		emu_guest_destroy(gs[i]);
	}
	harness_stop(&h);
	return harness_finish(test_name);
}
