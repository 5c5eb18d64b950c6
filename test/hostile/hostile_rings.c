/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * hostile_rings: a guest (CID 5, memory in two regions with a gap between them)
 * writes its tx ring by hand: descriptor loops, chains longer than the ring,
 * addresses outside every region or across a region's end, lengths that
 * overflow, indirect tables inside indirect tables, wrong directions; then an
 * avail index that jumps by more than the ring, and a head index outside the
 * ring. Meanwhile guests 3 and 4 move checked data over a connection.
 *
 * For every bad chain: the switch hands it back unused (length 0) and counts a
 * drop for guest 5, guest 4 receives nothing from guest 5, and the good pair
 * keeps its rate (within a generous factor: two shared cores). For the broken
 * indices: guest 5's queue stops, its connection to guest 4 is reset, nobody
 * else notices, and after a driver reload guest 5 works normally again. At the
 * end the switch exits 0 on SIGTERM.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static const char *test_name = "hostile_rings";

#define HOSTILE 5
#define RING 128
#define MB (1024 * 1024)

/* Scratch layout in guest 5's memory. */
#define OFF_HDR 0
#define OFF_DATA 64
#define OFF_T1 4096
#define OFF_T2 8192
#define OFF_BIG 16384 /* a 1024-entry indirect table: 16 KiB */

static struct harness h;
static struct emu_guest *gs[3]; /* 3, 4, 5 */
static struct pair good;
static struct hr r;
static uint64_t bytes_per_case;
static double min_ratio;

/* The repost step: whenever all chains came back, post them again. */
struct repost {
	uint16_t heads[8];
	int n;
	uint64_t rounds;
};

static void
repost_step(void *arg)
{
	struct repost *rp = arg;
	int i;

	hr_reap(&r);
	if (hr_outstanding(&r) != 0)
		return;
	for (i = 0; i < rp->n; i++)
		hr_post(&r, rp->heads[i]);
	rp->rounds++;
}

static uint64_t
requests_at(struct emu_guest *g)
{
	struct emu_stats s;

	emu_guest_stats(g, &s);
	return s.rx_pkts[VSOCK_OP_REQUEST] + s.rx_no_sock;
}

static int64_t
drops5(void)
{
	char cmd[32];
	int64_t a, b;

	snprintf(cmd, sizeof(cmd), "/vsock/guest,%d", HOSTILE);
	a = tel_u64(&h, cmd, "drop_bad_descriptor");
	b = tel_u64(&h, cmd, "drop_bad_header");
	return a < 0 || b < 0 ? -1 : a + b;
}

/* Run one set of bad chains (already written) against the good pair. */
static void
bad_chains(const char *what, const uint16_t *heads, int n)
{
	struct repost rp = { .n = n };
	uint64_t req4 = requests_at(gs[1]), ret0, nz0 = r.returned_nonzero;
	int64_t d0 = drops5(), d1;
	int i;

	printf("%s\n", what);
	for (i = 0; i < n; i++)
		rp.heads[i] = heads[i];
	ret0 = r.returned;
	pair_check_rate(&good, what, bytes_per_case, min_ratio, repost_step, &rp, NULL, 0);
	/* Let the last ones come back. */
	for (i = 0; i < 2000 && hr_outstanding(&r) != 0; i++) {
		poll_ms(gs, 2, 1);
		hr_reap(&r);
	}
	d1 = drops5();
	CHECK(hr_outstanding(&r) == 0 && r.returned - ret0 >= (uint64_t)n,
	      "%s: all %llu bad chains handed back (%u outstanding)", what,
	      (unsigned long long)(r.returned - ret0), hr_outstanding(&r));
	CHECK(r.returned_nonzero == nz0 && r.bad_ids == 0,
	      "%s: each with length 0 and its own head", what);
	CHECK(d0 >= 0 && d1 - d0 == (int64_t)(r.returned - ret0),
	      "%s: one drop counted per chain (%lld drops, %llu chains)", what,
	      (long long)(d1 - d0), (unsigned long long)(r.returned - ret0));
	CHECK(requests_at(gs[1]) == req4, "%s: guest 4 received nothing from guest 5", what);
	CHECK(harness_alive(&h), "%s: the switch is alive", what);
}

