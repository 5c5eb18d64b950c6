/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_control: the control socket.
 *  - CONNECT <cid> <port>: "OK <host_port>", then the same socket carries the
 *    stream (bytes sent right after the line included);
 *  - LISTEN <port> [<cid>]: each guest connection arrives as "ACCEPT <cid>
 *    <guest_port> <host_port>" with a socket (SCM_RIGHTS) of the guest's type;
 *    a CID-specific listener wins over an any-CID one; a second listener on the
 *    same port and CID is EADDRINUSE; closing the control connection ends it;
 *  - every error at once: ENODEV (unknown CID), EHOSTUNREACH (rings not started,
 *    and nothing reaches the guest when it starts later), ECONNREFUSED, ETIMEDOUT
 *    (a guest that never answers; --connect-timeout 500), EINVAL.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_control";

#define TIMEOUT_MS 500

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

/* Guest bytes: read exactly @len. */
static int
guest_read(struct emu_guest **gs, int ng, struct emu_guest *g, int conn, char *buf, int len)
{
	double end = harness_now_ms() + 3000;
	int n = 0;

	while (n < len && harness_now_ms() < end) {
		ssize_t r = emu_recv(g, conn, buf + n, len - n, NULL);

		if (r > 0)
			n += r;
		else if (r == 0)
			break;
		else
			hh_poll_ms(gs, ng, 1);
	}
	return n;
}

static int
host_read(struct emu_guest **gs, int ng, int fd, char *buf, int len)
{
	double end = harness_now_ms() + 3000;
	int n = 0;

	while (n < len && harness_now_ms() < end) {
		ssize_t r = recv(fd, buf + n, len - n, MSG_DONTWAIT);

		if (r > 0)
			n += r;
		else if (r == 0)
			break;
		else
			hh_poll_ms(gs, ng, 1);
	}
	return n;
}

/* Send @cmd, expect a reply starting with @expect within @max_ms. */
static void
expect_reply(struct hh *x, struct emu_guest **gs, int ng, const char *cmd, const char *expect,
	     double max_ms)
{
	char reply[256], shown[64];
	double t0 = harness_now_ms(), ms;
	int fd = hh_ctl(x, cmd, reply, sizeof(reply), gs, ng, 5000);

	ms = harness_now_ms() - t0;
	snprintf(shown, sizeof(shown), "%.*s", (int)strcspn(cmd, "\n"), cmd);
	CHECK(fd >= 0 && strncmp(reply, expect, strlen(expect)) == 0 && ms < max_ms,
	      "'%s' -> '%s' in %.1f ms", shown, reply, ms);
	if (fd >= 0)
		close(fd);
}

static void
connect_stream(struct hh *x, struct emu_guest **gs)
{
	static const char early[] = "sent with the command";
	struct conn_arg a = { .g = gs[0], .port = 1600 };
	char buf[64], cmd[96];
	int fd, n;

	printf("CONNECT: the control socket carries the stream\n");
	emu_listen(gs[0], 1600, VSOCK_TYPE_STREAM);
	fd = hh_connect(x->ctl, SOCK_STREAM);
	n = snprintf(cmd, sizeof(cmd), "connect 3 1600 stream\n%s", early);
	hh_write_all(fd, cmd, n, gs, 1);
	n = hh_read_line(fd, buf, sizeof(buf), NULL, gs, 1, HH_WAIT_MS);
	CHECK(n > 0 && strncmp(buf, "OK ", 3) == 0 && strtoul(buf + 3, NULL, 10) >= (1u << 30),
	      "answer '%s'", n > 0 ? buf : "");
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	memset(buf, 0, sizeof(buf));
	n = guest_read(gs, 1, gs[0], a.conn, buf, strlen(early));
	CHECK(n == (int)strlen(early) && strcmp(buf, early) == 0, "guest got '%s'", buf);
	emu_send(gs[0], a.conn, "answer", 6);
	n = host_read(gs, 1, fd, buf, 6);
	CHECK(n == 6 && memcmp(buf, "answer", 6) == 0, "host got the guest's answer");
	{
		char list[512] = "", expect[64];
		int cfd = hh_connect(x->ctl, SOCK_STREAM);
		struct emu_conn_info ci;
		ssize_t r;
		double end = harness_now_ms() + 3000;
		size_t got = 0;

		emu_conn_info(gs[0], a.conn, &ci);
		hh_write_all(cfd, "CONNS\n", 6, gs, 1);
		while (harness_now_ms() < end && got < sizeof(list) - 1) {
			r = recv(cfd, list + got, sizeof(list) - 1 - got, MSG_DONTWAIT);
			if (r == 0)
				break;
			if (r > 0)
				got += r;
			else
				hh_poll_ms(gs, 1, 1);
		}
		close(cfd);
		snprintf(expect, sizeof(expect), "CONN 3 1600 %u stream connected ", ci.peer_port);
		CHECK(strstr(list, expect) != NULL && strstr(list, "\nOK 1\n") != NULL,
		      "CONNS lists it: '%.*s'", (int)strcspn(list, "\n"), list);
	}
	close(fd);
	n = guest_read(gs, 1, gs[0], a.conn, buf, 1);
	CHECK(n == 0, "guest reads EOF after the host closed");
	emu_close(gs[0], a.conn);
}

