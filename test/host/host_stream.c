/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_stream: STREAM connections between host programs and a guest through the
 * guest's hybrid socket.
 *  1. host -> guest: "CONNECT 1234" on <uds>, then VS_TEST_BYTES (default 1 GiB),
 *     every byte checked, checksum compared, then an orderly close.
 *  2. guest -> host: the guest connects to CID 2 port 5000, the switch connects to
 *     <uds>_5000; the same amount the other way. Explicit CREDIT_UPDATE packets
 *     are counted against the RW packets the guest sent (batching).
 *  3. the CONNECT line split over three writes, lower case, the first data in
 *     the same write as the newline; then data both ways.
 *  4. a guest connecting to a port nobody listens on (<uds>_<port> missing) gets
 *     an RST at once.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_stream";

struct conn_arg {
	struct emu_guest *g;
	int conn;
	int listen_port;
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

	a->conn = emu_accept(a->g, a->listen_port);
	return a->conn >= 0;
}

/* Read exactly @len bytes from a host socket, polling the guests. */
static int
host_read_exact(int fd, void *buf, size_t len, struct emu_guest **gs, int ng)
{
	double end = harness_now_ms() + 5000;
	size_t done = 0;
	ssize_t n;

	while (done < len && harness_now_ms() < end) {
		n = recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
		if (n > 0) {
			done += n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			return -EPIPE;
		hh_poll_ms(gs, ng, 1);
	}
	return done == len ? 0 : -ETIMEDOUT;
}

static void
host_to_guest(struct hh *x, struct emu_guest **gs, uint64_t bytes)
{
	struct conn_arg a = { .g = gs[0], .listen_port = 1234 };
	struct hh_flow f, *fs[1] = { &f };
	uint32_t hport = 0;
	char c;
	double t0, ms;
	int fd, ret;

	printf("host -> guest, %llu bytes over the hybrid socket\n", (unsigned long long)bytes);
	CHECK(emu_listen(gs[0], 1234, VSOCK_TYPE_STREAM) == 0, "guest listens on 1234");
	fd = hh_hybrid_connect(x, 3, 1234, SOCK_STREAM, &hport, gs, 1);
	CHECK(fd >= 0, "CONNECT 1234 answered OK (%s)", fd < 0 ? strerror(-fd) : "ok");
	if (fd < 0)
		return;
	CHECK(hport >= (1u << 30) && hport < (1u << 31), "host port %u in [2^30, 2^31)", hport);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	hh_flow_init(&f, "host->guest", HH_H2G, fd, gs[0], a.conn, 11, bytes);
	t0 = harness_now_ms();
	ret = hh_flows_run(fs, 1, gs, 1, HH_STALL_MS);
	ms = harness_now_ms() - t0;
	CHECK(ret == 0, "transfer completes (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	printf("  host->guest: %.1f MB/s (%.2f s); %llu RW packets, %llu CREDIT_REQUESTs sent\n",
	       bytes / ms / 1e3, ms / 1e3, (unsigned long long)hh_stat(x, "tx_rw"),
	       (unsigned long long)hh_stat(x, "credit_asks"));
	hh_flow_fini(&f);

	/* The guest closes after EOF: the switch answers with RST, the host sees EOF. */
	CHECK(emu_close(gs[0], a.conn) == 0, "guest closes");
	CHECK(host_read_exact(fd, &c, 1, gs, 1) == -EPIPE, "host socket ends (EOF)");
	close(fd);
}

static void
guest_to_host(struct hh *x, struct emu_guest **gs, uint64_t bytes)
{
	struct conn_arg a = { .g = gs[0] };
	struct hh_flow f, *fs[1] = { &f };
	struct emu_stats s0, s1;
	uint64_t upd0, upd, rw;
	char path[400];
	double t0, ms;
	int lfd, fd, ret;

	printf("guest -> host, %llu bytes to <uds>_5000\n", (unsigned long long)bytes);
	snprintf(path, sizeof(path), "%s_5000", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	upd0 = hh_stat(x, "credit_updates");
	emu_guest_stats(gs[0], &s0);
	a.conn = emu_connect(gs[0], 2, 5000, VSOCK_TYPE_STREAM);
	CHECK(a.conn >= 0, "guest connects to CID 2 port 5000");
	fd = hh_accept(lfd, gs, 1, HH_WAIT_MS);
	CHECK(fd >= 0, "switch connected to %s", path);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest gets an answer");
	CHECK(emu_conn_state(gs[0], a.conn) == EMU_CONN_CONNECTED, "guest connected");
	if (fd < 0)
		goto out;
	hh_flow_init(&f, "guest->host", HH_G2H, fd, gs[0], a.conn, 12, bytes);
	t0 = harness_now_ms();
	ret = hh_flows_run(fs, 1, gs, 1, HH_STALL_MS);
	ms = harness_now_ms() - t0;
	CHECK(ret == 0, "transfer completes (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	printf("  guest->host: %.1f MB/s (%.2f s)\n", bytes / ms / 1e3, ms / 1e3);
	hh_flow_fini(&f);

	emu_guest_stats(gs[0], &s1);
	upd = s1.rx_pkts[VSOCK_OP_CREDIT_UPDATE] - s0.rx_pkts[VSOCK_OP_CREDIT_UPDATE];
	rw = s1.tx_pkts[VSOCK_OP_RW] - s0.tx_pkts[VSOCK_OP_RW];
	printf("  %llu RW packets sent by the guest, %llu explicit CREDIT_UPDATEs received "
	       "(switch counted %llu)\n", (unsigned long long)rw, (unsigned long long)upd,
	       (unsigned long long)(hh_stat(x, "credit_updates") - upd0));
	CHECK(upd * 2 < rw, "credit updates batched: %llu updates for %llu RW packets",
	      (unsigned long long)upd, (unsigned long long)rw);

	/* The host program closes after EOF: SHUTDOWN both ways, the guest's RST ends it. */
	close(fd);
	harness_wait(gs, 1, conn_closed, &a, HH_WAIT_MS, "guest's end closed after the host closed");
	CHECK(emu_conn_error(gs[0], a.conn) == 0, "orderly close, no error (%d)",
	      emu_conn_error(gs[0], a.conn));
out:
	emu_close(gs[0], a.conn);
	close(lfd);
	unlink(path);
}

static void
split_connect_line(struct hh *x, struct emu_guest **gs)
{
	static const char hello[] = "hello, guest";
	struct conn_arg a = { .g = gs[0], .listen_port = 1240 };
	char buf[64], line[64];
	ssize_t n;
	int fd;

	printf("CONNECT line in three writes, data in the same write as the newline\n");
	CHECK(emu_listen(gs[0], 1240, VSOCK_TYPE_STREAM) == 0, "guest listens on 1240");
	fd = hh_connect(hh_uds(x, 3), SOCK_STREAM);
	CHECK(fd >= 0, "connected to the hybrid socket");
	if (fd < 0)
		return;
	hh_write_all(fd, "conn", 4, gs, 1);
	hh_poll_ms(gs, 1, 20);
	hh_write_all(fd, "ect 12", 6, gs, 1);
	hh_poll_ms(gs, 1, 20);
	snprintf(buf, sizeof(buf), "40\n%s", hello);
	hh_write_all(fd, buf, strlen(buf), gs, 1);
	n = hh_read_line(fd, line, sizeof(line), NULL, gs, 1, HH_WAIT_MS);
	CHECK(n > 0 && strncmp(line, "OK ", 3) == 0, "answer '%s'", n > 0 ? line : "none");
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	memset(buf, 0, sizeof(buf));
	n = 0;
	for (int i = 0; i < 200 && n < (ssize_t)strlen(hello); i++) {
		ssize_t r = emu_recv(gs[0], a.conn, buf + n, sizeof(buf) - 1 - n, NULL);

		if (r > 0)
			n += r;
		else
			hh_poll_ms(gs, 1, 5);
	}
	CHECK(n == (ssize_t)strlen(hello) && strcmp(buf, hello) == 0,
	      "guest got the bytes after the newline: '%s'", buf);
	CHECK(emu_send(gs[0], a.conn, "pong", 4) == 4, "guest answers");
	CHECK(host_read_exact(fd, buf, 4, gs, 1) == 0 && memcmp(buf, "pong", 4) == 0,
	      "host reads the answer");
	close(fd);
	hh_poll_ms(gs, 1, 50);
	emu_close(gs[0], a.conn);
}

static void
refused(struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0] };
	double t0;

	printf("guest connects to a port nobody serves\n");
	t0 = harness_now_ms();
	a.conn = emu_connect(gs[0], 2, 5999, VSOCK_TYPE_STREAM);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest gets an answer");
	CHECK(emu_conn_error(gs[0], a.conn) == -ECONNREFUSED && harness_now_ms() - t0 < 500,
	      "ECONNREFUSED in %.1f ms", harness_now_ms() - t0);
	emu_close(gs[0], a.conn);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t bytes = harness_env_u64("VS_TEST_BYTES", 1ull << 30);
	uint64_t cids[] = { 3 };
	struct emu_guest *gs[1];
	struct hh x;

	hh_start(&x, sw, cids, 1, NULL);
	gs[0] = hh_guest(&x, 3, NULL);

	host_to_guest(&x, gs, bytes);
	guest_to_host(&x, gs, bytes);
	split_connect_line(&x, gs);
	refused(gs);
	hh_poll_ms(gs, 1, 100);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open in the switch (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	CHECK(hh_stat(&x, "buffered") == 0, "nothing buffered");
	printf("  longest pause of the switch's host endpoint loop: %llu ms\n",
	       (unsigned long long)hh_stat(&x, "max_gap_ms"));
	harness_check_clean(gs[0], "guest 3");

	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
