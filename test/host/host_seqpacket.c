/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_seqpacket: SEQPACKET between host programs and a guest; every message
 * arrives whole and alone, whatever its size (1 byte .. 200000 bytes: a guest
 * message over 64 KiB travels as several RW packets, only the last with EOM,
 * and a host message as several RW packets too).
 *  - hybrid, host-initiated: "CONNECT <port>\n" as the first message on
 *    <uds>_seqpacket (bytes after the newline are the first message);
 *  - hybrid, guest-initiated: the switch connects a SOCK_SEQPACKET socket to
 *    <uds>_<port>; a STREAM listener there refuses a SEQPACKET guest;
 *  - control socket: "CONNECT <cid> <port> seqpacket" hands over a SEQPACKET socket.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_seqpacket";

static const int sizes[] = { 1, 100, 4096, 4097, 65536, 65537, 200000, 3 };
#define NSIZES ((int)(sizeof(sizes) / sizeof(sizes[0])))
#define MSG_BUF (256 * 1024)

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

static void
fill(uint8_t *buf, int len, int seed)
{
	harness_pattern(seed, 0, buf, len);
}

/* Host sends every size, guest checks each message. */
static void
host_to_guest(struct emu_guest **gs, int fd, int conn, const char *what)
{
	uint8_t *buf = malloc(MSG_BUF), *exp = malloc(MSG_BUF);
	int i, good = 0;
	ssize_t n;

	for (i = 0; i < NSIZES; i++) {
		double end = harness_now_ms() + 5000;

		fill(buf, sizes[i], 100 + i);
		do {
			n = send(fd, buf, sizes[i], MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				hh_poll_ms(gs, 1, 1);
		} while (n < 0 && errno == EAGAIN && harness_now_ms() < end);
		if (n != sizes[i]) {
			CHECK(false, "%s: host sends a %d-byte message (%s)", what, sizes[i],
			      strerror(errno));
			break;
		}
		do {
			n = emu_recv(gs[0], conn, buf, MSG_BUF, NULL);
			if (n == -EAGAIN)
				hh_poll_ms(gs, 1, 1);
		} while (n == -EAGAIN && harness_now_ms() < end);
		fill(exp, sizes[i], 100 + i);
		if (n == sizes[i] && memcmp(buf, exp, n) == 0)
			good++;
		else
			printf("  %s: message %d: got %zd bytes, sent %d\n", what, i, n, sizes[i]);
	}
	CHECK(good == NSIZES, "%s: %d of %d host messages arrived whole and alone", what, good,
	      NSIZES);
	free(buf);
	free(exp);
}

/* Guest sends every size (all at once, as credit allows), host checks each. */
static void
guest_to_host(struct hh *x, struct emu_guest **gs, int fd, int conn, const char *what)
{
	uint8_t *buf = malloc(MSG_BUF), *exp = malloc(MSG_BUF);
	int sent = 0, got = 0, good = 0;
	double end = harness_now_ms() + 10000;
	ssize_t n;

	while (got < NSIZES && harness_now_ms() < end) {
		if (sent < NSIZES) {
			fill(buf, sizes[sent], 200 + sent);
			n = emu_send(gs[0], conn, buf, sizes[sent]);
			if (n == sizes[sent])
				sent++;
			else if (n != -EAGAIN) {
				CHECK(false, "%s: guest send %d: %s", what, sent, strerror(-n));
				break;
			}
		}
		n = recv(fd, exp, MSG_BUF, MSG_DONTWAIT);
		if (n >= 0) {
			fill(buf, sizes[got], 200 + got);
			if (n == sizes[got] && memcmp(buf, exp, n) == 0)
				good++;
			else
				printf("  %s: message %d: got %zd bytes, sent %d\n", what, got, n,
				       sizes[got]);
			got++;
			continue;
		}
		hh_poll_ms(gs, 1, 0);
	}
	if (got < NSIZES) {
		struct emu_conn_info ci;

		emu_conn_info(gs[0], conn, &ci);
		printf("  %s: %d sent, %d received; guest credit %u (peer buf_alloc %u fwd_cnt %u, "
		       "tx_cnt %u)\n", what, sent, got, ci.credit, ci.peer_buf_alloc,
		       ci.peer_fwd_cnt, ci.tx_cnt);
		{
			struct emu_stats st;

			emu_guest_stats(gs[0], &st);
			printf("  guest sent %llu CREDIT_REQUEST, got %llu CREDIT_UPDATE\n",
			       (unsigned long long)st.tx_pkts[VSOCK_OP_CREDIT_REQUEST],
			       (unsigned long long)st.rx_pkts[VSOCK_OP_CREDIT_UPDATE]);
			printf("  switch: %llu credit requests, %llu updates\n",
			       (unsigned long long)hh_stat(x, "credit_requests"),
			       (unsigned long long)hh_stat(x, "credit_updates"));
		}
	}
	CHECK(good == NSIZES, "%s: %d of %d guest messages arrived whole and alone", what, good,
	      NSIZES);
	free(buf);
	free(exp);
}

static void
hybrid_host_initiated(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0], .port = 1400 };
	char path[400], line[64], buf[64];
	int fd, n;

	printf("hybrid SEQPACKET, host-initiated\n");
	CHECK(emu_listen(gs[0], 1400, VSOCK_TYPE_SEQPACKET) == 0, "guest listens (SEQPACKET)");
	snprintf(path, sizeof(path), "%s_seqpacket", hh_uds(x, 3));
	fd = hh_connect(path, SOCK_SEQPACKET);
	CHECK(fd >= 0, "connected to %s", path);
	n = snprintf(line, sizeof(line), "CONNECT 1400\nfirst message");
	CHECK(send(fd, line, n, 0) == n, "CONNECT and a first message in one message");
	n = hh_read_line(fd, buf, sizeof(buf), NULL, gs, 1, HH_WAIT_MS);
	CHECK(n > 0 && strncmp(buf, "OK ", 3) == 0, "answer '%s'", n > 0 ? buf : "");
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	n = -EAGAIN;
	for (int i = 0; i < 2000 && n == -EAGAIN; i++) {
		n = emu_recv(gs[0], a.conn, buf, sizeof(buf), NULL);
		if (n == -EAGAIN)
			hh_poll_ms(gs, 1, 1);
	}
	CHECK(n == 13 && memcmp(buf, "first message", 13) == 0, "guest got 'first message' (%d)",
	      n);
	host_to_guest(gs, fd, a.conn, "hybrid host->guest");
	guest_to_host(x, gs, fd, a.conn, "hybrid guest->host");
	close(fd);
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], a.conn);
}

