/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_halfclose: shutdown(SHUT_WR) on either side reaches the other as EOF
 * while the other direction keeps flowing, and nothing is lost on close.
 *  1. host -> guest 1 MiB then the host's SHUT_WR: the guest reads EOF while
 *     16 MiB guest -> host are still on their way; then the guest's SHUT_WR
 *     ends the host's reading; the connection then ends cleanly by itself.
 *  2. the same with the roles swapped (guest-initiated connection).
 *  3. a host program writes 4 MiB and close()s at once: the guest reads all of
 *     it, then EOF, without a reset.
 *  4. a guest sends what its credit allows and closes at once, before the host
 *     read anything: the host reads all of it, then EOF.
 *  5. a guest whose driver stops: its connections' host sockets end at once
 *     (the worker's RSTs), and after a restart new connections work.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_halfclose";

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
accepted(void *p)
{
	struct conn_arg *a = p;

	a->conn = emu_accept(a->g, a->port);
	return a->conn >= 0;
}

/* Run @first and @second until @first is done; @second must still be moving. */
static void
run_first(struct hh_flow *first, struct hh_flow *second, struct emu_guest **gs)
{
	double end = harness_now_ms() + 20000;

	while (!hh_flow_done(first) && !first->error && !second->error &&
	       harness_now_ms() < end) {
		int64_t a = hh_flow_step(first), b = hh_flow_step(second);

		if (a <= 0 && b <= 0)
			hh_poll_ms(gs, 1, 0);
		else
			emu_guest_poll(gs[0]);
	}
	CHECK(hh_flow_done(first), "%s: all bytes, then EOF", first->name);
	CHECK(second->rcvd < second->total && second->error == 0,
	      "%s: still flowing meanwhile (%llu of %llu bytes so far)", second->name,
	      (unsigned long long)second->rcvd, (unsigned long long)second->total);
}

/* Poll until the switch has no connection open; false after 2 s. */
static bool
switch_idle(struct hh *x, struct emu_guest **gs)
{
	double end = harness_now_ms() + 2000;

	while (harness_now_ms() < end) {
		if (hh_stat(x, "conns_open") == 0)
			return true;
		hh_poll_ms(gs, 1, 5);
	}
	return false;
}

static void
both_ways(struct hh *x, struct emu_guest **gs, int fd, int conn, bool host_first)
{
	struct hh_flow h2g, g2h, *rest[1];
	char c;
	int ret;

	hh_flow_init(&h2g, "host->guest", HH_H2G, fd, gs[0], conn, 21,
		     host_first ? 1u << 20 : 16u << 20);
	hh_flow_init(&g2h, "guest->host", HH_G2H, fd, gs[0], conn, 22,
		     host_first ? 16u << 20 : 1u << 20);
	if (host_first)
		run_first(&h2g, &g2h, gs);
	else
		run_first(&g2h, &h2g, gs);
	rest[0] = host_first ? &g2h : &h2g;
	ret = hh_flows_run(rest, 1, gs, 1, HH_STALL_MS);
	CHECK(ret == 0, "the other direction completes after the half-close (%s)",
	      ret ? strerror(-ret) : "ok");
	hh_flow_check(&h2g);
	hh_flow_check(&g2h);
	CHECK(emu_conn_error(gs[0], conn) == 0, "no reset (%d)", emu_conn_error(gs[0], conn));
	hh_flow_fini(&h2g);
	hh_flow_fini(&g2h);
	/* Both sides shut down writing: closing ends it (Linux: SHUTDOWN both ways, RST). */
	emu_close(gs[0], conn);
	CHECK(switch_idle(x, gs), "the switch forgets the connection once the guest closed");
	CHECK(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "host socket at EOF");
}

static void
host_shuts_first(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0], .port = 1800 };
	int fd;

	printf("host shuts down writing first\n");
	emu_listen(gs[0], 1800, VSOCK_TYPE_STREAM);
	fd = hh_hybrid_connect(x, 3, 1800, SOCK_STREAM, NULL, gs, 1);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	if (fd < 0)
		return;
	both_ways(x, gs, fd, a.conn, true);
	close(fd);
}

static void
guest_shuts_first(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0] };
	char path[400];
	int lfd, fd;

	printf("guest shuts down writing first\n");
	snprintf(path, sizeof(path), "%s_1801", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	a.conn = emu_connect(gs[0], 2, 1801, VSOCK_TYPE_STREAM);
	fd = hh_accept(lfd, gs, 1, HH_WAIT_MS);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest connected");
	if (fd >= 0) {
		both_ways(x, gs, fd, a.conn, false);
		close(fd);
	} else {
		emu_close(gs[0], a.conn);
	}
	close(lfd);
	unlink(path);
}

static void
host_closes_at_once(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0], .port = 1802 };
	struct hh_flow f, *fs[1] = { &f };
	double end;
	int fd, ret;

	printf("host writes 4 MiB and closes at once\n");
	emu_listen(gs[0], 1802, VSOCK_TYPE_STREAM);
	fd = hh_hybrid_connect(x, 3, 1802, SOCK_STREAM, NULL, gs, 1);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	if (fd < 0)
		return;
	hh_flow_init(&f, "host->guest", HH_H2G, fd, gs[0], a.conn, 23, 4u << 20);
	f.no_shutdown = true;
	end = harness_now_ms() + 20000;
	while (f.sent < f.total && !f.error && harness_now_ms() < end) {
		if (hh_flow_step(&f) <= 0)
			hh_poll_ms(gs, 1, 0);
	}
	close(fd); /* the last bytes are still in the socket */
	f.no_shutdown = false;
	f.shut_sent = true;
	ret = hh_flows_run(fs, 1, gs, 1, HH_STALL_MS);
	CHECK(ret == 0, "guest reads everything (%s)", ret ? strerror(-ret) : "ok");
	hh_flow_check(&f);
	CHECK(emu_conn_error(gs[0], a.conn) == 0, "no reset before the guest closes (%d)",
	      emu_conn_error(gs[0], a.conn));
	hh_flow_fini(&f);
	emu_close(gs[0], a.conn);
}

