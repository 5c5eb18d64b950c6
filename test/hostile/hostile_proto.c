/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * hostile_proto: guests that break the vsock protocol, not the rings, while
 * guests 3 and 4 move checked data over a connection.
 *
 * Guest 5 floods: packets with spoofed source CIDs (as guest 3, on the good
 * pair's own connection), packets for reserved destination CIDs (0, 1, ANY,
 * above 32 bits, itself), every op but REQUEST without a connection, RW far
 * and REQUESTs to a port nobody listens on and to a listener that never
 * accepts (fewer than a backlog holds: larger floods and RW beyond credit are in
 * hostile_limits). Guest 6 is a receiver that stops
 * posting rx buffers (the switch's backlog and mbufs stay bounded), then one
 * whose rx buffers cannot even hold a header, then one with 1-byte rx buffers
 * (data arrives whole, one byte per packet).
 *
 * Each case checks that the hostile guest is contained (drops counted by
 * reason, answers only to itself, nothing reaches others) and that the good
 * pair's data arrives intact at a rate within a generous factor of its
 * baseline. At the end the switch's mbufs are back and it exits 0 on SIGTERM.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static const char *test_name = "hostile_proto";

#define MB (1024 * 1024)
#define DIM(a) (sizeof(a) / sizeof((a)[0]))

static struct harness h;
static struct emu_guest *gs[4]; /* 3, 4, 5, 6 */
static struct pair good;
static uint64_t bytes_per_case;
static double min_ratio;

/* ---- a flood from guest 5: the same few headers again and again ---- */

struct flood {
	struct emu_guest *g;
	struct vsock_hdr h[8];
	int nh;
	int next;
	bool vary_port; /* a new source port for every packet */
	uint32_t port;
	uint32_t payload_len;
	uint64_t sent;
	uint64_t limit; /* stop after this many, 0 = never */
};

static uint8_t junk[65536];

static void
flood_step(void *arg)
{
	struct flood *f = arg;
	int i;

	emu_guest_poll(f->g);
	for (i = 0; i < 64 && (f->limit == 0 || f->sent < f->limit); i++) {
		struct vsock_hdr hd = f->h[f->next];
		uint32_t len = hd.op == VSOCK_OP_RW ? f->payload_len : 0;

		if (f->vary_port)
			hd.src_port = f->port + (uint32_t)f->sent;
		if (emu_send_raw(f->g, &hd, junk, len) != 0)
			break;
		f->sent++;
		f->next = (f->next + 1) % f->nh;
	}
}

static uint64_t
rx_op(struct emu_guest *g, int op)
{
	struct emu_stats s;

	emu_guest_stats(g, &s);
	return s.rx_pkts[op];
}

static uint64_t
rx_all(struct emu_guest *g)
{
	struct emu_stats s;
	uint64_t n = 0;
	int i;

	emu_guest_stats(g, &s);
	for (i = 0; i < EMU_STATS_OPS; i++)
		n += s.rx_pkts[i];
	return n;
}

static int64_t
g_stat(int cid, const char *key)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "/vsock/guest,%d", cid);
	return tel_u64(&h, cmd, key);
}

/*
 * Run the good pair with @f flooding; return how many the flood sent. A flood
 * the victim guest must answer packet by packet takes CPU from the good pair in
 * this one-threaded test process, not in the switch: those pass @ratio 0.
 */
static uint64_t
with_flood_ratio(const char *what, struct flood *f, double ratio)
{
	printf("%s\n", what);
	pair_check_rate(&good, what, bytes_per_case, ratio, flood_step, f, NULL, 0);
	/* Let the rest through. */
	poll_ms(gs, 3, 50);
	printf("  (%llu packets sent by the flood)\n", (unsigned long long)f->sent);
	return f->sent;
}

static uint64_t
with_flood(const char *what, struct flood *f)
{
	return with_flood_ratio(what, f, min_ratio);
}

/* Until the switch runs guest @cid's rings (it learns a little after the guest). */
static void
wait_running(int cid)
{
	int i;

	for (i = 0; i < 500 && g_stat(cid, "rx_ring_size") <= 0; i++)
		poll_ms(gs, 2, 2);
}

