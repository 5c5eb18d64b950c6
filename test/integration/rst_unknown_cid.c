/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * rst_unknown_cid: a connection to a peer that cannot answer is refused at
 * once (RST well under 100 ms, -ECONNREFUSED), never left to time out:
 *  - an unknown CID;
 *  - a configured guest whose driver has not started (rings not enabled);
 *  - the same guest after its driver started and stopped again;
 * and, as a control, a started guest without a listener (its own RST) and a
 * started guest with one (connection established).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const char *test_name = "rst_unknown_cid";

/* "At once": far below the 2 s connect timeout a dropped REQUEST would cost,
 * with room for a machine whose CPUs other programs share. */
#define FAST_MS 500.0

static int
not_connecting(void *p)
{
	struct harness_conn *a = p;

	return emu_conn_state(a->g, a->conn) != EMU_CONN_CONNECTING;
}

/* Connect from @g to @cid:@port and CHECK that it is refused within FAST_MS. */
static void
expect_refused(struct emu_guest **gs, int ng, uint64_t cid, uint32_t port, uint16_t type,
	       const char *what)
{
	struct harness_conn a = { .g = gs[0] };
	struct emu_stats before, after;
	double t0, ms;
	int ret;

	emu_guest_stats(gs[0], &before);
	t0 = harness_now_ms();
	a.conn = emu_connect(gs[0], cid, port, type);
	if (a.conn < 0) {
		CHECK(false, "%s: connect: %s", what, strerror(-a.conn));
		return;
	}
	ret = emu_poll_until(gs, ng, not_connecting, &a, 3000);
	ms = harness_now_ms() - t0;
	emu_guest_stats(gs[0], &after);
	CHECK(ret == 0 && ms < FAST_MS, "%s: answered in %.2f ms (limit %.0f ms)", what, ms,
	      FAST_MS);
	CHECK(emu_conn_state(gs[0], a.conn) == EMU_CONN_CLOSED &&
	      emu_conn_error(gs[0], a.conn) == -ECONNREFUSED,
	      "%s: refused (state %d, error %d)", what, emu_conn_state(gs[0], a.conn),
	      emu_conn_error(gs[0], a.conn));
	CHECK(after.rx_pkts[VSOCK_OP_RST] == before.rx_pkts[VSOCK_OP_RST] + 1,
	      "%s: exactly one RST received", what);
	emu_close(gs[0], a.conn);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5 };
	struct emu_guest_opts o;
	struct emu_guest *gs[3];
	struct emu_stats s4;
	struct harness_conn a;
	struct harness h;
	int c3, c4;

	harness_start(&h, sw, cids, 3);
	gs[0] = harness_guest(&h, 3, NULL);
	harness_guest_opts(&h, 4, &o);
	o.start_rings = false;
	gs[1] = harness_guest(&h, 4, &o);
	gs[2] = NULL; /* CID 5: configured, nobody attached */

	printf("unknown CIDs\n");
	expect_refused(gs, 2, 99, 1234, VSOCK_TYPE_STREAM, "CID 99 (not configured), STREAM");
	expect_refused(gs, 2, 99, 1234, VSOCK_TYPE_SEQPACKET, "CID 99 (not configured), SEQPACKET");
	expect_refused(gs, 2, 0xfffffffeULL, 1, VSOCK_TYPE_STREAM, "CID 4294967294");

	printf("known CIDs that cannot answer\n");
	expect_refused(gs, 2, 5, 1234, VSOCK_TYPE_STREAM, "CID 5 (configured, no frontend)");
	CHECK(emu_listen(gs[1], 1234, VSOCK_TYPE_STREAM) == 0,
	      "guest 4 listens before its driver starts");
	expect_refused(gs, 2, 4, 1234, VSOCK_TYPE_STREAM,
		       "CID 4 (frontend attached, driver not started)");

	printf("guest 4 starts\n");
	CHECK(emu_guest_start(gs[1]) == 0, "guest 4 driver starts");
	emu_poll_until(gs, 2, NULL, NULL, 50);
	expect_refused(gs, 2, 4, 4321, VSOCK_TYPE_STREAM, "CID 4 port 4321 (no listener)");
	emu_guest_stats(gs[1], &s4);
	CHECK(s4.rx_no_sock >= 1 && s4.rx_pkts[VSOCK_OP_REQUEST] >= 1,
	      "that RST came from guest 4 itself (it saw the REQUEST)");
	harness_pair(gs[0], gs[1], 1234, VSOCK_TYPE_STREAM, &c3, &c4); /* exits on failure */
	CHECK(emu_send(gs[0], c3, "x", 1) == 1, "data flows");

	printf("guest 4 stops its driver\n");
	CHECK(emu_guest_stop(gs[1]) == 0,
	      "guest 4 driver stops (SET_VRING_ENABLE 0, GET_VRING_BASE)");
	a.g = gs[0];
	a.conn = c3;
	harness_wait(gs, 2, harness_conn_closed, &a, 1000, "guest 3's open connection to guest 4 is reset");
	CHECK(emu_conn_error(gs[0], c3) == -ECONNRESET, "with ECONNRESET (%d)",
	      emu_conn_error(gs[0], c3));
	emu_close(gs[0], c3);
	expect_refused(gs, 2, 4, 1234, VSOCK_TYPE_STREAM, "CID 4 (driver stopped)");

	printf("guest 4 starts again\n");
	CHECK(emu_guest_start(gs[1]) == 0, "guest 4 driver starts again");
	emu_close(gs[1], c4);
	/* the switch learns of the start after acking the last message: give it a moment */
	emu_poll_until(gs, 2, NULL, NULL, 50);
	harness_pair(gs[0], gs[1], 1234, VSOCK_TYPE_STREAM, &c3, &c4);
	CHECK(emu_conn_state(gs[0], c3) == EMU_CONN_CONNECTED,
	      "CID 4 port 1234: connected again after the restart");

	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	harness_stop(&h);
	return harness_finish(test_name);
}
