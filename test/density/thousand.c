/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * thousand: one switch process (two workers, --no-huge) with a thousand guests
 * attached at once in client mode, each with a live connection.
 *
 *  - The switch starts first with 1000 client-mode guests from a configuration
 *    file; the frontends (emulated guests, 2 MiB of memory each, Linux's queue
 *    size of 128) appear in stages of 100, 500 and 1000, and librte_vhost's
 *    reconnect thread attaches them.
 *  - At each stage the switch's resident memory and open fds are measured and
 *    printed ("density:" lines; doc/density.rst holds the figures).
 *  - Guest i connects to guest i+1 (a ring over all guests), every connection
 *    carries $VS_DENSITY_BYTES (64 KiB) of a checksummed stream, all verified,
 *    with all connections open at the same time.
 *  - The switch exits cleanly.
 *
 * $VS_DENSITY_GUESTS changes the number of guests (at most 1023).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dens.h"

static const char *test_name = "thousand";

#define DENS_PORT 5000
#define DENS_FIRST_CID 3
#define DENS_MEM (2u << 20)
#define DENS_FDS_PER_FRONTEND 8 /* listener, connection, memfd, 4 eventfds, spare */
#define DENS_ATTACH_MS 30000

/*
 * Resident memory of the switch from /proc/<pid>/smaps: the guests' memory it
 * has touched (mappings of the frontends' memfds, "emu_guest": pages the guests
 * own, counted in VmRSS because they are shared) apart from its own (the EAL's
 * --no-huge memory, heap, stacks, code).
 */
struct dens_mem {
	long own_kib;
	long guest_kib;
};

static int
dens_mem_get(int pid, struct dens_mem *m)
{
	char path[64], line[512];
	bool guest = false;
	FILE *f;
	long kib;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') == line +
		    strcspn(line, " ") && strchr(line, '-') < strchr(line, ' '))
			guest = strstr(line, "emu_guest") != NULL;
		else if (sscanf(line, "Rss: %ld kB", &kib) == 1)
			*(guest ? &m->guest_kib : &m->own_kib) += kib;
	}
	fclose(f);
	return 0;
}

static void
dens_report(const struct harness *h, const char *what, int attached, int conns)
{
	struct dens_mem m;

	dens_mem_get(h->pid, &m);
	printf("density: %-24s guests %4d connections %4d  own RSS %7ld KiB  DPDK heap %6ld "
	       "KiB  guest pages touched %7ld KiB  fds %5d\n", what, attached, conns, m.own_kib,
	       dens_heap_alloc_kib(h), m.guest_kib, dens_nfds(h->pid));
	fflush(stdout);
}

