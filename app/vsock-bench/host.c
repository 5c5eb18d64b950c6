/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Host path: a host program (played by the bench) talks to guest 3 through the
 * guest's hybrid Unix socket: "CONNECT <port>\n", "OK <host port>\n", then the
 * stream. The switch's host endpoint runs on its main lcore, which on a 2-CPU
 * machine shares CPU 0 with the bench: the bench yields the CPU whenever a
 * round of its loop moved nothing.
 */

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define HOST_WRITE 65536u
#define HOST_RXBUF (256u * 1024)

static uint8_t hbuf[HOST_RXBUF];

/* "CONNECT <port>\n" on the hybrid socket; polls guest @g until "OK ...\n". */
static int
hybrid_connect(const char *uds, uint32_t port, struct emu_guest *g)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	double deadline = bench_now_ns() + 5e9;
	char line[64], *nl = NULL;
	int fd, len;
	ssize_t n = 0;

	if (strlen(uds) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, uds, strlen(uds) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -errno;
	}
	len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, (size_t)len, MSG_NOSIGNAL) != len) {
		close(fd);
		return -EIO;
	}
	while (bench_now_ns() < deadline) {
		n = recv(fd, line, sizeof(line) - 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0 && (nl = memchr(line, '\n', (size_t)n)) != NULL)
			break;
		if (emu_guest_poll(g) < 0)
			break;
		sched_yield();
	}
	if (nl == NULL || strncmp(line, "OK ", 3) != 0) {
		if (n > 0)
			line[n] = '\0';
		fprintf(stderr, "vsock-bench: host CONNECT %u: %s\n", port,
			n > 0 ? line : n == 0 ? "closed" : "timeout");
		close(fd);
		return -ECONNREFUSED;
	}
	len = (int)(nl - line) + 1;
	if (recv(fd, line, (size_t)len, 0) != len) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int
host_dir(struct bench_results *r, int run, bool h2g)
{
	struct bench_pair_ctx *pc = &bench_pc;
	struct emu_guest *g = pc->g[0];
	const char *name = h2g ? "host_h2g_64k" : "host_g2h_64k";
	double t_warm, t_end, now, bytes = 0, b0 = 0;
	struct bench_lcores l0 = { 0 }, l1 = { 0 };
	struct bench_metric *m;
	uint32_t port = pc->next_port++;
	int fd, c = -1, ret = 0, spins;
	bool warm = false, moved;
	ssize_t n;

	m = bench_metric(r, name, "MB/s", "host",
			 h2g ? "host->guest via hybrid UDS, 64k writes" :
			 "guest->host via hybrid UDS, 64k writes");
	m->size = HOST_WRITE;
	m->guests = 1;
	snprintf(m->base, sizeof(m->base), "socketpair_64k");
	m->target_kind = BENCH_TARGET_RATIO_MIN;
	m->target = 0.8;
	if (!pc->sw.host_ok)
		return 0;
	if (emu_listen(g, port, VSOCK_TYPE_STREAM) < 0)
		return -1;
	fd = hybrid_connect(pc->sw.uds, port, g);
	if (fd < 0)
		return -1;
	for (spins = 0; c < 0 && spins < 1000000; spins++) {
		emu_guest_poll(g);
		c = emu_accept(g, port);
	}
	if (c < 0) {
		close(fd);
		return -1;
	}
	memset(hbuf, 0x3c, sizeof(hbuf));
	t_warm = bench_now_ns() + bopt.duration * 1e8;
	t_end = t_warm + bopt.duration * 1e9;
	for (;;) {
		moved = false;
		if (h2g) {
			n = send(fd, hbuf, HOST_WRITE, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN) {
				ret = -errno;
				break;
			}
			moved |= n > 0;
			if (emu_guest_poll(g) < 0) {
				ret = -ENOTCONN;
				break;
			}
			while ((n = emu_recv(g, c, hbuf, sizeof(hbuf), NULL)) > 0) {
				bytes += (double)n;
				moved = true;
			}
			if (n != -EAGAIN) {
				ret = n ? (int)n : -EPIPE;
				break;
			}
		} else {
			while ((n = emu_send(g, c, hbuf, HOST_WRITE)) > 0)
				moved = true;
			if (n != -EAGAIN) {
				ret = (int)n;
				break;
			}
			if (emu_guest_poll(g) < 0) {
				ret = -ENOTCONN;
				break;
			}
			while ((n = recv(fd, hbuf, sizeof(hbuf), MSG_DONTWAIT)) > 0) {
				bytes += (double)n;
				moved = true;
			}
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				ret = n == 0 ? -EPIPE : -errno;
				break;
			}
		}
		/* the host endpoint shares this CPU: let it run when we wait for it */
		if (!moved)
			sched_yield();
		now = bench_now_ns();
		if (!warm && now >= t_warm) {
			warm = true;
			bench_lcores_get(&pc->sw, &l0);
			b0 = bytes;
			t_warm = bench_now_ns();
		} else if (warm && now >= t_end) {
			break;
		}
	}
	bench_lcores_get(&pc->sw, &l1);
	now = bench_now_ns();
	close(fd);
	emu_close(g, c);
	bench_poll_for(pc->g, 2, 20);
	if (ret < 0) {
		fprintf(stderr, "vsock-bench: host %s: %s\n", h2g ? "h2g" : "g2h", strerror(-ret));
		return -1;
	}
	if (bopt.verbose) {
		static char tel[65536];

		if (bench_tel_query(&pc->sw, "/vsock/host", tel, sizeof(tel)) > 0)
			printf("  /vsock/host: %s\n", tel);
	}
	bench_record(r, run, name, (bytes - b0) / ((now - t_warm) / 1e9) / 1e6,
		     bench_load(&pc->sw, &l0, &l1));
	bench_record_share(r, run, name, bench_share(&l0, &l1));
	return 0;
}

int
bench_host(struct bench_results *r, int run)
{
	if (bench_pair_up() < 0)
		return -1;
	if (!bench_pc.sw.host_ok && run == 0)
		printf("  host path: the switch has no hybrid socket (no host endpoint); "
		       "scenario skipped\n");
	if (host_dir(r, run, true) < 0 || host_dir(r, run, false) < 0)
		return -1;
	return 0;
}
