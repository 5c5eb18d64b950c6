/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_many: many connections at once, both kinds, data both ways on each.
 *  - 48 host-initiated hybrid connections, all CONNECT lines written before any
 *    answer is read;
 *  - 48 guest-initiated connections to <uds>_1901, whose listener has a backlog
 *    of 16 and is not accepting while the guest connects: the switch's connect()
 *    meets a full backlog and retries until the program accepts;
 *  - 128 KiB each way on every connection at the same time, all checked;
 *  - everything closed: the switch holds no connection and no buffer after.
 * Also the latency of a one-byte ping-pong (busy, and after idling) and the CPU
 * time the host endpoint's thread takes while idle.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_many";

#define NCONN 48
#define BYTES (128u * 1024)

struct acc_arg {
	struct emu_guest *g;
	int port;
	int *conns;
	int n;
	int want;
};

static int
accept_all(void *p)
{
	struct acc_arg *a = p;
	int c;

	while (a->n < a->want && (c = emu_accept(a->g, a->port)) >= 0)
		a->conns[a->n++] = c;
	return a->n == a->want;
}

struct conn_arg {
	struct emu_guest *g;
	int *conns;
	int n;
};

static int
all_connected(void *p)
{
	struct conn_arg *a = p;
	int i;

	for (i = 0; i < a->n; i++)
		if (emu_conn_state(a->g, a->conns[i]) == EMU_CONN_CONNECTING)
			return 0;
	return 1;
}

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

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median round trip of one byte host -> guest -> host, @gap_ms between pings. */
static double
ping_pong(int fd, struct emu_guest **gs, int conn, int n, int gap_ms)
{
	double rtt[64], t0, end;
	char c = 'p';
	int i;

	for (i = 0; i < n; i++) {
		if (gap_ms > 0)
			hh_poll_ms(gs, 1, gap_ms);
		t0 = harness_now_ms();
		end = t0 + 2000;
		send(fd, &c, 1, MSG_DONTWAIT);
		/* Waiting sleeps a little when idle, as a guest on its own CPU would not
		 * compete with the switch's threads. */
		while (emu_recv(gs[0], conn, &c, 1, NULL) != 1 && harness_now_ms() < end)
			hh_poll_us(gs, 1, 0);
		emu_send(gs[0], conn, &c, 1);
		while (recv(fd, &c, 1, MSG_DONTWAIT) != 1 && harness_now_ms() < end)
			hh_poll_us(gs, 1, 0);
		rtt[i] = harness_now_ms() - t0;
	}
	qsort(rtt, n, sizeof(rtt[0]), cmp_double);
	return rtt[n / 2];
}

