/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * tel_cost: a fixed workload for measuring what counters and capture cost per
 * packet (doc/telemetry.rst, "Cost on the data path"). Not a test: run the
 * switch under callgrind through a wrapper script given as the switch path.
 *
 *   tel_cost <switch or wrapper> <python3> <tel_check.py>
 *
 * Guest 3 sends $TEL_COST_PKTS (default 20000) STREAM packets of
 * $TEL_COST_SIZE (default 64) bytes to guest 4, which reads them; with
 * $TEL_COST_PCAP set, the switch captures everything to that file.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tel_common.h"

int
main(int argc, char **argv)
{
	uint64_t cids[] = { 3, 4 };
	uint64_t npkts = harness_env_u64("TEL_COST_PKTS", 20000);
	uint64_t size = harness_env_u64("TEL_COST_SIZE", 64);
	const char *pcap = getenv("TEL_COST_PCAP");
	const char *extra[3] = { NULL, NULL, NULL };
	static uint8_t buf[65536], rbuf[65536];
	struct emu_guest *gs[2];
	struct emu_stats s3, s4;
	struct tel_env e;
	struct harness h;
	uint64_t sent = 0, got = 0;
	double t0;
	int c3, c4;

	tel_env_init(&e, argc, argv);
	if (size == 0 || size > sizeof(buf))
		size = 64;
	if (pcap != NULL && *pcap != '\0') {
		extra[0] = "--pcap";
		extra[1] = pcap;
	}
	tel_start(&h, e.sw, cids, 2, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	CHECK(tel_check(&e, "wait-running --timeout 60 -f %s 3 4", h.prefix) == 0,
	      "guests 3 and 4 run");
	tel_pair(gs, 2, gs[0], gs[1], 5000, VSOCK_TYPE_STREAM, &c3, &c4);
	t0 = harness_now_ms();
	while (got < npkts * size && harness_now_ms() - t0 < 600000) {
		ssize_t n;

		if (sent < npkts && emu_send(gs[0], c3, buf, size) == (ssize_t)size)
			sent++;
		emu_guest_poll(gs[0]);
		emu_guest_poll(gs[1]);
		while ((n = emu_recv(gs[1], c4, rbuf, sizeof(rbuf), NULL)) > 0)
			got += (uint64_t)n;
	}
	tel_settle(gs, 2, 200);
	emu_guest_stats(gs[0], &s3);
	emu_guest_stats(gs[1], &s4);
	printf("guest 3 sent %llu packets (%llu RW, %llu bytes), received %llu\n",
	       (unsigned long long)tel_sum_ops(s3.tx_pkts),
	       (unsigned long long)s3.tx_pkts[VSOCK_OP_RW], (unsigned long long)s3.tx_bytes,
	       (unsigned long long)tel_sum_ops(s3.rx_pkts));
	printf("guest 4 sent %llu packets, received %llu (%llu RW, %llu bytes)\n",
	       (unsigned long long)tel_sum_ops(s4.tx_pkts),
	       (unsigned long long)tel_sum_ops(s4.rx_pkts),
	       (unsigned long long)s4.rx_pkts[VSOCK_OP_RW], (unsigned long long)s4.rx_bytes);
	CHECK(got == npkts * size, "%llu bytes arrived", (unsigned long long)got);
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	tel_stop(&h);
	tel_cleanup(&h);
	return harness_finish("tel_cost");
}