static void
hybrid_guest_initiated(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0] };
	char path[400];
	int lfd, fd;

	printf("hybrid SEQPACKET, guest-initiated\n");
	snprintf(path, sizeof(path), "%s_1500", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_SEQPACKET);
	a.conn = emu_connect(gs[0], 2, 1500, VSOCK_TYPE_SEQPACKET);
	fd = hh_accept(lfd, gs, 1, HH_WAIT_MS);
	CHECK(fd >= 0, "switch connected to %s", path);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest answered");
	CHECK(emu_conn_state(gs[0], a.conn) == EMU_CONN_CONNECTED, "guest connected");
	if (fd >= 0) {
		guest_to_host(x, gs, fd, a.conn, "dialled guest->host");
		host_to_guest(gs, fd, a.conn, "dialled host->guest");
		close(fd);
	}
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], a.conn);
	close(lfd);
	unlink(path);

	snprintf(path, sizeof(path), "%s_1501", hh_uds(x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	a.conn = emu_connect(gs[0], 2, 1501, VSOCK_TYPE_SEQPACKET);
	harness_wait(gs, 1, conn_not_connecting, &a, HH_WAIT_MS, "guest answered");
	CHECK(emu_conn_error(gs[0], a.conn) == -ECONNREFUSED,
	      "SEQPACKET guest refused by a STREAM listener");
	emu_close(gs[0], a.conn);
	close(lfd);
	unlink(path);
}

static void
control_seqpacket(struct hh *x, struct emu_guest **gs)
{
	struct conn_arg a = { .g = gs[0], .port = 1402 };
	int fd, pfd = -1, n, type = 0;
	socklen_t sl = sizeof(type);
	char line[64];

	printf("control socket CONNECT ... seqpacket\n");
	emu_listen(gs[0], 1402, VSOCK_TYPE_SEQPACKET);
	fd = hh_connect(x->ctl, SOCK_STREAM);
	hh_write_all(fd, "CONNECT 3 1402 seqpacket\n", 25, gs, 1);
	n = hh_read_line(fd, line, sizeof(line), &pfd, gs, 1, HH_WAIT_MS);
	CHECK(n > 0 && strncmp(line, "OK ", 3) == 0 && pfd >= 0, "'%s' with a socket",
	      n > 0 ? line : "");
	close(fd);
	if (pfd < 0)
		return;
	getsockopt(pfd, SOL_SOCKET, SO_TYPE, &type, &sl);
	CHECK(type == SOCK_SEQPACKET, "the socket is SOCK_SEQPACKET");
	fcntl(pfd, F_SETFL, fcntl(pfd, F_GETFL) | O_NONBLOCK);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts");
	host_to_guest(gs, pfd, a.conn, "control host->guest");
	guest_to_host(x, gs, pfd, a.conn, "control guest->host");
	close(pfd);
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], a.conn);
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

	hybrid_host_initiated(&x, gs);
	hybrid_guest_initiated(&x, gs);
	control_seqpacket(&x, gs);

	hh_poll_ms(gs, 1, 100);
	CHECK(hh_stat(&x, "conns_open") == 0, "no connection left open (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	harness_check_clean(gs[0], "guest 3");
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
