/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * g2g_stream: a large STREAM transfer guest 3 -> guest 4 through the switch,
 * every byte checked against the pseudo-random stream sent and a checksum
 * compared at the end; then both directions at once on a second connection.
 * VS_TEST_BYTES sets the one-way size (default 1 GiB); each direction of the
 * second part carries a quarter of it.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"

static const char *test_name = "g2g_stream";

/* Close both ends like applications do after EOF and check the RST handshake ends it. */
static void
close_pair(struct emu_guest **gs, struct emu_guest *a, int ca, struct emu_guest *b, int cb)
{
	struct harness_conn arg = { .g = a, .conn = ca };

	CHECK(emu_close(b, cb) == 0, "receiver closes after EOF");
	harness_wait(gs, 2, harness_conn_closed, &arg, 1000,
		     "sender's end closed by the peer's SHUTDOWN + RST handshake");
	CHECK(emu_conn_error(a, ca) == 0, "orderly close is not an error (%d)",
	      emu_conn_error(a, ca));
	CHECK(emu_close(a, ca) == 0, "sender closes");
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t bytes = harness_env_u64("VS_TEST_BYTES", 1ull << 30);
	uint64_t cids[] = { 3, 4 };
	struct harness_flow f, fa, fb;
	struct harness_flow *fs[2];
	struct emu_guest *gs[2];
	struct emu_stats s3, s4;
	struct harness h;
	int c3, c4, ret;
	double t0, ms;

	harness_start(&h, sw, cids, 2);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);

	printf("one way: %llu bytes, guest 3 -> guest 4\n", (unsigned long long)bytes);
	harness_pair(gs[0], gs[1], 5000, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&f, "3->4", gs[0], c3, gs[1], c4, 1, bytes);
	fs[0] = &f;
	t0 = harness_now_ms();
	ret = harness_flows_run(fs, 1, gs, 2, 10000);
	ms = harness_now_ms() - t0;
	CHECK(ret == 0, "transfer completes (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&f);
	printf("  3->4: %.1f MB/s (%.2f s)\n", bytes / ms / 1e3, ms / 1e3);
	close_pair(gs, gs[0], c3, gs[1], c4);
	harness_flow_fini(&f);

	printf("both ways at once: %llu bytes each way\n", (unsigned long long)(bytes / 4));
	harness_pair(gs[0], gs[1], 5001, VSOCK_TYPE_STREAM, &c3, &c4);
	harness_flow_init(&fa, "3->4 (bidir)", gs[0], c3, gs[1], c4, 2, bytes / 4);
	harness_flow_init(&fb, "4->3 (bidir)", gs[1], c4, gs[0], c3, 3, bytes / 4);
	fs[0] = &fa;
	fs[1] = &fb;
	t0 = harness_now_ms();
	ret = harness_flows_run(fs, 2, gs, 2, 10000);
	ms = harness_now_ms() - t0;
	CHECK(ret == 0, "bidirectional transfer completes (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&fa);
	harness_flow_check(&fb);
	printf("  both ways: %.1f MB/s total (%.2f s)\n", 2.0 * (bytes / 4) / ms / 1e3, ms / 1e3);
	/* both sides shut down writing: both ends see EOF, either may close first */
	CHECK(emu_close(gs[0], c3) == 0 && emu_close(gs[1], c4) == 0, "both ends close");
	emu_poll_until(gs, 2, NULL, NULL, 100);
	harness_flow_fini(&fa);
	harness_flow_fini(&fb);

	emu_guest_stats(gs[0], &s3);
	emu_guest_stats(gs[1], &s4);
	CHECK(s3.tx_bytes == bytes + bytes / 4 && s4.rx_bytes == bytes + bytes / 4,
	      "payload counters: guest 3 sent %llu, guest 4 received %llu",
	      (unsigned long long)s3.tx_bytes, (unsigned long long)s4.rx_bytes);
	CHECK(s4.rx_pkts[VSOCK_OP_RW] >= (bytes + bytes / 4) / EMU_DEFAULT_RX_BUF_SIZE,
	      "guest 4 got RW in rx-buffer-sized pieces (%llu packets)",
	      (unsigned long long)s4.rx_pkts[VSOCK_OP_RW]);
	printf("  guest 3: %llu credit updates received, %llu interrupts, %llu kicks\n",
	       (unsigned long long)s3.rx_pkts[VSOCK_OP_CREDIT_UPDATE],
	       (unsigned long long)s3.interrupts, (unsigned long long)s3.kicks);
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");

	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	harness_stop(&h);
	return harness_finish(test_name);
}
