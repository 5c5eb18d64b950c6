/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_limits: host programs that take what the host endpoint has.
 *  1. Out of file descriptors. The switch's RLIMIT_NOFILE is lowered to 64 above
 *     what it has open (prlimit); a client opens 600 sockets to the control socket and never writes. The switch
 *     accepts until EMFILE, then closes each further socket at once (a spare
 *     fd) instead of spinning on its level-triggered listener: its main thread
 *     stays mostly idle, a host connection opened before keeps moving checked
 *     data, the extra sockets see EOF, and once the client is gone (and the
 *     others timed out) the control socket answers again.
 *  2. A LISTEN-er that never reads its control connection. Guests connect to
 *     its port 2000 times: once the control connection's buffer is full the
 *     switch refuses them (RST), the ones handed over stay bounded, the guest's
 *     other host connection keeps working, and closing the LISTEN-er's control
 *     connection resets every one it had not accepted.
 * Case 1 is skipped (a message, no failure) where prlimit() is not allowed.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_limits";

#define NFLOOD 600
#define NLISTEN_CONNS 2000

/* CPU time (user + system) of the switch's main thread, in clock ticks. */
static uint64_t
main_thread_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	fclose(f);
	return ut + st;
}

/* Open file descriptors of process @pid. */
static int
fd_count(int pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

struct acc_arg {
	struct emu_guest *g;
	uint32_t port;
	int conn;
};

static int
accepted(void *p)
{
	struct acc_arg *a = p;

	a->conn = emu_accept(a->g, a->port);
	return a->conn >= 0;
}

/* A host -> guest connection through the hybrid socket, with a checked flow. */
static int
hybrid_pair(struct hh *x, struct emu_guest **gs, uint32_t port, int *conn)
{
	struct acc_arg a = { .g = gs[0], .port = port, .conn = -1 };
	int fd;

	emu_listen(gs[0], port, VSOCK_TYPE_STREAM);
	fd = hh_hybrid_connect(x, 3, port, SOCK_STREAM, NULL, gs, 1);
	harness_wait(gs, 1, accepted, &a, HH_WAIT_MS, "guest accepts the host connection");
	*conn = a.conn;
	return fd;
}

static void
run_flow(int fd, struct emu_guest **gs, int conn, uint64_t seed, const char *what)
{
	struct hh_flow f, *fs[1] = { &f };
	int ret;

	hh_flow_init(&f, what, HH_H2G, fd, gs[0], conn, seed, 4 << 20);
	ret = hh_flows_run(fs, 1, gs, 1, HH_STALL_MS);
	CHECK(ret == 0 && f.rcvd == (4u << 20) &&
	      harness_sum_final(&f.tx_sum) == harness_sum_final(&f.rx_sum),
	      "%s: 4 MiB host -> guest intact (%llu bytes, %s)", what,
	      (unsigned long long)f.rcvd, ret ? strerror(-ret) : "ok");
	hh_flow_fini(&f);
}

static void
out_of_fds(const char *sw)
{
	static const char *const extra[] = { "--connect-timeout", "1000", NULL };
	struct rlimit low;
	uint64_t cids[] = { 3 };
	static int fds[NFLOOD];
	struct emu_guest *gs[1];
	int i, fd, conn, eof = 0, opened = 0;
	uint64_t t0, t1;
	long hz = sysconf(_SC_CLK_TCK);
	char reply[256];
	struct hh x;

	printf("1. out of file descriptors: %d sockets to the control socket of a switch "
	       "with 64 file descriptors to spare\n", NFLOOD);
	hh_start(&x, sw, cids, 1, extra);
	gs[0] = hh_guest(&x, 3, NULL);
	fd = hybrid_pair(&x, gs, 1234, &conn);
	CHECK(fd >= 0 && conn >= 0, "a host connection before the flood");
	/* Lower the switch's own limit (allowed for a process of ours). */
	low.rlim_cur = low.rlim_max = (rlim_t)fd_count(x.h.pid) + 64;
	if (prlimit(x.h.pid, RLIMIT_NOFILE, &low, NULL) != 0) {
		printf("  SKIP: cannot lower the switch's RLIMIT_NOFILE: %s\n", strerror(errno));
		emu_guest_destroy(gs[0]);
		harness_stop(&x.h);
		return;
	}
	printf("  (switch: %d fds open, RLIMIT_NOFILE %llu)\n", fd_count(x.h.pid),
	       (unsigned long long)low.rlim_cur);

	for (i = 0; i < NFLOOD; i++) {
		fds[i] = hh_connect(x.ctl, SOCK_STREAM);
		opened += fds[i] >= 0;
		if (i % 32 == 0)
			hh_poll_ms(gs, 1, 1);
	}
	printf("  (%d of %d sockets connected; switch has %d fds)\n", opened, NFLOOD,
	       fd_count(x.h.pid));
	CHECK(opened > 300, "the flood got past the switch's limit (%d sockets)", opened);
	hh_poll_ms(gs, 1, 200);
	t0 = main_thread_ticks(x.h.pid);
	hh_poll_ms(gs, 1, 1000);
	t1 = main_thread_ticks(x.h.pid);
	printf("  host endpoint thread while out of fds: %.1f%% of a CPU\n",
	       100.0 * (double)(t1 - t0) / (double)hz);
	CHECK((t1 - t0) * 100 < (uint64_t)hz * 50, "it does not spin on its listener "
	      "(%.1f%% CPU)", 100.0 * (double)(t1 - t0) / (double)hz);
	if (fd >= 0 && conn >= 0)
		run_flow(fd, gs, conn, 7, "meanwhile, the connection opened before");
	for (i = 0; i < NFLOOD; i++) {
		ssize_t n;
		char c;

		if (fds[i] < 0)
			continue;
		n = recv(fds[i], &c, 1, MSG_DONTWAIT);
		eof += n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
	}
	CHECK(eof > 0, "sockets over the limit were closed at once, not left hanging (%d)",
	      eof);
	for (i = 0; i < NFLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Accepted ones go when their connect timeout (1 s) passes or at once (EOF). */
	hh_poll_ms(gs, 1, 1500);
	fd_count(x.h.pid);
	CHECK(hh_stat(&x, "accept_refused") > 0, "counted as accept_refused (%llu)",
	      (unsigned long long)hh_stat(&x, "accept_refused"));
	i = hh_ctl(&x, "LISTEN 4000\n", reply, sizeof(reply), gs, 1, HH_WAIT_MS);
	CHECK(i >= 0 && strcmp(reply, "OK") == 0, "afterwards the control socket answers "
	      "('%s')", reply);
	if (i >= 0)
		close(i);
	if (fd >= 0) {
		close(fd);
		hh_poll_ms(gs, 1, 50);
	}
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
}

static void
listener_never_reads(const char *sw)
{
	static const char *const extra[] = { "--connect-timeout", "1000", NULL };
	uint64_t cids[] = { 3 };
	static int conns[NLISTEN_CONNS];
	struct emu_guest *gs[1];
	int i, t, lfd, fd, conn, nconn = 0, nref = 0, fds0, fds1, left = 0;
	char reply[64];
	struct hh x;

	printf("2. a LISTEN-er that never reads: %d guest connections to its port\n",
	       NLISTEN_CONNS);
	hh_start(&x, sw, cids, 1, extra);
	gs[0] = hh_guest(&x, 3, NULL);
	fds0 = fd_count(x.h.pid);
	lfd = hh_ctl(&x, "LISTEN 5000\n", reply, sizeof(reply), gs, 1, HH_WAIT_MS);
	CHECK(lfd >= 0 && strcmp(reply, "OK") == 0, "LISTEN 5000 ('%s')", reply);
	for (i = 0; i < NLISTEN_CONNS; i++) {
		conns[i] = emu_connect(gs[0], 2, 5000, VSOCK_TYPE_STREAM);
		while (conns[i] == -EAGAIN) {
			hh_poll_ms(gs, 1, 1);
			conns[i] = emu_connect(gs[0], 2, 5000, VSOCK_TYPE_STREAM);
		}
		if (i % 16 == 15)
			hh_poll_ms(gs, 1, 1);
	}
	/* Every connection is answered, one way or the other. */
	for (t = 0; t < 1000; t++) {
		nconn = nref = 0;
		for (i = 0; i < NLISTEN_CONNS; i++) {
			int st = emu_conn_state(gs[0], conns[i]);

			nconn += st == EMU_CONN_CONNECTED;
			nref += st == EMU_CONN_CLOSED;
		}
		if (nconn + nref == NLISTEN_CONNS)
			break;
		hh_poll_ms(gs, 1, 20);
	}
	fds1 = fd_count(x.h.pid);
	printf("  (%d connected, waiting in the LISTEN-er's queue; %d refused; switch fds "
	       "%d -> %d)\n", nconn, nref, fds0, fds1);
	CHECK(nref > 0 && nconn + nref == NLISTEN_CONNS, "once the queue is full the guest is "
	      "refused: every connection answered (%d + %d)", nconn, nref);
	CHECK(fds1 - fds0 < NLISTEN_CONNS / 2, "the switch holds a bounded number of sockets "
	      "for it (%d more fds)", fds1 - fds0);
	fd = hybrid_pair(&x, gs, 1234, &conn);
	if (fd >= 0 && conn >= 0) {
		run_flow(fd, gs, conn, 9, "meanwhile, another host connection of the guest");
		close(fd);
	} else {
		CHECK(0, "another host connection of the guest");
	}
	if (lfd >= 0)
		close(lfd);
	hh_poll_ms(gs, 1, 500);
	for (i = 0; i < NLISTEN_CONNS; i++)
		left += emu_conn_state(gs[0], conns[i]) == EMU_CONN_CONNECTED;
	CHECK(left == 0, "closing the LISTEN-er resets what it never accepted (%d left)", left);
	for (i = 0; i < NLISTEN_CONNS; i++)
		emu_close(gs[0], conns[i]);
	hh_poll_ms(gs, 1, 200);
	CHECK(hh_stat(&x, "conns_open") == 0, "no host connection left open (%llu)",
	      (unsigned long long)hh_stat(&x, "conns_open"));
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	const char *only = getenv("VS_HOST_CASE");

	if (only == NULL || strchr(only, '1') != NULL)
		out_of_fds(sw);
	if (only == NULL || strchr(only, '2') != NULL)
		listener_never_reads(sw);
	return harness_finish(test_name);
}