static void
spoofed(void)
{
	struct emu_conn_info i3;
	struct flood f = { .g = gs[2], .payload_len = 1000 };
	uint64_t rx5 = rx_all(gs[2]);
	int64_t d0 = g_stat(5, "drop_spoofed_source"), d1;

	emu_conn_info(gs[0], good.ca, &i3);
	/* As guest 3, on the good connection, to guest 4: data, shutdown, reset. */
	f.h[0] = (struct vsock_hdr){ .src_cid = 3, .dst_cid = 4, .src_port = i3.local_port,
		.dst_port = i3.peer_port, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RW,
		.len = 1000, .buf_alloc = 1u << 30 };
	f.h[1] = f.h[0];
	f.h[1].op = VSOCK_OP_SHUTDOWN;
	f.h[1].len = 0;
	f.h[1].flags = VSOCK_SHUTDOWN_MASK;
	f.h[2] = f.h[1];
	f.h[2].op = VSOCK_OP_RST;
	f.h[2].flags = 0;
	/* As guest 4 towards guest 3, as the host, as CID 77. */
	f.h[3] = (struct vsock_hdr){ .src_cid = 4, .dst_cid = 3, .src_port = i3.peer_port,
		.dst_port = i3.local_port, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST };
	f.h[4] = f.h[0];
	f.h[4].src_cid = VSOCK_CID_HOST;
	f.h[5] = f.h[0];
	f.h[5].src_cid = 77;
	f.h[5].op = VSOCK_OP_REQUEST;
	f.h[5].len = 0;
	f.nh = 6;
	with_flood("spoofed source CIDs, on the good pair's own connection", &f);
	d1 = g_stat(5, "drop_spoofed_source");
	CHECK(d1 - d0 == (int64_t)f.sent, "every forged packet dropped as spoofed (%lld of %llu)",
	      (long long)(d1 - d0), (unsigned long long)f.sent);
	CHECK(rx_all(gs[2]) == rx5, "no answer to the forger (%llu packets)",
	      (unsigned long long)(rx_all(gs[2]) - rx5));
	CHECK(emu_conn_state(gs[0], good.ca) == EMU_CONN_CONNECTED &&
	      emu_conn_state(gs[1], good.cb) == EMU_CONN_CONNECTED,
	      "the good connection is still established at both ends");
}

static void
reserved(void)
{
	static const uint64_t dst[] = { 0, 1, 0xffffffffULL, 0x100000000ULL, UINT64_MAX, 5 };
	struct flood f = { .g = gs[2], .payload_len = 100 };
	uint64_t rx5 = rx_all(gs[2]);
	int64_t d0 = g_stat(5, "drop_reserved_destination"), d1;
	unsigned int i;

	for (i = 0; i < DIM(dst); i++)
		f.h[i] = (struct vsock_hdr){ .src_cid = 5, .dst_cid = dst[i], .src_port = 1000,
			.dst_port = 7000, .type = VSOCK_TYPE_STREAM,
			.op = i % 2 ? VSOCK_OP_REQUEST : VSOCK_OP_RW, .len = i % 2 ? 0 : 100 };
	f.nh = (int)DIM(dst);
	with_flood("reserved destination CIDs: 0, 1, 2^32-1, 2^32, 2^64-1, its own", &f);
	d1 = g_stat(5, "drop_reserved_destination");
	CHECK(d1 - d0 == (int64_t)f.sent, "every one dropped as reserved (%lld of %llu)",
	      (long long)(d1 - d0), (unsigned long long)f.sent);
	CHECK(rx_all(gs[2]) == rx5, "and not answered (%llu packets back)",
	      (unsigned long long)(rx_all(gs[2]) - rx5));
}

