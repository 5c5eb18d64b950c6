/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Guest-to-guest scenarios. The bench plays both guests on one CPU, so every
 * byte costs the bench three copies (application -> tx buffer, rx buffer ->
 * socket queue, socket queue -> application: emu_guest works like Linux's
 * socket layer) against the switch's one. Each throughput figure therefore
 * comes with the switch worker's estimated load over the same interval (see
 * bench_load()): value / load is what the worker could carry if the guests
 * kept up.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PAIR_MEM (32u << 20)
#define RXBUF_LEN (256u * 1024)
#define SEND_BURST 64
#define PING_LEN 64
#define PING_TIMEOUT_NS 1e9
#define MAX_PING_SAMPLES 4000000
#define CONN_WINDOW 32
#define SCALE_PKT 4096u
#define SCALE_MEM (2u << 20)
#define SCALE_BURST 8

struct bench_pair_ctx bench_pc;

static uint8_t txbuf[VSOCK_MAX_PKT_PAYLOAD];
static uint8_t rxbuf[RXBUF_LEN];

int
bench_pair_up(void)
{
	struct bench_pair_ctx *pc = &bench_pc;
	int i;

	if (pc->up)
		return 0;
	if (bench_switch_start(&pc->sw, 2, true) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		pc->g[i] = bench_guest(&pc->sw, i, VSOCK_MAX_PKT_PAYLOAD, PAIR_MEM);
		if (pc->g[i] == NULL) {
			bench_pair_down();
			return -1;
		}
	}
	memset(txbuf, 0x5a, sizeof(txbuf));
	pc->next_port = 20000;
	pc->up = true;
	/* let the worker see both rings started, then time its idle rounds */
	bench_poll_for(pc->g, 2, 50);
	bench_calibrate_idle(&pc->sw, 300);
	if (bopt.verbose)
		printf("  pair switch: idle round %.0f ns\n", pc->sw.idle_round_ns);
	return 0;
}

void
bench_pair_down(void)
{
	struct bench_pair_ctx *pc = &bench_pc;
	int i;

	for (i = 0; i < 2; i++) {
		emu_guest_destroy(pc->g[i]);
		pc->g[i] = NULL;
	}
	bench_switch_stop(&pc->sw);
	pc->up = false;
}

/* Orderly close of a connection after a transfer from a to b. */
static void
close_pair(struct emu_guest **gs, int ng, struct emu_guest *a, int ca, struct emu_guest *b,
	   int cb)
{
	double deadline = bench_now_ns() + 2e9;
	ssize_t r;
	int i;

	emu_close(a, ca);
	while (bench_now_ns() < deadline) {
		for (i = 0; i < ng; i++)
			emu_guest_poll(gs[i]);
		r = emu_recv(b, cb, rxbuf, sizeof(rxbuf), NULL);
		if (r == 0 || (r < 0 && r != -EAGAIN))
			break;
	}
	emu_close(b, cb);
	bench_poll_for(gs, ng, 5);
}

struct xfer {
	double bytes;
	double msgs;
	double secs;
	double load;
	double share;
	double sw_pkts;
};

/*
 * a -> b as fast as the loop goes, writes of @size bytes. The first tenth of the
 * time warms up; the rest is measured.
 */
static int
run_xfer(struct bench_switch *sw, struct emu_guest **gs, int ng, struct emu_guest *a, int ca,
	 struct emu_guest *b, int cb, uint32_t size, double secs, struct xfer *x)
{
	double t_start = bench_now_ns(), t_warm = t_start + secs * 1e8, t_end = t_warm + secs * 1e9;
	double bytes = 0, msgs = 0, b0 = 0, m0 = 0, now;
	struct bench_lcores l0 = { 0 }, l1 = { 0 };
	bool warm = false;
	ssize_t r;
	int k, i;

