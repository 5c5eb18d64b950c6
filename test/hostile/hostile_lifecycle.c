/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * hostile_lifecycle: a guest that keeps going away while data is on its way to
 * it from another worker lcore.
 *
 * The switch runs two workers on two CPUs: guests 3 and 4 on lcore 1, guest 5
 * on lcore 2. Guest 5 streams into guest 4, so lcore 2 keeps handing packets for
 * guest 4 to lcore 1 through its ring. Then guest 4 dies abruptly (its frontend
 * closes the vhost-user socket: librte_vhost unmaps its memory as soon as
 * destroy_device returns), or reloads its driver (new rings, new memory), again
 * and again. Packets still in lcore 1's ring for the old guest 4 must be dropped,
 * never written into memory that is gone. Meanwhile guest 3 sends checked data
 * to guest 5 across the lcores, the switch stays up, and exits 0 on SIGTERM.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static const char *test_name = "hostile_lifecycle";

#define MB (1024 * 1024)

static struct harness h;
static struct emu_guest *g3, *g4, *g5;
static uint8_t buf[256 * 1024];

/*
 * Guest 5 pours RW into its connection to guest 4 for @ms, regardless of credit,
 * so that lcore 2 always has packets for guest 4 on their way to lcore 1; guest 4
 * reads now and then. Returns packets sent.
 */
static uint64_t
pour(int c5, int c4, int ms)
{
	double end = harness_now_ms() + ms;
	struct emu_conn_info i5;
	struct vsock_hdr rw;
	uint64_t sent = 0;

	emu_conn_info(g5, c5, &i5);
	rw = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 4, .src_port = i5.local_port,
		.dst_port = i5.peer_port, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RW,
		.len = 4096, .buf_alloc = i5.buf_alloc };
	while (harness_now_ms() < end) {
		while (emu_send_raw(g5, &rw, buf, rw.len) == 0)
			sent++;
		emu_recv(g4, c4, buf, sizeof(buf), NULL);
		emu_guest_poll(g3);
		emu_guest_poll(g4);
		emu_guest_poll(g5);
	}
	return sent;
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	const uint64_t cids[] = { 3, 4, 5 };
	const char *const pins[] = { "lcore=1", "lcore=1", "lcore=2" };
	int rounds = (int)harness_env_u64("VS_HOSTILE_ROUNDS", 12), i, c5, c4;
	struct emu_guest *gs[2];
	struct pair good;
	uint64_t sent;

	pair_harness = &h;
	hostile_start(&h, sw, cids, 3, "(0-2)@(0-1)", pins, NULL);
	g3 = harness_guest(&h, 3, NULL);
	g5 = harness_guest(&h, 5, NULL);
	gs[0] = g3;
	gs[1] = g5;
	pair_open(&good, g3, g5, 7000);
	pair_check_rate(&good, "baseline, guest 3 -> guest 5 across lcores", 8 * MB, 0, NULL,
			NULL, NULL, 0);
	for (i = 0; i < rounds; i++) {
		bool crash = i % 2 == 0;

		g4 = harness_guest(&h, 4, NULL);
		harness_pair(g5, g4, (uint32_t)(8000 + i), VSOCK_TYPE_STREAM, &c5, &c4);
		sent = pour(c5, c4, 30);
		/* Go away with packets for us in lcore 1's ring: guest 5 keeps pouring. */
		while (emu_send_raw(g5, &(struct vsock_hdr){ .src_cid = 5, .dst_cid = 4,
			.src_port = 1, .dst_port = 1, .type = VSOCK_TYPE_STREAM,
			.op = VSOCK_OP_REQUEST }, NULL, 0) == 0)
			;
		if (crash) {
			emu_guest_crash(g4);
		} else {
			emu_guest_stop(g4);
			emu_guest_start(g4);
		}
		emu_poll_until(gs, 2, NULL, NULL, 20);
		if (!harness_alive(&h)) {
			CHECK(false, "round %d (%s after %llu packets): the switch died", i,
			      crash ? "crash" : "driver reload", (unsigned long long)sent);
			break;
		}
		emu_guest_destroy(g4);
		g4 = NULL;
		emu_poll_until(gs, 2, NULL, NULL, 30);
	}
	CHECK(i == rounds && harness_alive(&h),
	      "%d times guest 4 went away with data on its way from another lcore", i);
	if (harness_alive(&h)) {
		pair_check_rate(&good, "guest 3 -> guest 5 afterwards", 8 * MB, 0, NULL, NULL, NULL, 0);
		harness_check_clean(g3, "guest 3");
		harness_check_clean(g5, "guest 5");
	}
	emu_guest_destroy(g3);
	emu_guest_destroy(g5);
	harness_stop(&h);
	return harness_finish(test_name);
}