static void
no_connection(void)
{
	struct flood f = { .g = gs[2], .payload_len = 4096 };
	uint64_t rst5 = rx_op(gs[2], VSOCK_OP_RST), rsts_sent;
	int64_t d0 = g_stat(5, "drop_no_connection"), d1, c0, c1;
	int64_t bf0 = g_stat(5, "drop_backlog_full"), bf;
	struct emu_stats s4, s4b;
	int op;

	for (op = VSOCK_OP_RESPONSE; op <= VSOCK_OP_CREDIT_REQUEST; op++)
		f.h[f.nh++] = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 4, .src_port = 2000,
			.dst_port = 7000, .type = VSOCK_TYPE_STREAM, .op = (uint16_t)op,
			.len = op == VSOCK_OP_RW ? 4096 : 0,
			.flags = op == VSOCK_OP_SHUTDOWN ? VSOCK_SHUTDOWN_MASK : 0 };
	c0 = tel_u64(&h, "/vsock/stats", "connection_ends");
	emu_guest_stats(gs[1], &s4);
	with_flood("RW, RESPONSE, SHUTDOWN, RST, CREDIT_* without a connection", &f);
	d1 = g_stat(5, "drop_no_connection");
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	emu_guest_stats(gs[1], &s4b);
	/* Headers cycle RESPONSE, RST, SHUTDOWN, ...: every sixth, from the second, is an RST. */
	rsts_sent = f.sent / 6 + (f.sent % 6 > 1 ? 1 : 0);
	CHECK(d1 - d0 == (int64_t)f.sent, "each dropped as without a connection (%lld of %llu)",
	      (long long)(d1 - d0), (unsigned long long)f.sent);
	/* RSTs beyond guest 5's own backlog limit are dropped there, and counted. */
	bf = g_stat(5, "drop_backlog_full") - bf0;
	CHECK(rx_op(gs[2], VSOCK_OP_RST) - rst5 + (uint64_t)bf == f.sent - rsts_sent,
	      "an RST back to guest 5 for each but its own RSTs (%llu of %llu, %lld dropped at "
	      "its full backlog)", (unsigned long long)(rx_op(gs[2], VSOCK_OP_RST) - rst5),
	      (unsigned long long)(f.sent - rsts_sent), (long long)bf);
	CHECK(c1 == c0, "no connection ends created (%lld -> %lld)", (long long)c0, (long long)c1);
	CHECK(s4b.rx_no_sock == s4.rx_no_sock && s4b.rx_pkts[VSOCK_OP_RESPONSE] ==
	      s4.rx_pkts[VSOCK_OP_RESPONSE] && s4b.rx_pkts[VSOCK_OP_SHUTDOWN] ==
	      s4.rx_pkts[VSOCK_OP_SHUTDOWN] && s4b.rx_pkts[VSOCK_OP_RST] == s4.rx_pkts[VSOCK_OP_RST],
	      "guest 4 got none of it");
}

static void
request_floods(void)
{
	struct flood f = { .g = gs[2], .vary_port = true, .port = 100000 };
	int64_t c0, c1, d0;
	struct pair p;
	uint64_t rst5 = rx_op(gs[2], VSOCK_OP_RST);
	int n, conn;

	c0 = tel_u64(&h, "/vsock/stats", "connection_ends");
	f.h[0] = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 4, .dst_port = 7300,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536 };
	f.nh = 1;
	/* Fewer than the receiver's backlog holds: see hostile_limits for more. */
	f.limit = 1000;
	with_flood_ratio("1000 REQUESTs to a port nobody listens on", &f, 0);
	poll_ms(gs, 3, 100);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(rx_op(gs[2], VSOCK_OP_RST) - rst5 == f.sent, "each refused with an RST (%llu of %llu)",
	      (unsigned long long)(rx_op(gs[2], VSOCK_OP_RST) - rst5), (unsigned long long)f.sent);
	CHECK(c1 == c0, "no connection ends left behind (%lld -> %lld)", (long long)c0,
	      (long long)c1);

	/* A listener whose application never accepts: its queue (128) fills, the rest
	 * is refused by guest 4 itself. */
	emu_listen(gs[1], 7301, VSOCK_TYPE_STREAM);
	memset(&f, 0, sizeof(f));
	f = (struct flood){ .g = gs[2], .vary_port = true, .port = 200000, .nh = 1,
			    .limit = 1000 };
	f.h[0] = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 4, .dst_port = 7301,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536 };
	d0 = g_stat(5, "drop_flow_table_full");
	with_flood_ratio("1000 REQUESTs to a listener that never accepts", &f, 0);
	poll_ms(gs, 3, 100);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(c1 - c0 <= 2 * 128, "connection ends bounded by the listener's queue (%lld)",
	      (long long)(c1 - c0));
	CHECK(g_stat(5, "drop_flow_table_full") == d0, "flow table never full");
	/* A newcomer still gets in. */
	pair_open(&p, gs[0], gs[1], 7302);
	CHECK(pair_run(&p, "a new connection after the floods", 1 * MB, NULL, NULL, &gs[2], 1) > 0,
	      "guest 3 opens a new connection to guest 4 and uses it");
	emu_close(gs[0], p.ca);
	emu_close(gs[1], p.cb);
	/* Drain the never-accepted ones: accept and close them. */
	n = 0;
	while ((conn = emu_accept(gs[1], 7301)) >= 0) {
		emu_close(gs[1], conn);
		n++;
	}
	printf("  (%d connections were waiting in guest 4's accept queue)\n", n);
	poll_ms(gs, 3, 100);
}

