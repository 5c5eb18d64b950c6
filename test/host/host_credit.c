/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_credit: flow control between guests and host programs.
 *  1. a slow host reader (16 KiB every 10 ms) slows a guest that sends as fast
 *     as it can: what the guest got out is bounded by what the host read plus
 *     buf_alloc plus the socket's own buffer; the switch buffers at most buf_alloc
 *     and its resident memory does not grow; then the reader speeds up and all
 *     of the stream arrives intact;
 *  2. the switch never sends a guest more than its credit: a guest advertising
 *     32 KiB that does not read holds at most 32 KiB, then gets everything;
 *  3. explicit CREDIT_UPDATEs are batched: a guest sending 4 KiB packets gets
 *     far fewer updates than it sends packets;
 *  4. a CREDIT_REQUEST is answered with a CREDIT_UPDATE;
 *  5. a guest sending beyond its credit gets an RST (counted), the host socket
 *     is closed and the switch lets go of the buffered bytes.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_credit";

#define BUF_ALLOC (256u * 1024)
#define SOCKET_SLACK (512u * 1024) /* a Unix stream socket's own buffering, generously */

struct conn_arg {
	struct emu_guest *g;
	int conn;
	int port;
};

static int
conn_not_connecting(void *p)
{
	struct conn_arg *a = p;

	return emu_conn_state(a->g, a->conn) != EMU_CONN_CONNECTING;
}

static int
conn_closed(void *p)
{
	struct conn_arg *a = p;

	return emu_conn_state(a->g, a->conn) == EMU_CONN_CLOSED;
}

static int
accepted(void *p)
{
	struct conn_arg *a = p;

	a->conn = emu_accept(a->g, a->port);
	return a->conn >= 0;
}

/* Guest @g connects to CID 2 @port, the test accepts on <uds>_<port>. */
static int
dial(struct hh *x, struct emu_guest **gs, int ng, struct emu_guest *g, uint32_t port,
     int *conn, int *lfd)
{
	struct conn_arg a = { .g = g };
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s_%u", hh_uds(x, emu_guest_cid(g)), port);
	*lfd = hh_listen(path, SOCK_STREAM);
	a.conn = emu_connect(g, 2, port, VSOCK_TYPE_STREAM);
	fd = hh_accept(*lfd, gs, ng, HH_WAIT_MS);
	harness_wait(gs, ng, conn_not_connecting, &a, HH_WAIT_MS, "guest connected");
	*conn = a.conn;
	return fd;
}

static void
slow_reader(struct hh *x, struct emu_guest **gs)
{
	struct hh_flow f, *fs[1] = { &f };
	uint64_t rss0, rss1, peak;
	double end;
	int lfd, fd, conn, ret;

	printf("slow host reader\n");
	fd = dial(x, gs, 1, gs[0], 6000, &conn, &lfd);
	if (fd < 0)
		return;
	rss0 = hh_rss_kib(x->h.pid);
	hh_flow_init(&f, "guest->slow host", HH_G2H, fd, gs[0], conn, 31, 64u << 20);
	f.read_max = 16384;
	f.read_every_ms = 10;
	end = harness_now_ms() + 2000;
	while (harness_now_ms() < end && !f.error) {
		if (hh_flow_step(&f) <= 0)
			hh_poll_ms(gs, 1, 1);
		else
			emu_guest_poll(gs[0]);
		if (f.sent - f.rcvd > BUF_ALLOC + SOCKET_SLACK)
			break;
	}
	rss1 = hh_rss_kib(x->h.pid);
	peak = hh_stat(x, "buffered_peak");
	printf("  after 2 s: guest sent %llu, host read %llu; switch buffered %llu now, "
	       "peak %llu; RSS %llu -> %llu KiB\n", (unsigned long long)f.sent,
	       (unsigned long long)f.rcvd, (unsigned long long)hh_stat(x, "buffered"),
	       (unsigned long long)peak, (unsigned long long)rss0, (unsigned long long)rss1);
	CHECK(f.rcvd < (8u << 20) && f.sent - f.rcvd <= BUF_ALLOC + SOCKET_SLACK,
	      "the guest was held back by credit (%llu ahead of the reader)",
	      (unsigned long long)(f.sent - f.rcvd));
	CHECK(peak <= BUF_ALLOC, "switch buffered at most buf_alloc (%llu)",
	      (unsigned long long)peak);
	CHECK(rss1 < rss0 + 16 * 1024, "switch memory bounded (RSS +%lld KiB)",
	      (long long)rss1 - (long long)rss0);
	f.read_max = 0;
	f.read_every_ms = 0;
	ret = hh_flows_run(fs, 1, gs, 1, HH_STALL_MS);
	CHECK(ret == 0, "then everything arrives (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	hh_flow_fini(&f);
	close(fd);
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], conn);
	close(lfd);
}

