/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "vs_proc.h"

#define HR_SCRATCH (256u * 1024)

/* ---- a switch with options of our own ---- */

static struct harness *started;

static void
hostile_atexit(void)
{
	if (started != NULL)
		vs_proc_kill(&started->pid);
}

void
hostile_start(struct harness *h, const char *sw, const uint64_t *cids, int n,
	      const char *lcores, const char *const *guest_extra, const char *const *extra)
{
	char guest_args[HARNESS_MAX_GUESTS][480];
	static bool atexit_done;
	struct vs_argv a;
	double deadline;
	int i;

	memset(h, 0, sizeof(*h));
	vs_proc_mkdtemp(h->dir, sizeof(h->dir), h->prefix, sizeof(h->prefix), "vs-ht");
	h->nguests = n;
	vs_argv_eal(&a, sw, 256, "--lcores", lcores, h->prefix, "notice");
	vs_argv_add(&a, "--");
	for (i = 0; i < n; i++) {
		h->cid[i] = cids[i];
		snprintf(h->sock[i], sizeof(h->sock[i]), "%s/g%llu.sock", h->dir,
			 (unsigned long long)cids[i]);
		snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s%s%s",
			 (unsigned long long)cids[i], h->sock[i],
			 guest_extra != NULL && guest_extra[i] != NULL ? "," : "",
			 guest_extra != NULL && guest_extra[i] != NULL ? guest_extra[i] : "");
		vs_argv_add(&a, "--guest");
		vs_argv_add(&a, guest_args[i]);
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		vs_argv_add(&a, extra[i]);
	h->pid = vs_proc_spawn(&a, h->dir);
	started = h;
	if (!atexit_done) {
		atexit(hostile_atexit);
		atexit_done = true;
	}
	printf("switch %s pid %d (--lcores %s), %d guests, sockets in %s\n", sw, (int)h->pid,
	       lcores, n, h->dir);
	deadline = harness_now_ms() + 30000;
	for (i = 0; i < n; i++)
		vs_proc_await_socket(&h->pid, h->dir, h->sock[i], deadline);
}

/* ---- raw rings ---- */

void
hr_init(struct hr *r, struct emu_guest *g, int qid)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->vr = &g->vq[qid];
	r->avail_idx = r->vr->avail_idx;
	r->used_seen = __atomic_load_n(&r->vr->used->idx, __ATOMIC_ACQUIRE);
	r->scratch = emu_mem_alloc(&g->mem, 0, HR_SCRATCH, 4096);
	if (r->scratch == NULL) {
		printf("FAIL: no guest memory left for the raw frontend\n");
		exit(1);
	}
	r->scratch_gpa = emu_mem_gpa(&g->mem, r->scratch);
	r->scratch_len = HR_SCRATCH;
}

