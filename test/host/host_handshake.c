/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_handshake: bad handshakes close only their own socket.
 * With a connection established and moving data, host programs send to the
 * hybrid socket: garbage bytes, unknown keywords, bad ports, a line longer than
 * the limit, and nothing at all (handshake timeout, --connect-timeout 500). Each
 * socket is closed by the switch; the established connection keeps working. The
 * control socket answers the same mistakes with "ERR EINVAL" / "ERR ETIMEDOUT".
 * A hybrid CONNECT to a guest port nobody listens on is closed too.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_handshake";

#define TIMEOUT_MS 500

struct acc_arg {
	struct emu_guest *g;
	int port;
	int conn;
};

static int
accepted(void *p)
{
	struct acc_arg *a = p;

	a->conn = emu_accept(a->g, a->port);
	return a->conn >= 0;
}

/* Wait until the switch closes @fd; returns the time it took, or -1. */
static double
wait_closed(int fd, struct emu_guest **gs, int ng, int timeout_ms)
{
	double t0 = harness_now_ms();
	char buf[256];
	ssize_t n;

	while (harness_now_ms() - t0 < timeout_ms) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return harness_now_ms() - t0;
		hh_poll_ms(gs, ng, 1);
	}
	return -1;
}

/* The established connection still carries data both ways. */
static void
check_alive(int fd, struct emu_guest **gs, int conn, const char *when)
{
	char buf[16] = "";
	ssize_t n = 0;
	double end;

	hh_write_all(fd, "ping", 4, gs, 1);
	end = harness_now_ms() + 2000;
	while (n < 4 && harness_now_ms() < end) {
		ssize_t r = emu_recv(gs[0], conn, buf + n, 4 - n, NULL);

		if (r > 0)
			n += r;
		else
			hh_poll_ms(gs, 1, 1);
	}
	CHECK(n == 4 && memcmp(buf, "ping", 4) == 0, "%s: host -> guest still works", when);
	emu_send(gs[0], conn, "pong", 4);
	n = 0;
	end = harness_now_ms() + 2000;
	while (n < 4 && harness_now_ms() < end) {
		ssize_t r = recv(fd, buf + n, 4 - n, MSG_DONTWAIT);

		if (r > 0)
			n += r;
		else
			hh_poll_ms(gs, 1, 1);
	}
	CHECK(n == 4 && memcmp(buf, "pong", 4) == 0, "%s: guest -> host still works", when);
}

static void
bad_hybrid(struct hh *x, struct emu_guest **gs, const char *what, const void *bytes, size_t len)
{
	int fd = hh_connect(hh_uds(x, 3), SOCK_STREAM);
	double ms;

	if (fd < 0) {
		CHECK(false, "%s: connect (%s)", what, strerror(-fd));
		return;
	}
	hh_write_all(fd, bytes, len, gs, 1);
	ms = wait_closed(fd, gs, 1, 3000);
	CHECK(ms >= 0 && ms < TIMEOUT_MS / 2, "%s: closed by the switch (%.1f ms)", what, ms);
	close(fd);
}