/* Take one ACCEPT from listener @lfd; checks the line against the guest's end. */
static int
take_accept(struct emu_guest **gs, int ng, int lfd, struct emu_guest *g, int conn,
	    uint32_t port, int type)
{
	struct emu_conn_info ci;
	char line[128], expect[128];
	int pfd = -1, n, so_type = 0;
	socklen_t sl = sizeof(so_type);

	n = hh_read_line(lfd, line, sizeof(line), &pfd, gs, ng, HH_WAIT_MS);
	emu_conn_info(g, conn, &ci);
	snprintf(expect, sizeof(expect), "ACCEPT %llu %u %u",
		 (unsigned long long)emu_guest_cid(g), ci.local_port, port);
	CHECK(n > 0 && strcmp(line, expect) == 0 && pfd >= 0, "'%s' with a socket (want '%s')",
	      n > 0 ? line : "", expect);
	if (pfd < 0)
		return -1;
	getsockopt(pfd, SOL_SOCKET, SO_TYPE, &so_type, &sl);
	CHECK(so_type == type, "handed-over socket is %s",
	      type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_SEQPACKET");
	fcntl(pfd, F_SETFL, fcntl(pfd, F_GETFL) | O_NONBLOCK);
	return pfd;
}

static void
listen_accept(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0] }, b = { .g = gs[1] };
	static const int sizes[] = { 10, 70000, 5 };
	char reply[128], *buf = malloc(1 << 17), *msg = malloc(1 << 17);
	int lfd, lfd3, lfdany, pfd, i;
	ssize_t n;

	printf("LISTEN: guest connections handed over with SCM_RIGHTS\n");
	lfd = hh_ctl(x, "LISTEN 7000\n", reply, sizeof(reply), gs, 2, 2000);
	CHECK(lfd >= 0 && strcmp(reply, "OK") == 0, "LISTEN 7000 -> '%s'", reply);

	a.conn = emu_connect(gs[0], 2, 7000, VSOCK_TYPE_STREAM);
	pfd = take_accept(gs, 2, lfd, gs[0], a.conn, 7000, SOCK_STREAM);
	harness_wait(gs, 2, conn_not_connecting, &a, HH_WAIT_MS, "guest connection answered");
	CHECK(emu_conn_state(gs[0], a.conn) == EMU_CONN_CONNECTED, "guest connected");
	if (pfd >= 0) {
		hh_write_all(pfd, "to guest", 8, gs, 2);
		CHECK(guest_read(gs, 2, gs[0], a.conn, buf, 8) == 8 && memcmp(buf, "to guest", 8) == 0,
		      "host -> guest over the handed-over socket");
		emu_send(gs[0], a.conn, "to host", 7);
		CHECK(host_read(gs, 2, pfd, buf, 7) == 7 && memcmp(buf, "to host", 7) == 0,
		      "guest -> host over the handed-over socket");
		close(pfd);
	}
	hh_poll_ms(gs, 2, 20);
	emu_close(gs[0], a.conn);

	/* SEQPACKET through the same listener: a SOCK_SEQPACKET socket, boundaries kept. */
	a.conn = emu_connect(gs[0], 2, 7000, VSOCK_TYPE_SEQPACKET);
	pfd = take_accept(gs, 2, lfd, gs[0], a.conn, 7000, SOCK_SEQPACKET);
	harness_wait(gs, 2, conn_not_connecting, &a, HH_WAIT_MS, "SEQPACKET guest connection answered");
	if (pfd >= 0) {
		for (i = 0; i < 3; i++) {
			memset(msg, 'a' + i, sizes[i]);
			while (emu_send(gs[0], a.conn, msg, sizes[i]) == -EAGAIN)
				hh_poll_ms(gs, 2, 1);
		}
		for (i = 0; i < 3; i++) {
			double end = harness_now_ms() + 3000;

			do {
				n = recv(pfd, buf, 1 << 17, MSG_DONTWAIT);
				if (n < 0)
					hh_poll_ms(gs, 2, 1);
			} while (n < 0 && harness_now_ms() < end);
			CHECK(n == sizes[i] && buf[0] == 'a' + i && buf[n - 1] == 'a' + i,
			      "message %d: %zd bytes (sent %d)", i, n, sizes[i]);
		}
		memset(msg, 'z', 50000);
		hh_write_all(pfd, msg, 50000, gs, 2);
		n = -EAGAIN;
		for (i = 0; i < 3000 && n == -EAGAIN; i++) {
			n = emu_recv(gs[0], a.conn, buf, 1 << 17, NULL);
			if (n == -EAGAIN)
				hh_poll_ms(gs, 2, 1);
		}
		CHECK(n == 50000, "host message of 50000 bytes arrives whole (%zd)", n);
		close(pfd);
	}
	hh_poll_ms(gs, 2, 20);
	emu_close(gs[0], a.conn);

	printf("LISTEN with a CID\n");
	lfd3 = hh_ctl(x, "LISTEN 7001 3\n", reply, sizeof(reply), gs, 2, 2000);
	CHECK(lfd3 >= 0 && strcmp(reply, "OK") == 0, "LISTEN 7001 3 -> '%s'", reply);
	expect_reply(x, gs, 2, "LISTEN 7001 3\n", "ERR EADDRINUSE", 100);
	expect_reply(x, gs, 2, "LISTEN 7001 99\n", "ERR ENODEV", 100);
	b.conn = emu_connect(gs[1], 2, 7001, VSOCK_TYPE_STREAM);
	harness_wait(gs, 2, conn_not_connecting, &b, HH_WAIT_MS, "guest 4 answered");
	CHECK(emu_conn_error(gs[1], b.conn) == -ECONNREFUSED, "guest 4 refused by a CID 3 listener");
	emu_close(gs[1], b.conn);
	lfdany = hh_ctl(x, "LISTEN 7001\n", reply, sizeof(reply), gs, 2, 2000);
	CHECK(lfdany >= 0 && strcmp(reply, "OK") == 0, "LISTEN 7001 (any CID) next to it -> '%s'",
	      reply);
	b.conn = emu_connect(gs[1], 2, 7001, VSOCK_TYPE_STREAM);
	pfd = take_accept(gs, 2, lfdany, gs[1], b.conn, 7001, SOCK_STREAM);
	CHECK(pfd >= 0, "guest 4 goes to the any-CID listener");
	if (pfd >= 0)
		close(pfd);
	a.conn = emu_connect(gs[0], 2, 7001, VSOCK_TYPE_STREAM);
	pfd = take_accept(gs, 2, lfd3, gs[0], a.conn, 7001, SOCK_STREAM);
	CHECK(pfd >= 0, "guest 3 goes to its own listener");
	if (pfd >= 0)
		close(pfd);
	hh_poll_ms(gs, 2, 20);
	emu_close(gs[0], a.conn);
	emu_close(gs[1], b.conn);

	printf("closing the control connection ends the listener\n");
	close(lfd);
	hh_poll_ms(gs, 2, 20);
	a.conn = emu_connect(gs[0], 2, 7000, VSOCK_TYPE_STREAM);
	harness_wait(gs, 2, conn_not_connecting, &a, HH_WAIT_MS, "guest answered");
	CHECK(emu_conn_error(gs[0], a.conn) == -ECONNREFUSED, "port 7000 refused now");
	emu_close(gs[0], a.conn);
	close(lfd3);
	close(lfdany);
	free(buf);
	free(msg);
}

