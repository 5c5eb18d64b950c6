/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * telemetry: emulated guests run traffic whose every packet is known, then
 * tel_check.py queries every /vsock/ command with Debian's dpdk-telemetry.py
 * and compares the JSON with what the guests sent and received.
 *
 * Guests: 3 and 4 running, 5 configured with no frontend, 6 attached with its
 * driver not started. Traffic, in this order:
 *  - a STREAM connection 3 -> 4:5000; 3 sends TEL_N messages of TEL_M bytes,
 *    4 sends TEL_K messages of TEL_KM bytes back;
 *  - a SEQPACKET connection 4 -> 3:6000; 4 sends TEL_S messages of TEL_SM bytes;
 *  - 3 connects to CID 99 (unknown): the switch answers with one RST;
 *  - 3 puts one REQUEST with a forged source (CID 5) on its tx ring: dropped.
 * The switch runs with non-default --max-flows, --backlog-pkts,
 * --backlog-bytes and --mbufs, which /vsock/config must show.
 *
 * Phase 2: both connections are closed and guest 4's driver stops; flows and
 * connection counts go to zero and guest 4 is "frontend_connected".
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tel_common.h"

static const char *test_name = "telemetry";

#define TEL_N 50
#define TEL_M 1000
#define TEL_K 5
#define TEL_KM 300
#define TEL_S 3
#define TEL_SM 2000
#define TEL_STREAM_PORT 5000
#define TEL_SEQ_PORT 6000
#define TEL_UNKNOWN_CID 99

/* Send @n messages of @len bytes on @conn from @src, reading them at @dst. */
static void
send_msgs(struct emu_guest **gs, int ng, struct emu_guest *src, int sconn,
	  struct emu_guest *dst, int dconn, int n, size_t len, bool seqpacket, const char *what)
{
	static uint8_t buf[TEL_SM > TEL_M ? TEL_SM : TEL_M], rbuf[65536];
	size_t want = (size_t)n * len, got = 0;
	double t0 = harness_now_ms();
	int sent = 0, msgs = 0, i;

	memset(buf, 0xa5, sizeof(buf));
	while ((sent < n || got < want) && harness_now_ms() - t0 < 5000) {
		if (sent < n) {
			ssize_t r = seqpacket ? emu_send_msg(src, sconn, buf, len, false) :
						emu_send(src, sconn, buf, len);

			if (r == (ssize_t)len) {
				sent++;
			} else if (r != -EAGAIN) {
				CHECK(false, "%s: send returned %zd", what, r);
				return;
			}
		}
		for (i = 0; i < ng; i++)
			emu_guest_poll(gs[i]);
		for (;;) {
			ssize_t r = emu_recv(dst, dconn, rbuf, sizeof(rbuf), NULL);

			if (r <= 0)
				break;
			got += (size_t)r;
			msgs++;
		}
	}
	CHECK(sent == n && got == want, "%s: %d of %d messages of %zu bytes sent, %zu of %zu bytes "
	      "received", what, sent, n, len, got, want);
	if (seqpacket)
		CHECK(msgs == n, "%s: %d whole messages received", what, msgs);
}

struct conn_arg {
	struct emu_guest *g;
	int conn;
};

static int
conn_closed(void *p)
{
	const struct conn_arg *a = p;

	return emu_conn_state(a->g, a->conn) == EMU_CONN_CLOSED;
}

static void
write_stats(FILE *f, const char *name, const struct emu_stats *s, bool last)
{
	int i;

	fprintf(f, "  \"%s\": {\"tx_ops\": [", name);
	for (i = 0; i < EMU_STATS_OPS; i++)
		fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->tx_pkts[i]);
	fprintf(f, "], \"rx_ops\": [");
	for (i = 0; i < EMU_STATS_OPS; i++)
		fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->rx_pkts[i]);
	fprintf(f, "], \"tx_bytes\": %llu, \"rx_bytes\": %llu}%s\n",
		(unsigned long long)s->tx_bytes, (unsigned long long)s->rx_bytes, last ? "" : ",");
}