/* Give guest 5 back to its own driver: a driver reload. */
static void
reload_hostile(const char *what)
{
	int ret = emu_guest_stop(gs[2]);

	if (ret == 0)
		ret = emu_guest_start(gs[2]);
	CHECK(ret == 0, "%s: guest 5 reloads its driver (%s)", what, ret ? strerror(-ret) : "ok");
	poll_ms(gs, 3, 50);
}

/* Guest 5 is itself again: it connects to guest 4 and moves checked data. */
static void
hostile_recovers(const char *what, uint32_t port)
{
	struct pair p5;
	double mbps;

	pair_open(&p5, gs[2], gs[1], port);
	mbps = pair_run(&p5, what, 1 * MB, NULL, NULL, &gs[0], 1);
	CHECK(mbps > 0, "%s: guest 5 talks to guest 4 again", what);
	emu_close(gs[2], p5.ca);
	emu_close(gs[1], p5.cb);
	poll_ms(gs, 3, 20);
}

static void
chain_cases(void)
{
	uint64_t r0 = hr_region_gpa(&r, 0), r0s = hr_region_size(&r, 0);
	uint64_t r1 = hr_region_gpa(&r, 1), r1s = hr_region_size(&r, 1);
	struct vsock_hdr hdr = {
		.src_cid = HOSTILE, .dst_cid = 4, .src_port = 1234, .dst_port = 7777,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536,
	};
	uint64_t H = hr_gpa(&r, OFF_HDR);
	struct vring_desc *t1 = (struct vring_desc *)(r.scratch + OFF_T1);
	struct vring_desc *t2 = (struct vring_desc *)(r.scratch + OFF_T2);
	struct vring_desc *big = (struct vring_desc *)(r.scratch + OFF_BIG);
	uint16_t hs[8];
	int i;

	/* A REQUEST to guest 4 port 7777: if any of it got through, guest 4 would see it. */
	hr_hdr(&r, OFF_HDR, &hdr);

	hr_desc(&r, 0, H, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 1);
	hr_desc(&r, 1, hr_gpa(&r, OFF_DATA), 16, VRING_DESC_F_NEXT, 0);
	hr_desc(&r, 2, H, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 2);
	hs[0] = 0;
	hs[1] = 2;
	bad_chains("descriptor loops (0 -> 1 -> 0, 2 -> 2)", hs, 2);

	for (i = 0; i < RING; i++)
		hr_desc(&r, (uint16_t)i, H + (uint64_t)i, 1,
			i + 1 < RING ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	hs[0] = 0;
	bad_chains("a chain through all 128 descriptors, 128 pieces", hs, 1);

	for (i = 0; i < 1024; i++)
		big[i] = (struct vring_desc){ .addr = H + (uint64_t)(i % 44), .len = 1,
			.flags = i + 1 < 1024 ? VRING_DESC_F_NEXT : 0, .next = (uint16_t)(i + 1) };
	hr_desc(&r, 0, hr_gpa(&r, OFF_BIG), 1024 * sizeof(struct vring_desc),
		VRING_DESC_F_INDIRECT, 0);
	for (i = 0; i < 16; i++)
		t1[i] = (struct vring_desc){ .addr = H, .len = VSOCK_HDR_LEN,
			.flags = VRING_DESC_F_NEXT, .next = (uint16_t)((i + 1) % 16) };
	hr_desc(&r, 1, hr_gpa(&r, OFF_T1), 16 * sizeof(struct vring_desc),
		VRING_DESC_F_INDIRECT, 0);
	hs[0] = 0;
	hs[1] = 1;
	bad_chains("indirect chains longer than the ring: 1024 entries; a loop of 16", hs, 2);

	hr_desc(&r, 0, 0, VSOCK_HDR_LEN, 0, 0);
	hr_desc(&r, 1, 0x1000, VSOCK_HDR_LEN, 0, 0);
	hr_desc(&r, 2, r0 + r0s + 4096, VSOCK_HDR_LEN, 0, 0); /* in the gap */
	hr_desc(&r, 3, 0xffffffffffffff00ULL, VSOCK_HDR_LEN, 0, 0);
	hr_desc(&r, 4, H, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 5);
	hr_desc(&r, 5, r1 + r1s, 100, 0, 0); /* payload just past the end */
	for (i = 0; i < 5; i++)
		hs[i] = (uint16_t)i; /* 4 -> 5 */
	bad_chains("addresses outside every region", hs, 5);

	hr_desc(&r, 0, r0 + r0s - 20, VSOCK_HDR_LEN, 0, 0); /* region 0 into the gap */
	hr_desc(&r, 1, r1 + r1s - 8, VSOCK_HDR_LEN, 0, 0); /* region 1 past its end */
	hr_desc(&r, 2, r0 - 4, VSOCK_HDR_LEN, 0, 0); /* starts before region 0 */
	hr_desc(&r, 3, r0 + r0s - 16, (uint32_t)(r1 - (r0 + r0s) + 64), 0, 0); /* over the gap */
	for (i = 0; i < 4; i++)
		hs[i] = (uint16_t)i;
	bad_chains("ranges across a region's end, over the gap into the next", hs, 4);

	hr_desc(&r, 0, H, 0xffffffffU, 0, 0);
	hr_desc(&r, 1, H, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 2);
	hr_desc(&r, 2, H, 0xffffffffU, 0, 0);
	hr_desc(&r, 3, 0xfffffffffffffff0ULL, 0x20, 0, 0); /* wraps the address space */
	hdr.op = VSOCK_OP_RW;
	hdr.len = 0xffffffffU; /* says 4 GiB of payload, carries 16 bytes */
	hr_hdr(&r, OFF_DATA + 64, &hdr);
	hr_desc(&r, 4, hr_gpa(&r, OFF_DATA + 64), VSOCK_HDR_LEN + 16, 0, 0);
	for (i = 0; i < 5; i++)
		hs[i] = (uint16_t)i;
	bad_chains("lengths that overflow: 4 GiB descriptors, a wrapping range, RW len 4 GiB",
		   hs, 5);

	t2[0] = (struct vring_desc){ .addr = H, .len = VSOCK_HDR_LEN };
	t1[0] = (struct vring_desc){ .addr = hr_gpa(&r, OFF_T2), .len = 16,
				     .flags = VRING_DESC_F_INDIRECT };
	hr_desc(&r, 0, hr_gpa(&r, OFF_T1), 16, VRING_DESC_F_INDIRECT, 0);
	hr_desc(&r, 1, hr_gpa(&r, OFF_T2), 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	hr_desc(&r, 2, H, VSOCK_HDR_LEN, 0, 0);
	hr_desc(&r, 3, hr_gpa(&r, OFF_T2), 0, VRING_DESC_F_INDIRECT, 0);
	hr_desc(&r, 4, hr_gpa(&r, OFF_T2), 17, VRING_DESC_F_INDIRECT, 0);
	hr_desc(&r, 5, 0x2000, 32, VRING_DESC_F_INDIRECT, 0);
	hr_desc(&r, 6, r0 + r0s - 16, 32, VRING_DESC_F_INDIRECT, 0);
	for (i = 0; i < 6; i++) /* 2 is only the tail of 1 */
		hs[i] = (uint16_t)(i < 2 ? i : i + 1);
	bad_chains("indirect tables: nested, with NEXT, empty, odd size, outside, across the end",
		   hs, 6);

	hr_desc(&r, 0, H, VSOCK_HDR_LEN, VRING_DESC_F_WRITE, 0);
	hr_desc(&r, 1, H, VSOCK_HDR_LEN, VRING_DESC_F_NEXT, 500);
	hs[0] = 0;
	hs[1] = 1;
	bad_chains("a device-writable tx buffer; a next index outside the table", hs, 2);
}

struct reset_wait {
	struct emu_guest *g;
	int conn;
};

static int
conn_reset(void *arg)
{
	struct reset_wait *w = arg;

	return emu_conn_state(w->g, w->conn) == EMU_CONN_CLOSED;
}

/* Guest 5 with an open connection to guest 4 breaks its queue's indices. */
static void
broken_indices(const char *what, bool head_out_of_ring)
{
	struct reset_wait w;
	struct pair p5;
	int64_t d0, d1;
	char cmd[32];

	printf("%s\n", what);
	pair_open(&p5, gs[2], gs[1], head_out_of_ring ? 9101 : 9100);
	poll_ms(gs, 3, 20);
	hr_init(&r, gs[2], VSOCK_VQ_TX);
	snprintf(cmd, sizeof(cmd), "/vsock/guest,%d", HOSTILE);
	d0 = tel_u64(&h, cmd, "drop_bad_descriptor");
	if (head_out_of_ring)
		hr_post(&r, RING + 72);
	else
		hr_set_avail_idx(&r, (uint16_t)(r.used_seen + RING + 7));
	w.g = gs[1];
	w.conn = p5.cb;
	harness_wait(gs, 2, conn_reset, &w, 3000,
		     "guest 4's end of guest 5's connection is reset");
	d1 = tel_u64(&h, cmd, "drop_bad_descriptor");
	CHECK(d1 == d0 + 1, "%s: counted once as a bad descriptor (%lld)", what,
	      (long long)(d1 - d0));
	CHECK(tel_u64(&h, "/vsock/stats", "guests_running") == 3,
	      "%s: guest 5 is not stopped by it (a reload restarts it)", what);
	pair_check_rate(&good, what, bytes_per_case, min_ratio, NULL, NULL, NULL, 0);
	/* More garbage on a broken queue is ignored. */
	hr_set_avail_idx(&r, (uint16_t)(r.avail_idx + 3));
	poll_ms(gs, 2, 50);
	CHECK(tel_u64(&h, cmd, "drop_bad_descriptor") == d1,
	      "%s: a broken queue is not looked at again", what);
	emu_close(gs[1], p5.cb);
	reload_hostile(what);
	hostile_recovers(head_out_of_ring ? "after a head outside the ring" :
			 "after an avail index jump", head_out_of_ring ? 9103 : 9102);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, HOSTILE };
	struct emu_guest_opts o;
	int64_t m;

	bytes_per_case = harness_env_u64("VS_HOSTILE_BYTES", 16 * MB);
	min_ratio = harness_env_u64("VS_HOSTILE_MIN_PERCENT", 20) / 100.0;
	pair_harness = &h;
	harness_start(&h, sw, cids, 3);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	harness_guest_opts(&h, HOSTILE, &o);
	o.mem_regions = 2;
	o.queue_size = RING;
	gs[2] = harness_guest(&h, HOSTILE, &o);
	pair_open(&good, gs[0], gs[1], 7000);
	printf("the good pair alone\n");
	pair_check_rate(&good, "baseline", bytes_per_case, 0, NULL, NULL, NULL, 0);

	hr_init(&r, gs[2], VSOCK_VQ_TX);
	chain_cases();
	reload_hostile("after the bad chains");
	hostile_recovers("after the bad chains", 9000);

	broken_indices("avail index jumps by more than the ring", false);
	broken_indices("head index outside the ring", true);

	m = tel_u64(&h, "/vsock/stats", "mbufs_in_use");
	CHECK(m >= 0 && m < 1024, "mbufs in use at the end: %lld", (long long)m);
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(gs[2]);
	harness_stop(&h);
	return harness_finish(test_name);
}