static void
latency_and_idle(struct hh *x, struct emu_guest **gs)
{
	struct acc_arg a = { .g = gs[0], .port = 1950, .want = 1 };
	int conn = -1, fd;
	double busy, idle;
	uint64_t t0, t1;
	long hz = sysconf(_SC_CLK_TCK);

	printf("latency and idle cost\n");
	a.conns = &conn;
	emu_listen(gs[0], 1950, VSOCK_TYPE_STREAM);
	fd = hh_hybrid_connect(x, 3, 1950, SOCK_STREAM, NULL, gs, 1);
	harness_wait(gs, 1, accept_all, &a, HH_WAIT_MS, "guest accepts");
	if (fd < 0)
		return;
	busy = ping_pong(fd, gs, conn, 51, 0);
	idle = ping_pong(fd, gs, conn, 21, 20);
	printf("  one-byte round trip host->guest->host: %.3f ms back to back, %.3f ms after "
	       "20 ms idle\n", busy, idle);
	CHECK(idle < 10.0, "an idle host endpoint answers within a few ms (%.3f ms)", idle);
	close(fd);
	hh_poll_ms(gs, 1, 20);
	emu_close(gs[0], conn);
	hh_poll_ms(gs, 1, 50);

	/* Idle: nothing moves for a second. */
	t0 = main_thread_ticks(x->h.pid);
	hh_poll_ms(gs, 1, 1000);
	t1 = main_thread_ticks(x->h.pid);
	printf("  host endpoint thread idle: %.1f%% of a CPU\n", 100.0 * (t1 - t0) / hz);
	CHECK((t1 - t0) * 100 < (uint64_t)hz * 20, "idle host endpoint sleeps (%.1f%% CPU)",
	      100.0 * (t1 - t0) / hz);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	static struct hh_flow flows[4 * NCONN];
	struct hh_flow *fs[4 * NCONN];
	int hfd[NCONN], gfd[NCONN], hconn[NCONN], gconn[NCONN], order[NCONN];
	struct acc_arg acc = { .port = 1900, .want = NCONN };
	struct conn_arg ca = { .n = NCONN };
	uint64_t cids[] = { 3 };
	struct emu_guest *gs[1];
	char path[400], line[64];
	int i, n, lfd, ok, nf = 0, ret;
	struct hh x;
	double t0;

	hh_start(&x, sw, cids, 1, NULL);
	gs[0] = hh_guest(&x, 3, NULL);

	printf("%d host-initiated connections\n", NCONN);
	emu_listen(gs[0], 1900, VSOCK_TYPE_STREAM);
	for (i = 0; i < NCONN; i++) {
		hfd[i] = hh_connect(hh_uds(&x, 3), SOCK_STREAM);
		n = snprintf(line, sizeof(line), "CONNECT 1900\n");
		hh_write_all(hfd[i], line, n, gs, 1);
	}
	for (i = 0, ok = 0; i < NCONN; i++) {
		n = hh_read_line(hfd[i], line, sizeof(line), NULL, gs, 1, HH_WAIT_MS);
		ok += n > 0 && strncmp(line, "OK ", 3) == 0;
	}
	CHECK(ok == NCONN, "%d of %d answered OK", ok, NCONN);
	acc.g = gs[0];
	acc.conns = hconn;
	harness_wait(gs, 1, accept_all, &acc, 3000, "guest accepted them all");

	printf("%d guest-initiated connections, listener backlog 16, not accepting yet\n", NCONN);
	snprintf(path, sizeof(path), "%s_1901", hh_uds(&x, 3));
	lfd = hh_listen(path, SOCK_STREAM);
	for (i = 0; i < NCONN; i++)
		gconn[i] = emu_connect(gs[0], 2, 1901, VSOCK_TYPE_STREAM);
	hh_poll_ms(gs, 1, 100);
	for (i = 0, ok = 0; i < NCONN; i++) {
		gfd[i] = hh_accept(lfd, gs, 1, 3000);
		ok += gfd[i] >= 0;
	}
	CHECK(ok == NCONN, "program accepted %d of %d", ok, NCONN);
	ca.g = gs[0];
	ca.conns = gconn;
	harness_wait(gs, 1, all_connected, &ca, 3000, "guest's connects all answered");
	for (i = 0, ok = 0; i < NCONN; i++)
		ok += emu_conn_state(gs[0], gconn[i]) == EMU_CONN_CONNECTED;
	CHECK(ok == NCONN, "%d of %d guest connections established", ok, NCONN);
	/* Accepts come in any order: each guest connection says which it is. */
	for (i = 0; i < NCONN; i++) {
		uint32_t id = i;

		emu_send(gs[0], gconn[i], &id, sizeof(id));
	}
	for (i = 0, ok = 0; i < NCONN; i++) {
		uint32_t id = UINT32_MAX;
		double end = harness_now_ms() + 3000;

		while (recv(gfd[i], &id, sizeof(id), MSG_DONTWAIT) != sizeof(id) &&
		       harness_now_ms() < end)
			hh_poll_ms(gs, 1, 1);
		if (id < NCONN) {
			order[id] = gfd[i];
			ok++;
		}
	}
	CHECK(ok == NCONN, "every accepted socket names its guest connection");
	memcpy(gfd, order, sizeof(gfd));

	printf("%u KiB each way on all %d connections at once\n", BYTES >> 10, 2 * NCONN);
	for (i = 0; i < NCONN; i++) {
		hh_flow_init(&flows[nf], "h2g", HH_H2G, hfd[i], gs[0], hconn[i], 1000 + i, BYTES);
		nf++;
		hh_flow_init(&flows[nf], "g2h", HH_G2H, hfd[i], gs[0], hconn[i], 2000 + i, BYTES);
		nf++;
		hh_flow_init(&flows[nf], "g2h'", HH_G2H, gfd[i], gs[0], gconn[i], 3000 + i, BYTES);
		nf++;
		hh_flow_init(&flows[nf], "h2g'", HH_H2G, gfd[i], gs[0], gconn[i], 4000 + i, BYTES);
		nf++;
	}
	for (i = 0; i < nf; i++)
		fs[i] = &flows[i];
	t0 = harness_now_ms();
	ret = hh_flows_run(fs, nf, gs, 1, HH_STALL_MS);
	CHECK(ret == 0, "all flows complete in %.0f ms (%s)", harness_now_ms() - t0,
	      ret ? strerror(-ret) : "ok");
	for (i = 0, ok = 0; i < nf; i++) {
		ok += flows[i].error == 0 && flows[i].rcvd == BYTES && flows[i].eof_seen &&
		      harness_sum_final(&flows[i].tx_sum) == harness_sum_final(&flows[i].rx_sum);
		hh_flow_fini(&flows[i]);
	}
	CHECK(ok == nf, "%d of %d flows intact with EOF", ok, nf);

	for (i = 0; i < NCONN; i++) {
		close(hfd[i]);
		close(gfd[i]);
		emu_close(gs[0], hconn[i]);
		emu_close(gs[0], gconn[i]);
	}
	close(lfd);
	unlink(path);
	hh_poll_ms(gs, 1, 200);
	CHECK(hh_stat(&x, "conns_open") == 0 && hh_stat(&x, "buffered") == 0,
	      "all closed: %llu connections, %llu bytes left in the switch",
	      (unsigned long long)hh_stat(&x, "conns_open"),
	      (unsigned long long)hh_stat(&x, "buffered"));

	latency_and_idle(&x, gs);

	harness_check_clean(gs[0], "guest 3");
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
