/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vs_top: usertools/vs-top.py --once while guest 3 streams to guest 4 as fast
 * as it can; guest 5 runs idle and guest 6 has no frontend. tel_check.py
 * (vstop) runs it in table and --json form: one row per guest, busiest first,
 * non-zero rates for 3 (tx) and 4 (rx) that agree, zero for 5 and 6, totals
 * that add up; and against a prefix with no switch, a clear error.
 */

#include <stdio.h>
#include <string.h>

#include "tel_common.h"

static const char *test_name = "vs_top";

/* What the guests think of the stream: for a stream that stopped moving. */
static void
show_stream(struct emu_guest *g3, int c3, struct emu_guest *g4, int c4)
{
	struct emu_conn_info i3, i4;
	struct emu_stats s3, s4;

	emu_conn_info(g3, c3, &i3);
	emu_conn_info(g4, c4, &i4);
	emu_guest_stats(g3, &s3);
	emu_guest_stats(g4, &s4);
	printf("  sender: tx_cnt %u, credit %u, peer buf_alloc %u fwd_cnt %u; %llu RW sent, "
	       "%llu credit updates received, %llu times the tx ring was full\n",
	       i3.tx_cnt, i3.credit, i3.peer_buf_alloc, i3.peer_fwd_cnt,
	       (unsigned long long)s3.tx_pkts[VSOCK_OP_RW],
	       (unsigned long long)s3.rx_pkts[VSOCK_OP_CREDIT_UPDATE],
	       (unsigned long long)s3.tx_ring_full);
	printf("  receiver: fwd_cnt %u, %u bytes not read; %llu RW received, %llu credit "
	       "updates sent, %llu control packets dropped\n",
	       i4.fwd_cnt, i4.rx_queued, (unsigned long long)s4.rx_pkts[VSOCK_OP_RW],
	       (unsigned long long)s4.tx_pkts[VSOCK_OP_CREDIT_UPDATE],
	       (unsigned long long)s4.ctrl_dropped);
}

int
main(int argc, char **argv)
{
	uint64_t cids[] = { 3, 4, 5, 6 };
	struct emu_guest *gs[3];
	struct harness_flow f;
	struct harness_flow *fs[1] = { &f };
	struct tel_env e;
	struct harness h;
	int c3, c4, ret;

	tel_env_init(&e, argc, argv);
	if (e.vstop == NULL) {
		printf("usage: %s <vsock-switch> <python3> <tel_check.py> <vs-top.py>\n", argv[0]);
		return 1;
	}
	tel_start(&h, e.sw, cids, 4, NULL);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	gs[2] = harness_guest(&h, 5, NULL);
	CHECK(tel_check(&e, "wait-running -f %s 3 4 5", h.prefix) == 0, "guests 3, 4, 5 run");
	tel_pair(gs, 3, gs[0], gs[1], 5000, VSOCK_TYPE_STREAM, &c3, &c4);
	/* more than will ever move: the stream runs until the checks are done */
	harness_flow_init(&f, "3->4", gs[0], c3, gs[1], c4, 1, 1ULL << 40);
	f.no_shutdown = true;
	ret = tel_check_polling(&e, gs, 3, fs, 1, "vstop -f %s --vstop '%s' --busy 3,4 --idle 5,6",
				h.prefix, e.vstop);
	CHECK(ret == 0, "vs-top.py shows who is busy (tel_check.py status %d)", ret);
	CHECK(f.error == 0 && f.rcvd > 0, "the stream ran meanwhile: %llu bytes, intact",
	      (unsigned long long)f.rcvd);
	show_stream(gs[0], c3, gs[1], c4);
	harness_flow_fini(&f);
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(gs[2]);
	tel_stop(&h);
	tel_cleanup(&h);
	return harness_finish(test_name);
}