/* ---- guest 6: a receiver that stops taking packets ---- */

static void
stuck_receiver(void)
{
	struct emu_guest *pair36[2] = { gs[0], gs[3] };
	struct harness_flow f[4];
	struct harness_flow *fs[4] = { &f[0], &f[1], &f[2], &f[3] };
	int c3[4], c6[4], i;
	int64_t m, bl, bb, peak = 0, blpeak = 0;
	ssize_t n[4];
	static uint8_t buf[256 * 1024];

	/* Four connections, each with the default 256 KiB of credit: 1 MiB on its
	 * way, a quarter in guest 6's rx ring, the rest in its backlog (under the
	 * soft limit: past it the sender would wait, see hostile_limits). */
	printf("guest 6 stops posting rx buffers with 1 MiB on the way in 4 connections\n");
	for (i = 0; i < 4; i++)
		harness_pair(gs[0], gs[3], (uint32_t)(7400 + i), VSOCK_TYPE_STREAM, &c3[i], &c6[i]);
	for (i = 0; i < 4; i++) {
		harness_pattern(99 + (uint64_t)i, 0, buf, sizeof(buf));
		n[i] = emu_send(gs[0], c3[i], buf, sizeof(buf));
		CHECK(n[i] > 0, "guest 3 queued %zd bytes for guest 6 on connection %d", n[i], i);
	}
	for (i = 0; i < 3; i++) {
		/* The good pair keeps going; guest 3 keeps polling (it is a good guest). */
		pair_check_rate(&good, "meanwhile, guest 3 -> guest 4", bytes_per_case, min_ratio,
				NULL, NULL, NULL, 0);
		m = tel_u64(&h, "/vsock/stats", "mbufs_in_use");
		bl = g_stat(6, "backlog_bytes");
		peak = m > peak ? m : peak;
		blpeak = bl > blpeak ? bl : blpeak;
	}
	bl = g_stat(6, "backlog_packets");
	bb = g_stat(6, "backlog_bytes");
	CHECK(blpeak > 0 && blpeak <= 1024 * 1024, "guest 6's backlog holds what its ring cannot: "
	      "%lld bytes in %lld packets (soft limit 1 MiB)", (long long)bb, (long long)bl);
	CHECK(peak >= 0 && peak <= 2 * 1024 + 64, "switch mbufs bounded: %lld at most",
	      (long long)peak);

	/* Guest 6 wakes up: everything arrives, in order. */
	for (i = 0; i < 4; i++) {
		harness_flow_init(&f[i], "guest 3 -> guest 6 after waking", gs[0], c3[i], gs[3],
				  c6[i], 99 + (uint64_t)i, sizeof(buf));
		f[i].sent = (uint64_t)(n[i] > 0 ? n[i] : 0);
		harness_pattern(99 + (uint64_t)i, 0, buf, sizeof(buf));
		harness_sum_add(&f[i].tx_sum, buf, f[i].sent);
		f[i].no_shutdown = true;
		f[i].total = f[i].sent;
	}
	CHECK(harness_flows_run(fs, 4, pair36, 2, 10000) == 0,
	      "guest 6 wakes and receives all of it");
	for (i = 0; i < 4; i++) {
		harness_flow_check(&f[i]);
		harness_flow_fini(&f[i]);
		emu_close(gs[0], c3[i]);
		emu_close(gs[3], c6[i]);
	}
	poll_ms((struct emu_guest *[]){ gs[0], gs[1], gs[3] }, 3, 100);
}

