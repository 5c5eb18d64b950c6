/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * peer_gone: a guest that vanishes mid-transfer takes its connections with it,
 * and the other end hears of it promptly (RST in well under a second):
 *  - the receiving guest crashes (vhost-user socket closed);
 *  - the sending guest crashes;
 *  - the receiving guest's driver stops (SET_VRING_ENABLE 0, GET_VRING_BASE).
 * After each, a new frontend (or the restarted driver) on the same socket gets
 * the same CID and connections work again. Unrelated connections survive.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static const char *test_name = "peer_gone";

#define PROMPT_MS 1000.0
#define PRELOAD (8u << 20)

/* Run @f until at least @bytes arrived, leaving it mid-transfer. */
static void
run_until(struct harness_flow *f, struct emu_guest **gs, int ng, uint64_t bytes)
{
	struct timespec idle = { .tv_nsec = 50000 };
	double t0 = harness_now_ms();

	while (f->rcvd < bytes && f->error == 0 && harness_now_ms() - t0 < 10000) {
		int64_t n = harness_flow_step(f);

		for (int i = 0; i < ng; i++)
			emu_guest_poll(gs[i]);
		if (n == 0)
			nanosleep(&idle, NULL);
	}
	CHECK(f->rcvd >= bytes && f->error == 0, "%s: %llu bytes moved before the peer goes",
	      f->name, (unsigned long long)f->rcvd);
}

/* Poll @survivor alone (the other guest is gone) until @conn is reset. */
static void
expect_reset(struct emu_guest *survivor, int conn, const char *what)
{
	struct harness_conn a = { .g = survivor, .conn = conn };
	struct emu_guest *gs[1] = { survivor };
	double t0 = harness_now_ms();
	int ret = emu_poll_until(gs, 1, harness_conn_closed, &a, 3000);
	double ms = harness_now_ms() - t0;
	char b;

	CHECK(ret == 0 && ms < PROMPT_MS, "%s: connection closed after %.1f ms (limit %.0f ms)",
	      what, ms, PROMPT_MS);
	CHECK(emu_conn_error(survivor, conn) == -ECONNRESET, "%s: by an RST (error %d)", what,
	      emu_conn_error(survivor, conn));
	CHECK(emu_send(survivor, conn, &b, 1) == -ECONNRESET, "%s: send now fails", what);
	emu_close(survivor, conn);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5 };
	struct emu_guest *gs[3], *pair[2];
	struct harness_flow f, keep;
	struct harness_flow *fs[1] = { &keep };
	struct harness h;
	int c3, c4, k3, k5, ret;

	harness_start(&h, sw, cids, 3);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	gs[2] = harness_guest(&h, 5, NULL);
	/* a bystander connection 3 <-> 5 that must survive everything below */
	harness_pair(gs[0], gs[2], 8100, VSOCK_TYPE_STREAM, &k3, &k5);

	printf("the receiver crashes mid-transfer\n");
	harness_pair(gs[0], gs[1], 8000, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&f, "3->4", gs[0], c3, gs[1], c4, 1, 1ull << 40);
	run_until(&f, gs, 3, PRELOAD);
	emu_guest_crash(gs[1]);
	expect_reset(gs[0], c3, "receiver crash");
	harness_flow_fini(&f);
	emu_guest_destroy(gs[1]);

	printf("a new frontend takes CID 4\n");
	gs[1] = harness_guest(&h, 4, NULL); /* exits unless it gets CID 4 */

	printf("the sender crashes mid-transfer\n");
	harness_pair(gs[0], gs[1], 8001, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&f, "4->3", gs[1], c4, gs[0], c3, 2, 1ull << 40);
	run_until(&f, gs, 3, PRELOAD);
	emu_guest_crash(gs[1]);
	expect_reset(gs[0], c3, "sender crash");
	harness_flow_fini(&f);
	emu_guest_destroy(gs[1]);
	gs[1] = harness_guest(&h, 4, NULL);

	printf("the receiver's driver stops mid-transfer\n");
	harness_pair(gs[0], gs[1], 8002, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&f, "3->4", gs[0], c3, gs[1], c4, 3, 1ull << 40);
	run_until(&f, gs, 3, PRELOAD);
	CHECK(emu_guest_stop(gs[1]) == 0, "guest 4 stops its driver");
	expect_reset(gs[0], c3, "receiver driver stop");
	harness_flow_fini(&f);
	CHECK(emu_guest_start(gs[1]) == 0, "guest 4 starts its driver again");
	pair[0] = gs[0];
	pair[1] = gs[1];
	emu_poll_until(pair, 2, NULL, NULL, 50);
	harness_pair(gs[0], gs[1], 8003, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&f, "3->4 after restart", gs[0], c3, gs[1], c4, 4, 4 << 20);
	fs[0] = &f;
	ret = harness_flows_run(fs, 1, gs, 3, 10000);
	CHECK(ret == 0, "4 MiB after the restart (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&f);
	harness_flow_fini(&f);

	printf("the bystander connection\n");
	CHECK(emu_conn_state(gs[0], k3) == EMU_CONN_CONNECTED &&
	      emu_conn_state(gs[2], k5) == EMU_CONN_CONNECTED, "3 <-> 5 still established");
	harness_flow_init(&keep, "5->3 bystander", gs[2], k5, gs[0], k3, 5, 4 << 20);
	fs[0] = &keep;
	ret = harness_flows_run(fs, 1, gs, 3, 10000);
	CHECK(ret == 0, "4 MiB on it (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&keep);
	harness_flow_fini(&keep);

	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[2], "guest 5");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(gs[2]);
	harness_stop(&h);
	return harness_finish(test_name);
}
