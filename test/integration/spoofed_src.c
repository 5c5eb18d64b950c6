/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * spoofed_src: guest 3 puts packets on its tx ring that claim to come from
 * another CID (guest 5, the host, guest 4 itself). Guest 4 has a live
 * connection with guest 5 and a listener; none of the forged RW, RST,
 * SHUTDOWN, REQUEST or CREDIT_UPDATE packets may reach guest 4 (or guest 5),
 * the victim connection stays intact, and traffic afterwards is normal, for
 * the victims and for guest 3 alike.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const char *test_name = "spoofed_src";

static uint64_t
rx_total(struct emu_guest *g)
{
	struct emu_stats s;
	uint64_t n = 0;
	int i;

	emu_guest_stats(g, &s);
	for (i = 0; i < EMU_STATS_OPS; i++)
		n += s.rx_pkts[i];
	return n;
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5 };
	struct emu_guest *gs[3];
	struct emu_conn_info i5;
	struct harness_flow f;
	struct harness_flow *fs[1] = { &f };
	struct harness h;
	struct vsock_hdr fake;
	uint64_t rx4, rx5, rx3;
	int c5, c4, c3, c4b, ret, sent = 0, n;
	char buf[64];

	harness_start(&h, sw, cids, 3);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	gs[2] = harness_guest(&h, 5, NULL);
	harness_pair(gs[2], gs[1], 7000, VSOCK_TYPE_STREAM, &c5, &c4);
	emu_conn_info(gs[2], c5, &i5);
	emu_poll_until(gs, 3, NULL, NULL, 50);
	rx4 = rx_total(gs[1]);
	rx5 = rx_total(gs[2]);
	rx3 = rx_total(gs[0]);

	/* the victim connection as guest 5 would address guest 4 */
	fake = (struct vsock_hdr){
		.src_cid = 5, .dst_cid = 4, .src_port = i5.local_port, .dst_port = 7000,
		.type = VSOCK_TYPE_STREAM, .buf_alloc = 1u << 30, .fwd_cnt = 0,
	};
	printf("guest 3 forges packets\n");
	fake.op = VSOCK_OP_RW;
	fake.len = 4;
	sent += emu_send_raw(gs[0], &fake, "EVIL", 4) == 0;
	fake.len = 0;
	fake.op = VSOCK_OP_CREDIT_UPDATE;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	fake.op = VSOCK_OP_SHUTDOWN;
	fake.flags = VSOCK_SHUTDOWN_MASK;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	fake.flags = 0;
	fake.op = VSOCK_OP_RST;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	fake.op = VSOCK_OP_REQUEST;
	fake.src_port = 7777;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	/* as the host */
	fake.src_cid = VSOCK_CID_HOST;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	/* as the destination itself */
	fake.src_cid = 4;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	/* as guest 4, towards guest 5's end of the victim connection */
	fake = (struct vsock_hdr){
		.src_cid = 4, .dst_cid = 5, .src_port = 7000, .dst_port = i5.local_port,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
	};
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	/* as an unconfigured CID */
	fake.src_cid = 77;
	fake.op = VSOCK_OP_REQUEST;
	fake.dst_port = 7000;
	fake.dst_cid = 4;
	sent += emu_send_raw(gs[0], &fake, NULL, 0) == 0;
	CHECK(sent == 9, "9 forged packets queued on guest 3's tx ring");
	emu_poll_until(gs, 3, NULL, NULL, 300);

	CHECK(rx_total(gs[1]) == rx4, "guest 4 received nothing (%llu packets)",
	      (unsigned long long)(rx_total(gs[1]) - rx4));
	CHECK(rx_total(gs[2]) == rx5, "guest 5 received nothing (%llu packets)",
	      (unsigned long long)(rx_total(gs[2]) - rx5));
	CHECK(rx_total(gs[0]) == rx3, "guest 3 got no answer either: no reflection (%llu packets)",
	      (unsigned long long)(rx_total(gs[0]) - rx3));
	CHECK(emu_accept(gs[1], 7000) == -EAGAIN, "no forged connection to accept at guest 4");
	CHECK(emu_recv(gs[1], c4, buf, sizeof(buf), NULL) == -EAGAIN, "no forged data at guest 4");
	CHECK(emu_conn_state(gs[1], c4) == EMU_CONN_CONNECTED &&
	      emu_conn_state(gs[2], c5) == EMU_CONN_CONNECTED,
	      "the victim connection is still established at both ends");

	printf("normal traffic afterwards\n");
	n = (int)emu_send(gs[2], c5, "hello", 5);
	CHECK(n == 5, "guest 5 sends on the victim connection");
	harness_flow_init(&f, "5->4 after forgery", gs[2], c5, gs[1], c4, 9, 4 << 20);
	/* the 5 bytes above come first: read them before the flow */
	emu_poll_until(gs, 3, NULL, NULL, 20);
	CHECK(emu_recv(gs[1], c4, buf, sizeof(buf), NULL) == 5 && memcmp(buf, "hello", 5) == 0,
	      "guest 4 receives exactly what guest 5 sent");
	ret = harness_flows_run(fs, 1, gs, 3, 10000);
	CHECK(ret == 0, "4 MiB from guest 5 to guest 4 (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&f);
	harness_flow_fini(&f);
	harness_pair(gs[0], gs[1], 7001, VSOCK_TYPE_STREAM, &c3, &c4b);
	harness_flow_init(&f, "3->4 after forgery", gs[0], c3, gs[1], c4b, 10, 4 << 20);
	ret = harness_flows_run(fs, 1, gs, 3, 10000);
	CHECK(ret == 0, "the forger's own legitimate traffic still flows (%s)",
	      ret ? strerror(-ret) : "ok");
	harness_flow_check(&f);
	harness_flow_fini(&f);

	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	harness_check_clean(gs[2], "guest 5");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(gs[2]);
	harness_stop(&h);
	return harness_finish(test_name);
}