/* Guest 6's rx buffers are 8 bytes: nothing fits, every one is handed back. */
static void
headerless_rx(void)
{
	struct emu_guest *g346[3] = { gs[0], gs[1], gs[3] };
	struct hr r;
	int64_t d0, d1;
	int i, c3;

	printf("guest 6 posts rx buffers too small for a header\n");
	/* Its own buffers are taken back by a driver reload, then replaced by ours. */
	emu_guest_stop(gs[3]);
	emu_guest_start(gs[3]);
	wait_running(6);
	hr_init(&r, gs[3], VSOCK_VQ_RX);
	d0 = g_stat(6, "drop_bad_descriptor");
	/* Overwrite the driver's own descriptors: every head is now an 8-byte buffer. */
	for (i = 0; i < r.vr->num; i++)
		hr_desc(&r, (uint16_t)i, hr_gpa(&r, (uint32_t)i * 64), 8, VRING_DESC_F_WRITE, 0);
	c3 = emu_connect(gs[0], 6, 7500, VSOCK_TYPE_STREAM);
	/* Guest 6's own driver must not run now: it would repost the buffers. */
	poll_ms(gs, 2, 100);
	hr_reap(&r);
	d1 = g_stat(6, "drop_bad_descriptor");
	CHECK(r.returned > 0 && r.returned_nonzero == 0,
	      "every buffer handed back empty (%llu)", (unsigned long long)r.returned);
	CHECK(d1 - d0 == (int64_t)r.returned, "and counted as a drop for guest 6 (%lld)",
	      (long long)(d1 - d0));
	CHECK(emu_conn_state(gs[0], c3) == EMU_CONN_CONNECTING,
	      "guest 3's REQUEST waits for a buffer that fits");
	pair_check_rate(&good, "meanwhile, guest 3 -> guest 4", bytes_per_case, min_ratio,
			NULL, NULL, NULL, 0);
	emu_close(gs[0], c3);
	emu_guest_stop(gs[3]);
	poll_ms(g346, 3, 50);
}

static void
tiny_rx(void)
{
	struct emu_guest_opts o;
	struct emu_guest *g346[3];
	struct harness_flow f;
	int c3, c6, ret;

	printf("guest 6 with 1-byte rx buffers\n");
	emu_guest_destroy(gs[3]);
	poll_ms(gs, 3, 200); /* the switch sees the frontend go */
	harness_guest_opts(&h, 6, &o);
	o.rx_buf_size = 1;
	o.rx_layout = EMU_RX_SINGLE;
	gs[3] = harness_guest(&h, 6, &o);
	g346[0] = gs[0];
	g346[1] = gs[1];
	g346[2] = gs[3];
	harness_pair(gs[0], gs[3], 7600, VSOCK_TYPE_STREAM, &c3, &c6);
	harness_flow_init(&f, "guest 3 -> guest 6, one byte per packet", gs[0], c3, gs[3], c6,
			  7, 64 * 1024);
	ret = harness_flows_run((struct harness_flow *[]){ &f }, 1, g346, 3, 10000);
	CHECK(ret == 0, "64 KiB arrive one byte per rx buffer (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&f);
	harness_flow_fini(&f);
	pair_check_rate(&good, "after the 1-byte transfer, guest 3 -> guest 4", bytes_per_case,
			min_ratio, NULL, NULL, &gs[3], 1);
	harness_check_clean(gs[3], "guest 6 (1-byte buffers)");
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4, 5, 6 };
	int64_t m;

	bytes_per_case = harness_env_u64("VS_HOSTILE_BYTES", 16 * MB);
	min_ratio = harness_env_u64("VS_HOSTILE_MIN_PERCENT", 20) / 100.0;
	pair_harness = &h;
	harness_start(&h, sw, cids, 4);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	gs[2] = harness_guest(&h, 5, NULL);
	gs[3] = harness_guest(&h, 6, NULL);
	pair_open(&good, gs[0], gs[1], 7000);
	printf("the good pair alone\n");
	pair_check_rate(&good, "baseline", bytes_per_case, 0, NULL, NULL, NULL, 0);

	spoofed();
	reserved();
	no_connection();
	request_floods();
	stuck_receiver();
	headerless_rx();
	tiny_rx();

	poll_ms(gs, 4, 200);
	m = tel_u64(&h, "/vsock/stats", "mbufs_in_use");
	CHECK(m >= 0 && m < 256, "mbufs in use at the end: %lld", (long long)m);
	harness_check_clean(gs[0], "guest 3");
	CHECK(harness_alive(&h), "the switch is alive");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	emu_guest_destroy(gs[2]);
	emu_guest_destroy(gs[3]);
	harness_stop(&h);
	return harness_finish(test_name);
}