int
main(int argc, char **argv)
{
	static const char *const extra[] = {
		"--max-flows", "4096", "--backlog-pkts", "512", "--backlog-bytes", "524288",
		"--mbufs", "8191", NULL,
	};
	uint64_t cids[] = { 3, 4, 5, 6 };
	struct emu_guest *gs[3], *g6;
	struct emu_conn_info i3, is4;
	struct emu_stats s3, s4, s6;
	struct emu_guest_opts o;
	struct vsock_hdr fake;
	struct tel_env e;
	struct harness h;
	char facts[400];
	int c3, c4, s3c, s4c, r, ret;
	FILE *f;

	tel_env_init(&e, argc, argv);
	tel_start(&h, e.sw, cids, 4, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	harness_guest_opts(&h, 6, &o);
	o.start_rings = false;
	g6 = harness_guest(&h, 6, &o);
	gs[2] = g6;

	ret = tel_check(&e, "wait-running -f %s 3 4", h.prefix);
	if (ret == TEL_SKIP) {
		tel_stop(&h);
		tel_cleanup(&h);
		return TEL_SKIP;
	}
	CHECK(ret == 0, "the switch runs guests 3 and 4 (telemetry says so)");

	printf("traffic\n");
	tel_pair(gs, 2, gs[0], gs[1], TEL_STREAM_PORT, VSOCK_TYPE_STREAM, &c3, &c4);
	send_msgs(gs, 2, gs[0], c3, gs[1], c4, TEL_N, TEL_M, false, "3 -> 4 stream");
	send_msgs(gs, 2, gs[1], c4, gs[0], c3, TEL_K, TEL_KM, false, "4 -> 3 stream");
	tel_pair(gs, 2, gs[1], gs[0], TEL_SEQ_PORT, VSOCK_TYPE_SEQPACKET, &s4c, &s3c);
	send_msgs(gs, 2, gs[1], s4c, gs[0], s3c, TEL_S, TEL_SM, true, "4 -> 3 seqpacket");

	r = emu_connect(gs[0], TEL_UNKNOWN_CID, 1234, VSOCK_TYPE_STREAM);
	CHECK(r >= 0, "3 connects to unknown CID %d", TEL_UNKNOWN_CID);
	if (r >= 0) {
		struct conn_arg a = { .g = gs[0], .conn = r };

		harness_wait(gs, 2, conn_closed, &a, 5000, "the connection to CID 99 is refused");
		CHECK(emu_conn_error(gs[0], r) == -ECONNREFUSED, "with ECONNREFUSED");
		emu_close(gs[0], r);
	}

	emu_conn_info(gs[0], c3, &i3);
	fake = (struct vsock_hdr){
		.src_cid = 5, .dst_cid = 4, .src_port = 1111, .dst_port = TEL_STREAM_PORT,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536,
	};
	CHECK(emu_send_raw(gs[0], &fake, NULL, 0) == 0, "3 forges a REQUEST from CID 5");
	tel_settle(gs, 2, 100);

	emu_conn_info(gs[1], s4c, &is4);
	emu_guest_stats(gs[0], &s3);
	emu_guest_stats(gs[1], &s4);
	emu_guest_stats(g6, &s6);
	CHECK(s3.tx_pkts[VSOCK_OP_RW] == TEL_N && s3.tx_bytes == TEL_N * TEL_M,
	      "guest 3 sent %d RW of %d bytes (%llu packets)", TEL_N, TEL_M,
	      (unsigned long long)s3.tx_pkts[VSOCK_OP_RW]);
	CHECK(s4.tx_pkts[VSOCK_OP_RW] == TEL_K + TEL_S, "guest 4 sent %d RW (%llu)",
	      TEL_K + TEL_S, (unsigned long long)s4.tx_pkts[VSOCK_OP_RW]);
	CHECK(s3.rx_pkts[VSOCK_OP_RST] == 1, "guest 3 received one RST (%llu)",
	      (unsigned long long)s3.rx_pkts[VSOCK_OP_RST]);

	snprintf(facts, sizeof(facts), "%s/facts.json", h.dir);
	f = fopen(facts, "w");
	if (f == NULL) {
		perror(facts);
		return 1;
	}
	fprintf(f, "{\n  \"prefix\": \"%s\",\n  \"dir\": \"%s\",\n", h.prefix, h.dir);
	fprintf(f, "  \"sockets\": {\"3\": \"%s\", \"4\": \"%s\", \"5\": \"%s\", \"6\": \"%s\"},\n",
		harness_sock(&h, 3), harness_sock(&h, 4), harness_sock(&h, 5),
		harness_sock(&h, 6));
	fprintf(f, "  \"uds\": {\"3\": \"%s/g3.uds\", \"4\": \"%s/g4.uds\", "
		"\"5\": \"%s/g5.uds\", \"6\": \"%s/g6.uds\"},\n", h.dir, h.dir, h.dir, h.dir);
	fprintf(f, "  \"config\": {\"max_flows_per_lcore\": 4096, \"backlog_packets\": 512, "
		"\"backlog_bytes\": 524288, \"mbufs\": 8191},\n");
	fprintf(f, "  \"stream\": {\"port3\": %u, \"port4\": %u, \"bytes3\": %d, "
		"\"bytes4\": %d},\n", i3.local_port, TEL_STREAM_PORT, TEL_N * TEL_M,
		TEL_K * TEL_KM);
	fprintf(f, "  \"seqpacket\": {\"port4\": %u, \"port3\": %u, \"bytes4\": %d, "
		"\"bytes3\": 0},\n", is4.local_port, TEL_SEQ_PORT, TEL_S * TEL_SM);
	fprintf(f, "  \"refused\": {\"cid\": %d},\n", TEL_UNKNOWN_CID);
	fprintf(f, "  \"spoofed\": 1,\n");
	write_stats(f, "emu3", &s3, false);
	write_stats(f, "emu4", &s4, false);
	write_stats(f, "emu6", &s6, true);
	fprintf(f, "}\n");
	fclose(f);

	ret = tel_check(&e, "telemetry --facts %s", facts);
	CHECK(ret == 0, "telemetry replies match the traffic (tel_check.py status %d)", ret);

	printf("phase 2: close the connections, stop guest 4's driver\n");
	emu_close(gs[0], c3);
	emu_close(gs[1], s4c);
	tel_settle(gs, 2, 100);
	emu_close(gs[1], c4);
	emu_close(gs[0], s3c);
	tel_settle(gs, 2, 100);
	CHECK(emu_guest_stop(gs[1]) == 0, "guest 4's driver stops");
	tel_settle(gs, 2, 50);
	ret = tel_check(&e, "closed --facts %s", facts);
	CHECK(ret == 0, "no connections left, guest 4 frontend_connected (status %d)", ret);

	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(g6);
	tel_stop(&h);
	tel_cleanup(&h);
	return harness_finish(test_name);
}