static void
bad_control(struct hh *x, struct emu_guest **gs, const char *what, const char *line,
	    const char *expect)
{
	char reply[256];
	int fd = hh_ctl(x, line, reply, sizeof(reply), gs, 1, 3000);

	CHECK(fd >= 0 && strncmp(reply, expect, strlen(expect)) == 0, "%s: '%s'", what, reply);
	if (fd >= 0) {
		CHECK(wait_closed(fd, gs, 1, 1000) >= 0, "%s: control connection closed", what);
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	static const char *const extra[] = { "--connect-timeout", "500", NULL };
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3 }, bad0;
	struct acc_arg a;
	struct emu_guest *gs[1];
	char longline[400]; /* over both line limits (hybrid 127, control 319 bytes) */
	struct hh x;
	double ms;
	int fd, ok;

	hh_start(&x, sw, cids, 1, extra);
	gs[0] = hh_guest(&x, 3, NULL);
	bad0 = hh_stat(&x, "bad_lines");

	printf("an established connection\n");
	emu_listen(gs[0], 1300, VSOCK_TYPE_STREAM);
	ok = hh_hybrid_connect(&x, 3, 1300, SOCK_STREAM, NULL, gs, 1);
	CHECK(ok >= 0, "hybrid connection to port 1300");
	if (ok < 0)
		return harness_finish(test_name);
	a = (struct acc_arg){ .g = gs[0], .port = 1300 };
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	check_alive(ok, gs, a.conn, "before");

	printf("hybrid socket: bad lines\n");
	bad_hybrid(&x, gs, "binary garbage", "\x01\x02\xff\xfe garbage\n", 14);
	bad_hybrid(&x, gs, "unknown keyword", "HELLO 1300\n", 11);
	bad_hybrid(&x, gs, "port not a number", "CONNECT abc\n", 12);
	bad_hybrid(&x, gs, "port too large", "CONNECT 4294967296\n", 19);
	bad_hybrid(&x, gs, "two ports", "CONNECT 1 2\n", 12);
	bad_hybrid(&x, gs, "no port", "CONNECT\n", 8);
	memset(longline, 'A', sizeof(longline));
	bad_hybrid(&x, gs, "over-long line, no newline", longline, sizeof(longline));
	memcpy(longline, "CONNECT 1300", 12);
	memset(longline + 12, ' ', sizeof(longline) - 13);
	longline[sizeof(longline) - 1] = '\n';
	bad_hybrid(&x, gs, "over-long line with a newline", longline, sizeof(longline));
	bad_hybrid(&x, gs, "nobody listens on guest port 1399", "CONNECT 1399\n", 13);
	CHECK(hh_stat(&x, "bad_lines") - bad0 >= 8, "bad lines counted (%llu)",
	      (unsigned long long)(hh_stat(&x, "bad_lines") - bad0));

	printf("hybrid socket: handshake timeout\n");
	fd = hh_connect(hh_uds(&x, 3), SOCK_STREAM);
	hh_write_all(fd, "CONN", 4, gs, 1);
	ms = wait_closed(fd, gs, 1, 5000);
	CHECK(ms >= TIMEOUT_MS * 0.8 && ms < TIMEOUT_MS * 3,
	      "incomplete line: closed after %.0f ms (timeout %d ms)", ms, TIMEOUT_MS);
	close(fd);
	snprintf(longline, sizeof(longline), "%s_seqpacket", hh_uds(&x, 3));
	fd = hh_connect(longline, SOCK_SEQPACKET);
	ms = wait_closed(fd, gs, 1, 5000);
	CHECK(ms >= TIMEOUT_MS * 0.8 && ms < TIMEOUT_MS * 3,
	      "silent SEQPACKET socket: closed after %.0f ms", ms);
	close(fd);
	CHECK(hh_stat(&x, "handshake_timeouts") >= 2, "handshake timeouts counted");
	check_alive(ok, gs, a.conn, "after the hybrid mistakes");

	printf("control socket: the same mistakes get ERR\n");
	bad_control(&x, gs, "garbage", "\x01\x02\x03\n", "ERR EINVAL");
	bad_control(&x, gs, "unknown command", "HELLO\n", "ERR EINVAL");
	memset(longline, 'B', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	bad_control(&x, gs, "over-long line", longline, "ERR EINVAL");
	fd = hh_connect(x.ctl, SOCK_STREAM);
	{
		char reply[128];
		double t0 = harness_now_ms();
		int n = hh_read_line(fd, reply, sizeof(reply), NULL, gs, 1, HH_WAIT_MS);

		ms = harness_now_ms() - t0;
		CHECK(n > 0 && strncmp(reply, "ERR ETIMEDOUT", 13) == 0 && ms >= TIMEOUT_MS * 0.8,
		      "silent control connection: '%s' after %.0f ms", n > 0 ? reply : "", ms);
	}
	close(fd);
	check_alive(ok, gs, a.conn, "after the control mistakes");

	close(ok);
	hh_poll_ms(gs, 1, 50);
	emu_close(gs[0], a.conn);
	hh_poll_ms(gs, 1, 50);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open");
	harness_check_clean(gs[0], "guest 3");
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