/* Enough fds for n frontends in this process. */
static int
dens_rlimit(int n)
{
	rlim_t need = (rlim_t)n * DENS_FDS_PER_FRONTEND + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		printf("SKIP: %d emulated guests need %llu fds, the hard limit is %llu\n", n,
		       (unsigned long long)need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static int
write_config(const struct harness *h, int n, char *path, size_t len)
{
	FILE *f;
	int i;

	snprintf(path, len, "%s/switch.conf", h->dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "; %d guests in client mode, default settings\n", n);
	for (i = 0; i < n; i++)
		fprintf(f, "\n[guest %d]\ncid = %d\nsocket = %s/g%d.sock\nclient = yes\n",
			DENS_FIRST_CID + i, DENS_FIRST_CID + i, h->dir, DENS_FIRST_CID + i);
	return fclose(f);
}

/* Frontends [from, to) listen; the switch connects; each is accepted. */
static int
attach(const struct harness *h, struct emu_guest **gs, int from, int to)
{
	struct emu_guest_opts o;
	char path[320];
	int i, ret, bad = 0;
	double t0 = harness_now_ms();

	for (i = from; i < to; i++) {
		snprintf(path, sizeof(path), "%s/g%d.sock", h->dir, DENS_FIRST_CID + i);
		dens_server_opts(&o, path);
		o.mem_size = DENS_MEM;
		o.tx_pkt_size = 4096;
		gs[i] = emu_guest_listen(&o);
		if (gs[i] == NULL) {
			printf("  frontend %d cannot listen: %s\n", i, strerror(errno));
			return -1;
		}
	}
	for (i = from; i < to; i++) {
		ret = emu_guest_accept(gs[i], DENS_ATTACH_MS);
		if (ret != 0 || emu_guest_cid(gs[i]) != (uint64_t)(DENS_FIRST_CID + i)) {
			if (bad++ < 5)
				printf("  frontend %d: %s, CID %llu\n", i, strerror(-ret),
				       (unsigned long long)emu_guest_cid(gs[i]));
		}
	}
	CHECK(bad == 0, "guests %d .. %d attached in %.0f ms (%d failed)", DENS_FIRST_CID + from,
	      DENS_FIRST_CID + to - 1, harness_now_ms() - t0, bad);
	/* let the workers see the rings */
	emu_poll_until(gs, to, NULL, NULL, 300);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	int n = (int)harness_env_u64("VS_DENSITY_GUESTS", 1000);
	uint64_t bytes = harness_env_u64("VS_DENSITY_BYTES", 64 << 10);
	static const int stages[] = { 100, 500 };
	struct harness_flow *flows, **fs;
	int *from_conn, *to_conn;
	char conf[320], cfg_arg[340];
	struct emu_guest **gs;
	struct harness h;
	int i, ret, at = 0, good = 0;
	double t0;

	if (n < 2 || n > 1023) {
		printf("VS_DENSITY_GUESTS must be 2 .. 1023\n");
		return 1;
	}
	if (dens_rlimit(n) != 0)
		return 77;
	gs = calloc(n, sizeof(*gs));
	flows = calloc(n, sizeof(*flows));
	fs = calloc(n, sizeof(*fs));
	from_conn = calloc(n, sizeof(*from_conn));
	to_conn = calloc(n, sizeof(*to_conn));
	if (gs == NULL || flows == NULL || fs == NULL || from_conn == NULL || to_conn == NULL)
		return 1;

	dens_prepare(&h);
	if (write_config(&h, n, conf, sizeof(conf)) != 0) {
		printf("FAIL: cannot write %s\n", conf);
		return 1;
	}
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", conf);
	t0 = harness_now_ms();
	/* two workers (lcores 1 and 2) on two CPUs if there are two; the main lcore
	 * sleeps in epoll */
	dens_start(&h, sw, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "0@0,1@0,2@1" : "0@0,1@0,2@0",
		   512, (const char *const[]){ cfg_arg }, 1, 60000);
	printf("switch ready with %d client-mode guests in %.0f ms\n", n, harness_now_ms() - t0);
	CHECK(dens_log_count(&h, "(client mode): no frontend listening yet") == n,
	      "the banner lists %d guests waiting for their frontend", n);
	dens_report(&h, "configured, none", 0, 0);

	for (i = 0; i < (int)(sizeof(stages) / sizeof(stages[0])) && stages[i] < n; i++) {
		if (attach(&h, gs, at, stages[i]) != 0)
			goto out;
		at = stages[i];
		dens_report(&h, "attached, idle", at, 0);
	}
	if (attach(&h, gs, at, n) != 0)
		goto out;
	at = n;
	dens_report(&h, "attached, idle", at, 0);

	printf("a connection from every guest to the next one\n");
	t0 = harness_now_ms();
	for (i = 0; i < n; i++) {
		harness_pair(gs[i], gs[(i + 1) % n], DENS_PORT, VSOCK_TYPE_STREAM, &from_conn[i],
			     &to_conn[(i + 1) % n]);
	}
	printf("  %d connections in %.0f ms\n", n, harness_now_ms() - t0);
	dens_report(&h, "connected, idle", n, n);

	t0 = harness_now_ms();
	for (i = 0; i < n; i++) {
		harness_flow_init(&flows[i], "ring", gs[i], from_conn[i], gs[(i + 1) % n],
				  to_conn[(i + 1) % n], 1000 + i, bytes);
		flows[i].no_shutdown = true; /* the connections stay open */
		fs[i] = &flows[i];
	}
	ret = harness_flows_run(fs, n, gs, n, 30000);
	CHECK(ret == 0, "%d streams of %llu bytes ran (%s) in %.0f ms", n,
	      (unsigned long long)bytes, ret ? strerror(-ret) : "ok", harness_now_ms() - t0);
	for (i = 0; i < n; i++) {
		const struct harness_flow *f = &flows[i];

		if (f->error == 0 && f->rcvd == bytes &&
		    harness_sum_final(&f->tx_sum) == harness_sum_final(&f->rx_sum))
			good++;
		else if (i - good < 5)
			printf("  guest %d -> %d: error %d, %llu of %llu bytes\n", DENS_FIRST_CID + i,
			       DENS_FIRST_CID + (i + 1) % n, f->error,
			       (unsigned long long)f->rcvd, (unsigned long long)bytes);
	}
	CHECK(good == n, "%d of %d connections delivered every byte, checksums equal", good, n);
	for (i = 0; i < n; i++)
		if (emu_conn_state(gs[i], from_conn[i]) != EMU_CONN_CONNECTED)
			break;
	CHECK(i == n, "all %d connections are still established at once", n);
	{
		static char tel[65536];
		uint64_t guests[4] = { 0 }, ends[4] = { 0 }, rounds[4] = { 0 }, r2[4] = { 0 };
		int nw = -1, k, sum_g = 0, sum_e = 0;

		if (dens_tel_query(&h, "/vsock/lcores", tel, sizeof(tel)) > 0) {
			nw = dens_json_u64s(tel, "guests", guests, 4);
			dens_json_u64s(tel, "connection_ends", ends, 4);
			dens_json_u64s(tel, "rounds", rounds, 4);
		}
		for (k = 0; k < nw; k++) {
			sum_g += (int)guests[k];
			sum_e += (int)ends[k];
		}
		CHECK(nw == 2 && sum_g == n && guests[0] + 1 >= guests[1] &&
		      guests[1] + 1 >= guests[0],
		      "telemetry: %d workers, %d guests spread %llu + %llu", nw, sum_g,
		      (unsigned long long)guests[0], (unsigned long long)guests[1]);
		CHECK(sum_e == 2 * n, "telemetry: %d connection ends in the flow tables (%d "
		      "connections, both ends)", sum_e, n);
		/* a rough round time: the workers share two CPUs with this test */
		t0 = harness_now_ms();
		emu_poll_until(gs, n, NULL, NULL, 1000);
		if (nw == 2 && dens_tel_query(&h, "/vsock/lcores", tel, sizeof(tel)) > 0 &&
		    dens_json_u64s(tel, "rounds", r2, 4) == 2)
			printf("density: worker rounds per second with about %d guests each: %.0f, "
			       "%.0f (shared CPUs: not a benchmark)\n", n / 2,
			       (r2[0] - rounds[0]) / ((harness_now_ms() - t0) / 1e3),
			       (r2[1] - rounds[1]) / ((harness_now_ms() - t0) / 1e3));
	}
	dens_report(&h, "connected, after traffic", n, n);
	for (i = 0; i < n; i++)
		harness_flow_fini(&flows[i]);
	{
		int bad = 0;

		for (i = 0; i < n; i++) {
			struct emu_stats s;

			emu_guest_stats(gs[i], &s);
			bad += s.rx_bad || s.used_bad || s.rx_misrouted || s.rx_credit_overflow ||
			       s.ctrl_dropped;
		}
		CHECK(bad == 0, "no guest saw a malformed, misrouted or over-credit packet (%d did)",
		      bad);
	}
out:
	t0 = harness_now_ms();
	for (i = 0; i < n; i++)
		emu_guest_destroy(gs[i]);
	printf("%d frontends quit in %.0f ms\n", at, harness_now_ms() - t0);
	CHECK(harness_alive(&h), "the switch survives %d frontends quitting", at);
	dens_stop(&h);
	dens_cleanup(&h);
	free(gs);
	free(flows);
	free(fs);
	free(from_conn);
	free(to_conn);
	return harness_finish(test_name);
}