static void
guest_closes_at_once(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0] };
	uint8_t *buf = malloc(1 << 20);
	uint64_t sent = 0, got = 0;
	struct harness_sum ts, rs;
	char path[400];
	int lfd, fd;
	ssize_t n;
	bool eof = false;
	double end;

	printf("guest sends and closes at once, before the host reads\n");
	snprintf(path, sizeof(path), "%s_1803", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	a.conn = emu_connect(gs[0], 2, 1803, VSOCK_TYPE_STREAM);
	fd = hh_accept(lfd, gs, 1, HH_WAIT_MS);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest connected");
	harness_sum_init(&ts);
	harness_sum_init(&rs);
	/* As much as the credit allows: it fills the switch's buffer and the socket. */
	end = harness_now_ms() + 2000;
	while (harness_now_ms() < end) {
		harness_pattern(24, sent, buf, 65536);
		n = emu_send(gs[0], a.conn, buf, 65536);
		if (n > 0) {
			harness_sum_add(&ts, buf, n);
			sent += n;
			end = harness_now_ms() + 200;
		}
		hh_poll_ms(gs, 1, 1);
	}
	CHECK(emu_close(gs[0], a.conn) == 0, "guest closes after %llu bytes",
	      (unsigned long long)sent);
	end = harness_now_ms() + 5000;
	while (!eof && fd >= 0 && harness_now_ms() < end) {
		n = recv(fd, buf, 1 << 20, MSG_DONTWAIT);
		if (n > 0) {
			harness_sum_add(&rs, buf, n);
			got += n;
		} else if (n == 0) {
			eof = true;
		} else {
			hh_poll_ms(gs, 1, 1);
		}
	}
	CHECK(eof && got == sent && harness_sum_final(&ts) == harness_sum_final(&rs),
	      "host read all %llu bytes (checksum ok), then EOF", (unsigned long long)got);
	hh_poll_ms(gs, 1, 50);
	if (fd >= 0)
		close(fd);
	close(lfd);
	unlink(path);
	free(buf);
}

/* Wait for EOF (or a reset) on @fd; milliseconds it took, or -1. */
static double
host_wait_end(int fd, struct emu_guest **gs, int timeout_ms)
{
	double t0 = harness_now_ms();
	char buf[4096];
	ssize_t n;

	while (harness_now_ms() - t0 < timeout_ms) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return harness_now_ms() - t0;
		hh_poll_ms(gs, gs != NULL ? 1 : 0, 1);
	}
	return -1;
}

static void
guest_stops(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0], .port = 1804 }, b = { .g = gs[0] };
	char path[400];
	double ms1, ms2;
	int lfd, fd1, fd2;

	printf("the guest's driver stops with connections open\n");
	emu_listen(gs[0], 1804, VSOCK_TYPE_STREAM);
	fd1 = hh_hybrid_connect(x, 3, 1804, SOCK_STREAM, NULL, gs, 1);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "host-initiated connection accepted");
	snprintf(path, sizeof(path), "%s_1805", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	b.conn = emu_connect(gs[0], 2, 1805, VSOCK_TYPE_STREAM);
	fd2 = hh_accept(lfd, gs, 1, HH_WAIT_MS);
	harness_wait(gs, 1, conn_not_connecting, &b, HH_WAIT_MS, "guest-initiated connection made");
	CHECK(fd1 >= 0 && fd2 >= 0 && hh_stat(x, "conns_open") == 2, "two connections open");
	CHECK(emu_guest_stop(gs[0]) == 0, "guest stops its driver");
	ms1 = host_wait_end(fd1, NULL, 2000);
	ms2 = host_wait_end(fd2, NULL, 2000);
	CHECK(ms1 >= 0 && ms1 < 1000 && ms2 >= 0 && ms2 < 1000,
	      "both host sockets end (%.1f ms, %.1f ms)", ms1, ms2);
	CHECK(hh_stat(x, "conns_open") == 0, "the switch forgot them");
	close(fd1);
	close(fd2);
	CHECK(emu_guest_start(gs[0]) == 0, "guest starts again");
	hh_poll_ms(gs, 1, 50);
	fd1 = -1;
	for (int i = 0; i < 100 && fd1 < 0; i++) {
		fd1 = hh_hybrid_connect(x, 3, 1804, SOCK_STREAM, NULL, gs, 1);
		if (fd1 < 0)
			hh_poll_ms(gs, 1, 10);
	}
	a.conn = -1;
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "a new connection works after the restart");
	if (fd1 >= 0)
		close(fd1);
	hh_poll_ms(gs, 1, 20);
	if (a.conn >= 0)
		emu_close(gs[0], a.conn);
	close(lfd);
	unlink(path);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3 };
	struct emu_guest *gs[1];
	struct hh x;

	hh_start(&x, sw, cids, 1, NULL);
	gs[0] = hh_guest(&x, 3, NULL);

	host_shuts_first(&x, gs);
	guest_shuts_first(&x, gs);
	host_closes_at_once(&x, gs);
	guest_closes_at_once(&x, gs);
	guest_stops(&x, gs);

	hh_poll_ms(gs, 1, 100);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	harness_check_clean(gs[0], "guest 3");
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