void
hr_desc(struct hr *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &r->vr->desc[i & (r->vr->num - 1)];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void
hr_post(struct hr *r, uint16_t head)
{
	r->vr->avail->ring[r->avail_idx & (r->vr->num - 1)] = head;
	r->avail_idx++;
	__atomic_store_n(&r->vr->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

void
hr_set_avail_idx(struct hr *r, uint16_t idx)
{
	r->avail_idx = idx;
	__atomic_store_n(&r->vr->avail->idx, idx, __ATOMIC_RELEASE);
}

unsigned int
hr_reap(struct hr *r)
{
	uint16_t idx = __atomic_load_n(&r->vr->used->idx, __ATOMIC_ACQUIRE);
	unsigned int n = 0;

	while (r->used_seen != idx) {
		struct vring_used_elem *e = &r->vr->used->ring[r->used_seen & (r->vr->num - 1)];

		if (e->len != 0)
			r->returned_nonzero++;
		if (e->id >= r->vr->num)
			r->bad_ids++;
		r->used_seen++;
		r->returned++;
		n++;
	}
	return n;
}

void
hr_hdr(struct hr *r, uint32_t off, const struct vsock_hdr *h)
{
	vsock_hdr_encode(h, r->scratch + off);
}

uint64_t
hr_region_gpa(const struct hr *r, int i)
{
	return r->g->mem.r[i].gpa;
}

uint64_t
hr_region_size(const struct hr *r, int i)
{
	return r->g->mem.r[i].size;
}

/* ---- telemetry ---- */

static int
tel_path(const struct harness *h, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0 || xdg == NULL)
		return snprintf(buf, len, "/var/run/dpdk/%s/dpdk_telemetry.v2", h->prefix);
	return snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", xdg, h->prefix);
}

static char reply[65536];

static int
tel_query(const struct harness *h, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	ssize_t n;
	int fd;

	tel_path(h, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    recv(fd, reply, sizeof(reply) - 1, 0) <= 0 || /* the greeting */
	    send(fd, cmd, strlen(cmd), 0) < 0 ||
	    (n = recv(fd, reply, sizeof(reply) - 1, 0)) <= 0) {
		close(fd);
		return -1;
	}
	close(fd);
	reply[n] = '\0';
	return 0;
}

void
tel_print(const struct harness *h, const char *cmd)
{
	if (tel_query(h, cmd) == 0)
		printf("    %s\n", reply);
}

int64_t
tel_u64(const struct harness *h, const char *cmd, const char *key)
{
	char pat[96];
	const char *p;

	if (tel_query(h, cmd) != 0)
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(reply, pat);
	if (p == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* ---- the well-behaved pair ---- */

int pair_stall_ms = 10000;
const struct harness *pair_harness;

void
poll_ms(struct emu_guest **gs, int n, int ms)
{
	emu_poll_until(gs, n, NULL, NULL, ms);
}

void
pair_open(struct pair *p, struct emu_guest *a, struct emu_guest *b, uint32_t port)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->b = b;
	p->seed = port;
	harness_pair(a, b, port, VSOCK_TYPE_STREAM, &p->ca, &p->cb);
}

/* What both ends think when a transfer stalls. */
static void
pair_dump(const struct pair *p)
{
	struct emu_conn_info ia, ib;
	struct emu_stats sa, sb;

	emu_conn_info(p->a, p->ca, &ia);
	emu_conn_info(p->b, p->cb, &ib);
	emu_guest_stats(p->a, &sa);
	emu_guest_stats(p->b, &sb);
	if (pair_harness != NULL) {
		char cmd[40];

		snprintf(cmd, sizeof(cmd), "/vsock/guest,%llu",
			 (unsigned long long)emu_guest_cid(p->a));
		tel_print(pair_harness, cmd);
		snprintf(cmd, sizeof(cmd), "/vsock/guest,%llu",
			 (unsigned long long)emu_guest_cid(p->b));
		tel_print(pair_harness, cmd);
		/* Is the worker running at all? (rounds, twice, 100 ms apart) */
		tel_print(pair_harness, "/vsock/lcores");
		poll_ms((struct emu_guest *[]){ p->a, p->b }, 2, 100);
		tel_print(pair_harness, "/vsock/lcores");
		if (getenv("VS_HOSTILE_GDB") != NULL) {
			char cmd[200];

			snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' "
				 "2>&1 | grep -E '^Thread|^#' | head -60", (int)pair_harness->pid);
			if (system(cmd) != 0)
				printf("    (gdb failed)\n");
		}
		emu_conn_info(p->a, p->ca, &ia);
		printf("    sender after 100 ms more: tx_cnt %u peer_fwd_cnt %u tx free %u\n",
		       ia.tx_cnt, ia.peer_fwd_cnt, emu_tx_free_descs(p->a));
	}
	printf("    sender: state %d tx_cnt %u credit %u peer_buf_alloc %u peer_fwd_cnt %u; "
	       "tx_ring_full %llu ctrl_len %u tx free %u\n", emu_conn_state(p->a, p->ca),
	       ia.tx_cnt, ia.credit, ia.peer_buf_alloc, ia.peer_fwd_cnt,
	       (unsigned long long)sa.tx_ring_full, p->a->ctrl_len, emu_tx_free_descs(p->a));
	printf("    receiver: state %d fwd_cnt %u rx_queued %u buf_alloc %u; rx credit "
	       "updates sent %llu, ctrl_len %u, rx bufs used %llu\n", emu_conn_state(p->b, p->cb),
	       ib.fwd_cnt, ib.rx_queued, ib.buf_alloc,
	       (unsigned long long)sb.tx_pkts[VSOCK_OP_CREDIT_UPDATE], p->b->ctrl_len,
	       (unsigned long long)sb.rx_bufs_used);
}

double
pair_run(struct pair *p, const char *what, uint64_t bytes, void (*step)(void *arg), void *arg,
	 struct emu_guest **extra, int nextra)
{
	struct timespec idle = { .tv_nsec = 20000 };
	struct harness_flow f;
	double t0 = harness_now_ms(), last = t0, ms;
	unsigned long idle_rounds = 0;
	int64_t moved;
	int i, work;

	harness_flow_init(&f, what, p->a, p->ca, p->b, p->cb, ++p->seed, bytes);
	f.no_shutdown = true;
	while (!harness_flow_done(&f)) {
		moved = harness_flow_step(&f);
		if (moved < 0)
			break;
		work = emu_guest_poll(p->a) + emu_guest_poll(p->b);
		for (i = 0; i < nextra; i++)
			if (extra[i] != NULL)
				emu_guest_poll(extra[i]);
		if (step != NULL)
			step(arg);
		/* A stall is time without progress while we kept polling: a test process
		 * descheduled for seconds on a busy machine has not seen one. */
		if (moved > 0) {
			last = harness_now_ms();
			idle_rounds = 0;
		} else if (++idle_rounds > 5000 && harness_now_ms() - last > pair_stall_ms) {
			printf("  %s: stalled at %llu of %llu bytes\n", what,
			       (unsigned long long)f.rcvd, (unsigned long long)bytes);
			pair_dump(p);
			break;
		}
		if (moved == 0 && work <= 0)
			nanosleep(&idle, NULL);
	}
	ms = harness_now_ms() - t0;
	harness_flow_check(&f);
	harness_flow_fini(&f);
	if (f.error != 0 || f.rcvd != bytes)
		return 0;
	return bytes / 1e3 / (ms > 0.001 ? ms : 0.001);
}

void
pair_check_rate(struct pair *p, const char *what, uint64_t bytes, double min_ratio,
		void (*step)(void *arg), void *arg, struct emu_guest **extra, int nextra)
{
	double mbps = 0, m;
	int i;

	/*
	 * Two cores are shared with the switch and whatever else runs: a rate is the
	 * best of up to three runs (each under the same attack), and the baseline the
	 * best of two.
	 */
	for (i = 0; i < (p->baseline_mbps <= 0 ? 2 : 3); i++) {
		m = pair_run(p, what, bytes, step, arg, extra, nextra);
		if (m <= 0)
			return; /* pair_run() CHECK()ed the data */
		mbps = m > mbps ? m : mbps;
		if (p->baseline_mbps > 0 && mbps >= p->baseline_mbps * min_ratio)
			break;
	}
	if (p->baseline_mbps <= 0) {
		p->baseline_mbps = mbps;
		printf("  baseline: %.0f MB/s\n", mbps);
		return;
	}
	CHECK(mbps >= p->baseline_mbps * min_ratio,
	      "%s: the good pair got %.0f MB/s (%.0f%% of its %.0f MB/s baseline)", what, mbps,
	      100 * mbps / p->baseline_mbps, p->baseline_mbps);
}