	memset(x, 0, sizeof(*x));
	for (;;) {
		for (k = 0; k < SEND_BURST; k++) {
			r = emu_send(a, ca, txbuf, size);
			if (r == -EAGAIN)
				break;
			if (r < 0) {
				fprintf(stderr, "vsock-bench: send: %s\n", strerror((int)-r));
				return (int)r;
			}
		}
		for (i = 0; i < ng; i++)
			if (emu_guest_poll(gs[i]) < 0)
				return -ENOTCONN;
		while ((r = emu_recv(b, cb, rxbuf, sizeof(rxbuf), NULL)) > 0) {
			bytes += (double)r;
			msgs++;
		}
		if (r != -EAGAIN) {
			fprintf(stderr, "vsock-bench: recv: %s\n", r ? strerror((int)-r) : "EOF");
			return r ? (int)r : -EPIPE;
		}
		now = bench_now_ns();
		if (!warm && now >= t_warm) {
			warm = true;
			bench_lcores_get(sw, &l0);
			b0 = bytes;
			m0 = msgs;
			t_warm = bench_now_ns();
		} else if (warm && now >= t_end) {
			break;
		}
	}
	bench_lcores_get(sw, &l1);
	now = bench_now_ns();
	x->secs = (now - t_warm) / 1e9;
	x->bytes = bytes - b0;
	x->msgs = msgs - m0;
	x->load = bench_load(sw, &l0, &l1);
	x->share = bench_share(&l0, &l1);
	if (bench_steal(&l0, &l1) > 0.02)
		printf("  note: the hypervisor took %.0f%% of the worker's CPU during this "
		       "measurement\n", 100 * bench_steal(&l0, &l1));
	if (x->bytes == 0)
		bench_stall(sw, "a guest->guest transfer");
	x->sw_pkts = l1.rounds && l0.rounds ? (double)(l1.tx_pkts - l0.tx_pkts) : NAN;
	return 0;
}

int
bench_g2g_stream(struct bench_results *r, int run)
{
	struct bench_pair_ctx *pc = &bench_pc;
	char name[64], label[96], sz[16];
	struct xfer x;
	int s, ca, cb, ret;

	if (bench_pair_up() < 0)
		return -1;
	for (s = 0; s < bopt.nsizes; s++) {
		uint32_t size = bopt.sizes[s];
		struct bench_metric *m;

		bench_size_name(size, sz, sizeof(sz));
		snprintf(name, sizeof(name), "g2g_stream_%s", sz);
		snprintf(label, sizeof(label), "guest->guest STREAM, %s B writes%s", sz,
			 bopt.sink ? ", sink" : "");
		m = bench_metric(r, name, "MB/s", "throughput", label);
		m->size = size;
		m->guests = 2;
		snprintf(m->base, sizeof(m->base), "memcpy_%s", sz);
		if (size == 65536) {
			m->target_kind = BENCH_TARGET_RATIO_MIN;
			m->target = 0.8;
		}
		ret = bench_pair(pc->g, 2, pc->g[0], pc->g[1], pc->next_port++, VSOCK_TYPE_STREAM,
				 &ca, &cb);
		if (ret < 0) {
			fprintf(stderr, "vsock-bench: connect: %s\n", strerror(-ret));
			return -1;
		}
		if (bopt.sink && emu_set_rx_sink(pc->g[1], cb, true) < 0)
			return -1;
		ret = run_xfer(&pc->sw, pc->g, 2, pc->g[0], ca, pc->g[1], cb, size, bopt.duration,
			       &x);
		close_pair(pc->g, 2, pc->g[0], ca, pc->g[1], cb);
		if (ret < 0)
			return -1;
		bench_record(r, run, name, x.bytes / x.secs / 1e6, x.load);
		bench_record_share(r, run, name, x.share);
	}
	return 0;
}

int
bench_g2g_msgrate(struct bench_results *r, int run)
{
	static const struct {
		uint16_t type;
		const char *name;
		const char *label;
	} kinds[] = {
		{ VSOCK_TYPE_SEQPACKET, "g2g_msgs_seqpacket_64", "guest->guest SEQPACKET 64 B msgs" },
		{ VSOCK_TYPE_STREAM, "g2g_msgs_stream_64", "guest->guest STREAM 64 B writes" },
	};
	struct bench_pair_ctx *pc = &bench_pc;
	struct xfer x;
	unsigned int k;
	int ca, cb, ret;

	if (bench_pair_up() < 0)
		return -1;
	for (k = 0; k < BENCH_DIM(kinds); k++) {
		struct bench_metric *m = bench_metric(r, kinds[k].name, "Mpps", "rate",
						      kinds[k].label);

		m->size = 64;
		m->guests = 2;
		snprintf(m->base, sizeof(m->base), "testpmd_io_64");
		m->target_kind = BENCH_TARGET_RATIO_MIN;
		m->target = 1.0;
		ret = bench_pair(pc->g, 2, pc->g[0], pc->g[1], pc->next_port++, kinds[k].type,
				 &ca, &cb);
		if (ret < 0) {
			fprintf(stderr, "vsock-bench: connect: %s\n", strerror(-ret));
			return -1;
		}
		ret = run_xfer(&pc->sw, pc->g, 2, pc->g[0], ca, pc->g[1], cb, 64, bopt.duration, &x);
		close_pair(pc->g, 2, pc->g[0], ca, pc->g[1], cb);
		if (ret < 0)
			return -1;
		/* a STREAM read may return several writes: count 64-byte messages */
		bench_record(r, run, kinds[k].name, x.bytes / 64 / x.secs / 1e6, x.load);
		bench_record_share(r, run, kinds[k].name, x.share);
	}
	return 0;
}