static void
guest_credit_respected(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[1], .port = 6100 };
	struct hh_flow f, *fs[1] = { &f };
	struct emu_conn_info ci;
	struct emu_stats s;
	double end;
	int fd, ret;

	printf("host -> guest within the guest's credit (guest buf_alloc 32 KiB)\n");
	emu_listen(gs[1], 6100, VSOCK_TYPE_STREAM);
	fd = hh_hybrid_connect(x, 4, 6100, SOCK_STREAM, NULL, gs, 2);
	harness_wait(gs, 2, accepted, &a, HH_WAIT_MS, "guest accepts");
	if (fd < 0)
		return;
	hh_flow_init(&f, "host->guest", HH_H2G, fd, gs[1], a.conn, 32, 4u << 20);
	/* Send only, the guest does not read for 300 ms. */
	end = harness_now_ms() + 300;
	while (harness_now_ms() < end) {
		if (f.sent < f.total) {
			size_t len = f.total - f.sent < 65536 ? f.total - f.sent : 65536;
			ssize_t n;

			harness_pattern(f.seed, f.sent, f.rxbuf, len);
			n = send(fd, f.rxbuf, len, MSG_DONTWAIT);
			if (n > 0) {
				harness_sum_add(&f.tx_sum, f.rxbuf, n);
				f.sent += n;
			}
		}
		hh_poll_ms(gs, 2, 1);
	}
	emu_conn_info(gs[1], a.conn, &ci);
	emu_guest_stats(gs[1], &s);
	CHECK(ci.rx_queued > 0 && ci.rx_queued <= 32768 && s.rx_credit_overflow == 0,
	      "guest holds %u bytes, never more than its 32 KiB (overflows %llu)", ci.rx_queued,
	      (unsigned long long)s.rx_credit_overflow);
	ret = hh_flows_run(fs, 1, gs, 2, HH_STALL_MS);
	CHECK(ret == 0, "then everything arrives (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	hh_flow_fini(&f);
	emu_close(gs[1], a.conn);
	hh_poll_ms(gs, 2, 20);
	close(fd);
}

static void
batching(struct hh *x, struct emu_guest **gs)
{
	struct hh_flow f, *fs[1] = { &f };
	struct emu_stats s0, s1;
	uint64_t upd, rw, sw0;
	int lfd, fd, conn, ret;

	printf("credit update batching, 4 KiB guest packets\n");
	fd = dial(x, gs, 2, gs[1], 6200, &conn, &lfd);
	if (fd < 0)
		return;
	emu_guest_stats(gs[1], &s0);
	sw0 = hh_stat(x, "credit_updates");
	hh_flow_init(&f, "guest(4 KiB packets)->host", HH_G2H, fd, gs[1], conn, 33, 32u << 20);
	ret = hh_flows_run(fs, 1, gs, 2, HH_STALL_MS);
	CHECK(ret == 0, "transfer completes (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	hh_flow_fini(&f);
	emu_guest_stats(gs[1], &s1);
	upd = s1.rx_pkts[VSOCK_OP_CREDIT_UPDATE] - s0.rx_pkts[VSOCK_OP_CREDIT_UPDATE];
	rw = s1.tx_pkts[VSOCK_OP_RW] - s0.tx_pkts[VSOCK_OP_RW];
	printf("  %llu RW packets, %llu explicit CREDIT_UPDATEs (switch counted %llu)\n",
	       (unsigned long long)rw, (unsigned long long)upd,
	       (unsigned long long)(hh_stat(x, "credit_updates") - sw0));
	CHECK(rw >= (32u << 20) / 4096 && upd * 16 < rw,
	      "one update per %.0f packets", upd ? (double)rw / upd : 0.0);
	close(fd);
	hh_poll_ms(gs, 2, 20);
	emu_close(gs[1], conn);
	close(lfd);
}

static void
credit_request(struct hh *x, struct emu_guest **gs)
{
	struct emu_conn_info ci;
	struct emu_stats s0, s1;
	struct vsock_hdr h;
	uint64_t req0 = hh_stat(x, "credit_requests");
	int lfd, fd, conn;

	printf("CREDIT_REQUEST\n");
	fd = dial(x, gs, 1, gs[0], 6300, &conn, &lfd);
	if (fd < 0)
		return;
	emu_conn_info(gs[0], conn, &ci);
	emu_guest_stats(gs[0], &s0);
	h = (struct vsock_hdr){
		.src_cid = 3, .dst_cid = 2, .src_port = ci.local_port, .dst_port = 6300,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_CREDIT_REQUEST,
		.buf_alloc = ci.buf_alloc, .fwd_cnt = ci.fwd_cnt,
	};
	CHECK(emu_send_raw(gs[0], &h, NULL, 0) == 0, "guest sends CREDIT_REQUEST");
	hh_poll_ms(gs, 1, 50);
	emu_guest_stats(gs[0], &s1);
	CHECK(s1.rx_pkts[VSOCK_OP_CREDIT_UPDATE] == s0.rx_pkts[VSOCK_OP_CREDIT_UPDATE] + 1 &&
	      hh_stat(x, "credit_requests") == req0 + 1, "answered by one CREDIT_UPDATE");
	close(fd);
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], conn);
	close(lfd);
}