static void
errors(struct hh *x, struct emu_guest **gs, struct emu_guest *g5)
{
	struct emu_stats s;
	uint64_t to0 = hh_stat(x, "connect_timeouts");
	char reply[256];
	double t0, ms;
	int fd;

	printf("errors\n");
	expect_reply(x, gs, 2, "CONNECT 99 5\n", "ERR ENODEV", 100);
	expect_reply(x, gs, 2, "CONNECT 2 5\n", "ERR ENODEV", 100);
	expect_reply(x, gs, 2, "CONNECT 5 1234\n", "ERR EHOSTUNREACH", 100);
	expect_reply(x, gs, 2, "CONNECT 3 9999\n", "ERR ECONNREFUSED", 200);
	expect_reply(x, gs, 2, "CONNECT\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT 3\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT x 5\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT 3 -5\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT 3 4294967295\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT 3 5 dgram\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "CONNECT 3 5 stream extra\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "LISTEN\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "LISTEN port\n", "ERR EINVAL", 100);
	expect_reply(x, gs, 2, "\n", "ERR EINVAL", 100);

	/* Guest 4 is not polled: the REQUEST sits in its rx ring, unanswered. */
	t0 = harness_now_ms();
	fd = hh_ctl(x, "CONNECT 4 1700\n", reply, sizeof(reply), gs, 1, 5000);
	ms = harness_now_ms() - t0;
	CHECK(fd >= 0 && strncmp(reply, "ERR ETIMEDOUT", 13) == 0 && ms >= TIMEOUT_MS * 0.9 &&
	      ms < TIMEOUT_MS * 3, "silent guest: '%s' after %.0f ms (timeout %d)", reply, ms,
	      TIMEOUT_MS);
	if (fd >= 0)
		close(fd);
	CHECK(hh_stat(x, "connect_timeouts") == to0 + 1, "connect timeout counted");
	hh_poll_ms(gs, 2, 50);

	/* EHOSTUNREACH queued nothing: a guest starting later sees no packet at all. */
	CHECK(emu_guest_start(g5) == 0, "guest 5 starts its rings now");
	hh_poll_ms(&g5, 1, 200);
	emu_guest_stats(g5, &s);
	CHECK(s.rx_pkts[VSOCK_OP_REQUEST] == 0 && s.rx_pkts[VSOCK_OP_RST] == 0,
	      "guest 5 received nothing from the refused connect (%llu REQUEST)",
	      (unsigned long long)s.rx_pkts[VSOCK_OP_REQUEST]);
}

int
main(int argc, char **argv)
{
	static const char *const extra[] = { "--connect-timeout", "500", NULL };
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5 };
	struct emu_guest_opts o5;
	struct emu_guest *gs[2], *g5;
	struct hh x;

	hh_start(&x, sw, cids, 3, extra);
	gs[0] = hh_guest(&x, 3, NULL);
	gs[1] = hh_guest(&x, 4, NULL);
	harness_guest_opts(&x.h, 5, &o5);
	o5.start_rings = false;
	g5 = hh_guest(&x, 5, &o5);

	connect_stream(&x, gs);
	listen_accept(&x, gs);
	errors(&x, gs, g5);

	hh_poll_ms(gs, 2, 100);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(g5);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