/* One connection end and its guest's counters, for a failure report. */
static void
conn_dump(const char *who, struct emu_guest *g, int c)
{
	struct emu_conn_info ci;
	struct emu_stats st;

	memset(&ci, 0, sizeof(ci));
	emu_conn_info(g, c, &ci);
	emu_guest_stats(g, &st);
	fprintf(stderr, "  %s: state %d tx_cnt %u credit %u rx_queued %u; RW tx %llu rx %llu, "
		"tx_ring_full %llu, used_bad %llu, rx_bad %llu, interrupts %llu\n", who,
		emu_conn_state(g, c), ci.tx_cnt, ci.credit, ci.rx_queued,
		(unsigned long long)st.tx_pkts[VSOCK_OP_RW],
		(unsigned long long)st.rx_pkts[VSOCK_OP_RW], (unsigned long long)st.tx_ring_full,
		(unsigned long long)st.used_bad, (unsigned long long)st.rx_bad,
		(unsigned long long)st.interrupts);
}

/* Poll @g until @len bytes of @c are in @buf. */
static int
wait_msg(struct emu_guest *g, int c, uint8_t *buf, size_t len, double deadline)
{
	size_t got = 0;
	ssize_t r;

	for (;;) {
		r = emu_recv(g, c, buf + got, len - got, NULL);
		if (r > 0) {
			got += (size_t)r;
			if (got == len)
				return 0;
			continue;
		}
		if (r != -EAGAIN)
			return r ? (int)r : -EPIPE;
		if (emu_guest_poll(g) < 0)
			return -ENOTCONN;
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
}

int
bench_pingpong(struct bench_switch *sw, struct emu_guest *a, int ca, struct emu_guest *b,
	       int cb, double secs, double **us, size_t *n)
{
	size_t cap = MAX_PING_SAMPLES, k = 0;
	double t0, t1, end, *v;
	uint8_t msg[PING_LEN];
	int warm = 1000, ret = 0;

	memset(msg, 0xa5, sizeof(msg));
	v = malloc(cap * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	end = bench_now_ns() + secs * 1e9;
	for (;;) {
		t0 = bench_now_ns();
		if (t0 >= end && warm <= 0)
			break;
		if (emu_send(a, ca, msg, sizeof(msg)) != sizeof(msg)) {
			ret = -EIO;
			break;
		}
		ret = wait_msg(b, cb, rxbuf, sizeof(msg), t0 + PING_TIMEOUT_NS);
		if (ret < 0)
			break;
		if (emu_send(b, cb, msg, sizeof(msg)) != sizeof(msg)) {
			ret = -EIO;
			break;
		}
		ret = wait_msg(a, ca, rxbuf, sizeof(msg), t0 + PING_TIMEOUT_NS);
		if (ret < 0)
			break;
		t1 = bench_now_ns();
		if (warm > 0) {
			/* the window starts after the warm-up, however long it took */
			if (--warm == 0)
				end = bench_now_ns() + secs * 1e9;
			continue;
		}
		if (k < cap)
			v[k++] = (t1 - t0) / 1e3;
	}
	if (ret < 0 || k == 0) {
		if (ret == -ETIMEDOUT)
			bench_stall(sw, "a ping-pong");
		fprintf(stderr, "vsock-bench: ping-pong: %s after %zu samples\n",
			ret ? strerror(-ret) : "no sample", k);
		conn_dump("pinger", a, ca);
		conn_dump("ponger", b, cb);
		free(v);
		return ret ? ret : -EIO;
	}
	qsort(v, k, sizeof(*v), bench_cmp_double);
	*us = v;
	*n = k;
	return 0;
}

int
bench_g2g_latency(struct bench_results *r, int run)
{
	static const double cdf_p[] = { 0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97,
					98, 99, 99.5, 99.7, 99.8, 99.9, 99.95, 99.99, 100 };
	struct bench_pair_ctx *pc = &bench_pc;
	struct bench_lcores l0, l1;
	struct bench_metric *m;
	double *v;
	size_t n;
	int ca, cb, ret;
	unsigned int i;

	if (bench_pair_up() < 0)
		return -1;
	m = bench_metric(r, "g2g_rtt_p50", "us", "latency", "64 B ping-pong RTT p50");
	m->higher_better = false;
	m->size = 64;
	m = bench_metric(r, "g2g_rtt_p99", "us", "latency", "64 B ping-pong RTT p99");
	m->higher_better = false;
	m->size = 64;
	m->target_kind = BENCH_TARGET_ABS_MAX;
	m->target = 10;
	m = bench_metric(r, "g2g_rtt_p999", "us", "latency", "64 B ping-pong RTT p99.9");
	m->higher_better = false;
	m->size = 64;
	ret = bench_pair(pc->g, 2, pc->g[0], pc->g[1], pc->next_port++, VSOCK_TYPE_STREAM, &ca,
			 &cb);
	if (ret < 0)
		return -1;
	bench_lcores_get(&pc->sw, &l0);
	ret = bench_pingpong(&pc->sw, pc->g[0], ca, pc->g[1], cb, bopt.duration, &v, &n);
	bench_lcores_get(&pc->sw, &l1);
	close_pair(pc->g, 2, pc->g[0], ca, pc->g[1], cb);
	if (ret < 0)
		return -1;
	bench_record(r, run, "g2g_rtt_p50", bench_pct_sorted(v, n, 50), NAN);
	bench_record(r, run, "g2g_rtt_p99", bench_pct_sorted(v, n, 99), NAN);
	bench_record(r, run, "g2g_rtt_p999", bench_pct_sorted(v, n, 99.9), NAN);
	bench_record_share(r, run, "g2g_rtt_p50", bench_share(&l0, &l1));
	bench_record_share(r, run, "g2g_rtt_p99", bench_share(&l0, &l1));
	bench_record_share(r, run, "g2g_rtt_p999", bench_share(&l0, &l1));
	r->ncdf = 0;
	for (i = 0; i < BENCH_DIM(cdf_p) && i < BENCH_CDF_POINTS; i++) {
		r->cdf_p[i] = cdf_p[i];
		r->cdf_us[i] = bench_pct_sorted(v, n, cdf_p[i]);
		r->ncdf++;
	}
	if (bopt.verbose)
		printf("  ping-pong: %zu samples\n", n);
	free(v);
	return 0;
}

/*
 * Connection set-up and tear-down: guest 3 keeps CONN_WINDOW connections in
 * flight to a listener on guest 4; each is closed as soon as it is established
 * (SHUTDOWN), guest 4 accepts and closes on seeing the SHUTDOWN (RST). Four
 * packets through the switch per connection; a cycle counts once guest 4 has
 * sent its RST.
 */
int
bench_g2g_connrate(struct bench_results *r, int run)
{
	struct bench_pair_ctx *pc = &bench_pc;
	struct emu_guest *a = pc->g[0], *b = pc->g[1];
	int pend[CONN_WINDOW], acc[4 * CONN_WINDOW + 128];
	double t_start, t_warm, t_end, now, done = 0, d0 = 0, refused = 0;
	struct bench_lcores l0 = { 0 }, l1 = { 0 };
	struct bench_metric *m;
	struct emu_conn_info ci;
	int nacc = 0, i, j, id, st;
	uint32_t port;
	bool warm = false;

	if (bench_pair_up() < 0)
		return -1;
	a = pc->g[0];
	b = pc->g[1];
	m = bench_metric(r, "g2g_connrate", "conn/s", "rate",
			 "connect+accept+close (STREAM) per second");
	m->guests = 2;
	m->target_kind = BENCH_TARGET_ABS_MIN;
	m->target = 200000;
	port = pc->next_port++;
	if (emu_listen(b, port, VSOCK_TYPE_STREAM) < 0)
		return -1;
	for (i = 0; i < CONN_WINDOW; i++)
		pend[i] = -1;
	t_start = bench_now_ns();
	t_warm = t_start + bopt.duration * 1e8;
	t_end = t_warm + bopt.duration * 1e9;
	for (;;) {
		now = bench_now_ns();
		if (!warm && now >= t_warm) {
			warm = true;
			bench_lcores_get(&pc->sw, &l0);
			d0 = done;
			t_warm = bench_now_ns();
		} else if (warm && now >= t_end) {
			break;
		}
		for (i = 0; i < CONN_WINDOW; i++) {
			if (pend[i] >= 0)
				continue;
			pend[i] = emu_connect(a, emu_guest_cid(b), port, VSOCK_TYPE_STREAM);
			if (pend[i] < 0) {
				fprintf(stderr, "vsock-bench: connect: %s\n", strerror(-pend[i]));
				return -1;
			}
		}
		if (emu_guest_poll(a) < 0 || emu_guest_poll(b) < 0)
			return -1;
		for (i = 0; i < CONN_WINDOW; i++) {
			st = emu_conn_state(a, pend[i]);
			if (st == EMU_CONN_CONNECTED || st == EMU_CONN_CLOSED) {
				if (st == EMU_CONN_CLOSED)
					refused++;
				emu_close(a, pend[i]);
				pend[i] = -1;
			}
		}
		while (nacc < (int)BENCH_DIM(acc) && (id = emu_accept(b, port)) >= 0)
			acc[nacc++] = id;
		for (i = 0, j = 0; i < nacc; i++) {
			if (emu_conn_info(b, acc[i], &ci) == 0 &&
			    ci.peer_shut != VSOCK_SHUTDOWN_MASK &&
			    emu_conn_state(b, acc[i]) != EMU_CONN_CLOSED) {
				acc[j++] = acc[i];
				continue;
			}
			emu_close(b, acc[i]);
			done++;
		}
		nacc = j;
	}
	bench_lcores_get(&pc->sw, &l1);
	now = bench_now_ns();
	for (i = 0; i < CONN_WINDOW; i++)
		if (pend[i] >= 0)
			emu_close(a, pend[i]);
	bench_poll_for(pc->g, 2, 20);
	for (i = 0; i < nacc; i++)
		emu_close(b, acc[i]);
	bench_poll_for(pc->g, 2, 50);
	if (refused > 0)
		fprintf(stderr, "vsock-bench: connrate: %.0f connections refused\n", refused);
	bench_record(r, run, "g2g_connrate", (done - d0) / ((now - t_warm) / 1e9),
		     bench_load(&pc->sw, &l0, &l1));
	bench_record_share(r, run, "g2g_connrate", bench_share(&l0, &l1));
	return 0;
}

/* ---- many guests ---- */

struct multi {
	struct bench_switch sw;
	struct emu_guest **g;
	int n;
};

static void
multi_down(struct multi *mg)
{
	int i;

	for (i = 0; i < mg->n; i++)
		emu_guest_destroy(mg->g[i]);
	free(mg->g);
	mg->g = NULL;
	mg->n = 0;
	bench_switch_stop(&mg->sw);
}

static int
multi_up(struct multi *mg, int n)
{
	memset(mg, 0, sizeof(*mg));
	if (bench_switch_start(&mg->sw, n, false) < 0)
		return -1;
	mg->g = calloc((size_t)n, sizeof(*mg->g));
	if (mg->g == NULL)
		return -1;
	mg->n = n;
	if (bench_guests(&mg->sw, mg->g, n, SCALE_PKT, SCALE_MEM) < 0) {
		multi_down(mg);
		return -1;
	}
	bench_poll_for(mg->g, n, 50);
	return 0;
}

static int
scale_points(int *pts, int max)
{
	static const int want[] = { 1, 10, 100, 1000 };
	int k = 0;
	unsigned int i;

	for (i = 0; i < BENCH_DIM(want); i++) {
		if (want[i] <= max)
			pts[k++] = want[i];
		else if (k > 0 && pts[k - 1] < max)
			pts[k++] = max;
		if (want[i] >= max)
			break;
	}
	return k;
}

/*
 * N busy connections: N guests in a ring, guest i sending 4 KiB writes to guest
 * i+1 (N = 1: two guests, one connection). Aggregate throughput and the
 * spread between the slowest and the fastest connection.
 */
static int
scale_one(struct bench_results *r, int run, int nconn)
{
	int ng = nconn < 2 ? 2 : nconn, i, ret, *out, *in;
	double t_warm, t_end, now, bytes, *per, lo, hi;
	struct bench_lcores l0 = { 0 }, l1 = { 0 };
	char name[64], label[96];
	struct bench_metric *m;
	struct multi mg;
	uint32_t port = 30000;
	bool warm = false;
	ssize_t k;

	if (bopt.switch_path == NULL && ng > bopt.nattach)
		return 0;
	snprintf(name, sizeof(name), "scale_%d", nconn);
	snprintf(label, sizeof(label), "%d busy conn%s, %d guests, 4k writes", nconn,
		 nconn == 1 ? "" : "s", ng);
	m = bench_metric(r, name, "MB/s", "scaling", label);
	m->size = SCALE_PKT;
	m->guests = (uint32_t)ng;
	snprintf(m->base, sizeof(m->base), "scale_1");
	if (multi_up(&mg, ng) < 0)
		return -1;
	out = calloc((size_t)ng, sizeof(int));
	in = calloc((size_t)ng, sizeof(int));
	per = calloc((size_t)ng, sizeof(double));
	ret = out && in && per ? 0 : -ENOMEM;
	for (i = 0; ret == 0 && i < ng; i++) {
		out[i] = in[i] = -1;
		ret = emu_listen(mg.g[i], port, VSOCK_TYPE_STREAM);
	}
	for (i = 0; ret == 0 && i < nconn; i++) {
		int peer = (i + 1) % ng;

		ret = bench_pair(mg.g, ng, mg.g[i], mg.g[peer], port, VSOCK_TYPE_STREAM, &out[i],
				 &in[peer]);
	}
	if (ret < 0) {
		fprintf(stderr, "vsock-bench: scaling %d: set-up: %s\n", nconn, strerror(-ret));
		goto out;
	}
	bench_calibrate_idle(&mg.sw, 200);
	t_warm = bench_now_ns() + bopt.duration * 1e8;
	t_end = t_warm + bopt.duration * 1e9;
	for (;;) {
		for (i = 0; i < ng; i++) {
			struct emu_guest *g = mg.g[i];
			int s;

			for (s = 0; out[i] >= 0 && s < SCALE_BURST; s++)
				if (emu_send(g, out[i], txbuf, SCALE_PKT) <= 0)
					break;
			if (emu_guest_poll(g) < 0) {
				ret = -ENOTCONN;
				goto out;
			}
			while (in[i] >= 0 && (k = emu_recv(g, in[i], rxbuf, sizeof(rxbuf), NULL)) > 0)
				per[i] += (double)k;
		}
		now = bench_now_ns();
		if (!warm && now >= t_warm) {
			warm = true;
			bench_lcores_get(&mg.sw, &l0);
			for (i = 0; i < ng; i++)
				per[i] = 0;
			t_warm = bench_now_ns();
		} else if (warm && now >= t_end) {
			break;
		}
	}
	bench_lcores_get(&mg.sw, &l1);
	now = bench_now_ns();
	bytes = 0;
	lo = INFINITY;
	hi = 0;
	for (i = 0; i < ng; i++) {
		if (in[i] < 0)
			continue;
		bytes += per[i];
		lo = per[i] < lo ? per[i] : lo;
		hi = per[i] > hi ? per[i] : hi;
	}
	bench_record(r, run, name, bytes / ((now - t_warm) / 1e9) / 1e6,
		     bench_load(&mg.sw, &l0, &l1));
	bench_record_share(r, run, name, bench_share(&l0, &l1));
	if (bopt.verbose || nconn > 1)
		printf("  scaling %d: slowest connection %.0f%% of the fastest\n", nconn,
		       hi > 0 ? 100 * lo / hi : 0);
	if (bytes == 0)
		bench_stall(&mg.sw, name);
	if (bopt.verbose) {
		static char tel[65536];

		if (bench_tel_query(&mg.sw, "/vsock/stats", tel, sizeof(tel)) > 0)
			printf("  /vsock/stats: %s\n", tel);
		for (i = 0; i < ng; i++)
			if (in[i] >= 0 && per[i] == 0)
				printf("  guest %d (cid %llu) received nothing\n", i,
				       (unsigned long long)emu_guest_cid(mg.g[i]));
	}
out:
	free(out);
	free(in);
	free(per);
	multi_down(&mg);
	return ret < 0 ? -1 : 0;
}

int
bench_g2g_scaling(struct bench_results *r, int run)
{
	int pts[8], k, i;

	k = scale_points(pts, bopt.scale_max);
	for (i = 0; i < k; i++)
		if (scale_one(r, run, pts[i]) < 0)
			return -1;
	return 0;
}

/*
 * Idle guests: N guests with running rings and nothing to say. The worker
 * polls every one each round, so a round gets longer and a packet waits
 * longer: round time (telemetry rounds over a quiet second) and the RTT of a
 * ping-pong between two of them.
 */
static int
idle_one(struct bench_results *r, int run, int n, double *round_ns)
{
	char name[64], label[96];
	struct bench_metric *m;
	struct multi mg;
	double *v;
	size_t nv;
	int ca, cb, ret;

	*round_ns = NAN;
	if (bopt.switch_path == NULL && n > bopt.nattach)
		return 0;
	snprintf(name, sizeof(name), "idle_round_%d", n);
	snprintf(label, sizeof(label), "worker round, %d guests (2 in ping-pong)", n);
	m = bench_metric(r, name, "ns", "idle", label);
	m->guests = (uint32_t)n;
	m->higher_better = false;
	snprintf(name, sizeof(name), "idle_rtt_p50_%d", n);
	snprintf(label, sizeof(label), "64 B RTT p50, %d guests", n);
	m = bench_metric(r, name, "us", "idle", label);
	m->guests = (uint32_t)n;
	m->higher_better = false;
	snprintf(name, sizeof(name), "idle_rtt_p99_%d", n);
	snprintf(label, sizeof(label), "64 B RTT p99, %d guests", n);
	m = bench_metric(r, name, "us", "idle", label);
	m->guests = (uint32_t)n;
	m->higher_better = false;
	if (multi_up(&mg, n) < 0)
		return -1;
	ret = bench_pair(mg.g, 2, mg.g[0], mg.g[1], 31000, VSOCK_TYPE_STREAM, &ca, &cb);
	if (ret == 0) {
		bench_calibrate_idle(&mg.sw, (int)(bopt.duration * 500) + 50);
		*round_ns = mg.sw.idle_round_ns;
		snprintf(name, sizeof(name), "idle_round_%d", n);
		bench_record(r, run, name, *round_ns, NAN);
		ret = bench_pingpong(&mg.sw, mg.g[0], ca, mg.g[1], cb, bopt.duration / 2, &v, &nv);
	}
	if (ret == 0) {
		snprintf(name, sizeof(name), "idle_rtt_p50_%d", n);
		bench_record(r, run, name, bench_pct_sorted(v, nv, 50), NAN);
		snprintf(name, sizeof(name), "idle_rtt_p99_%d", n);
		bench_record(r, run, name, bench_pct_sorted(v, nv, 99), NAN);
		free(v);
	}
	multi_down(&mg);
	return ret < 0 ? -1 : 0;
}

int
bench_g2g_idle(struct bench_results *r, int run)
{
	int pts[8], k, i, first = -1, last = -1;
	double ns[8], per;
	struct bench_metric *m;

	k = scale_points(pts, bopt.scale_max);
	pts[0] = 2; /* the ping-pong needs two */
	for (i = 0; i < k; i++) {
		if (i > 0 && pts[i] <= pts[i - 1])
			continue;
		if (idle_one(r, run, pts[i], &ns[i]) < 0)
			return -1;
		if (!isnan(ns[i])) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (first >= 0 && last > first) {
		m = bench_metric(r, "idle_ns_per_guest", "ns", "idle",
				 "worker time per idle guest per round");
		m->higher_better = false;
		per = (ns[last] - ns[first]) / (pts[last] - pts[first]);
		bench_record(r, run, "idle_ns_per_guest", per, NAN);
	}
	return 0;
}