static void
violation(struct hh *x, struct emu_guest **gs)
{
	uint64_t v0 = hh_stat(x, "credit_violations");
	struct conn_arg a = { .g = gs[0] };
	uint8_t *payload = calloc(1, 65536);
	struct emu_conn_info ci;
	struct vsock_hdr h;
	int lfd, fd, i = 0, sent = 0;
	double end;
	char c;

	printf("a guest sending beyond its credit\n");
	fd = dial(x, gs, 1, gs[0], 6400, &a.conn, &lfd);
	if (fd < 0)
		return;
	emu_conn_info(gs[0], a.conn, &ci);
	h = (struct vsock_hdr){
		.src_cid = 3, .dst_cid = 2, .src_port = ci.local_port, .dst_port = 6400,
		.len = 65536, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RW,
		.buf_alloc = ci.buf_alloc, .fwd_cnt = ci.fwd_cnt,
	};
	/* The host never reads: socket buffer, then buf_alloc, then too much. */
	end = harness_now_ms() + 5000;
	while (sent < 64 && emu_conn_state(gs[0], a.conn) != EMU_CONN_CLOSED &&
	       harness_now_ms() < end) {
		if (emu_send_raw(gs[0], &h, payload, 65536) == 0)
			sent++;
		hh_poll_ms(gs, 1, 1);
		i++;
	}
	harness_wait(gs, 1, conn_closed, &a, HH_WAIT_MS, "guest's connection reset");
	CHECK(emu_conn_error(gs[0], a.conn) == -ECONNRESET, "by an RST (%d) after %d packets",
	      emu_conn_error(gs[0], a.conn), sent);
	CHECK(hh_stat(x, "credit_violations") == v0 + 1, "violation counted");
	CHECK(hh_stat(x, "buffered") == 0 && hh_stat(x, "conns_open") == 0,
	      "switch let go of the buffered bytes");
	/* The host socket was closed: what was written is readable, then EOF. */
	end = harness_now_ms() + 2000;
	while (harness_now_ms() < end && recv(fd, payload, 65536, MSG_DONTWAIT) != 0)
		;
	CHECK(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "host socket closed");
	close(fd);
	emu_close(gs[0], a.conn);
	close(lfd);
	free(payload);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4 };
	struct emu_guest_opts o4;
	struct emu_guest *gs[2];
	struct hh x;

	hh_start(&x, sw, cids, 2, NULL);
	gs[0] = hh_guest(&x, 3, NULL);
	harness_guest_opts(&x.h, 4, &o4);
	o4.buf_alloc = 32768;
	o4.tx_pkt_size = 4096;
	gs[1] = hh_guest(&x, 4, &o4);

	slow_reader(&x, gs);
	guest_credit_respected(&x, gs);
	batching(&x, gs);
	credit_request(&x, gs);
	violation(&x, gs);

	hh_poll_ms(gs, 2, 100);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
