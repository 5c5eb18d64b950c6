/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * hostile_limits: what one guest can take from the others through the switch's
 * shared resources. Each case runs on a fresh switch.
 *
 *  1. REQUEST flood past the receiver's backlog. Control packets beyond twice
 *     the backlog limit are dropped, but both connection ends were already in
 *     the flow table (the sender's at egress, the receiver's at ingress) and
 *     nobody ever answers: the ends stay forever. A guest fills its lcore's
 *     flow table this way and every other guest on the lcore is refused.
 *     Expected: no ends left once the flood is answered or dropped, and a new
 *     connection between two other guests still works.
 *  2. RW far beyond credit. The switch does not hold a sender to the credit its
 *     peer advertised: a guest pouring data into a connection its peer never
 *     reads fills that peer's rx ring and backlog, and every other sender to the
 *     same guest is stalled behind it. Expected: the good pair to the same
 *     receiver keeps at least 20% of its rate.
 *  3. A receiver that advertises a large buf_alloc (8 MiB) and then stops taking
 *     packets. Its sender, a well-behaved guest within credit, has its whole tx
 *     ring stopped behind the data for that receiver once the backlog passes
 *     its soft limit: its connections to everybody else stop too.
 *     Expected: the sender's other connection keeps flowing; a new connection
 *     to the sleeper is refused (about a second) instead of stopping the
 *     sender's tx ring.
 *  4. Connection limit (--max-conns 8). Guest 3 opens 8 connections to guest 4:
 *     both are at their limit. A 9th REQUEST from guest 3 gets an RST, and so
 *     does a REQUEST from guest 5 towards guest 4; closing one connection makes
 *     room again; guests 5 and 6 are not affected.
 *  5. Handshake timeout (--handshake-timeout 300). Guest 5 sends REQUESTs to
 *     guest 6, which never answers (not polled): both ends of each are reset
 *     once the timeout passes, and guest 5 gets an RST for each.
 *  6. Linger timeout (--linger-timeout 300). Guest 5 shuts a connection to
 *     guest 6 down both ways and guest 6 never answers with the RST: both ends
 *     are reset once the timeout passes.
 *
 * Fixed by: per-guest connection limit, handshake and linger timeouts (1, 4-6),
 * credit enforcement and data that never waits for a receiver's backlog (2, 3);
 * doc/security.rst states the limits and bounds.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

static const char *test_name = "hostile_limits";

#define MB (1024 * 1024)

static struct harness h;
static struct emu_guest *gs[4]; /* 3, 4, 5, 6 */
static uint64_t bytes_per_case;
static double min_ratio;
static uint8_t junk[65536];

/*
 * A fresh switch (more options in @extra, NULL-terminated, or NULL) and guests
 * 3-6; guest 6 advertises @buf_alloc6 (0: default).
 */
static void
start(uint32_t buf_alloc6, const char *const *extra)
{
	uint64_t cids[] = { 3, 4, 5, 6 };
	struct emu_guest_opts o6;

	pair_harness = &h;
	hostile_start(&h, harness_switch_path(0, NULL), cids, 4, "0-1", NULL, extra);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	gs[2] = harness_guest(&h, 5, NULL);
	harness_guest_opts(&h, 6, &o6);
	if (buf_alloc6 != 0)
		o6.buf_alloc = buf_alloc6;
	gs[3] = harness_guest(&h, 6, &o6);
}

static void
stop(void)
{
	int i;

	for (i = 0; i < 4; i++)
		emu_guest_destroy(gs[i]);
	harness_stop(&h);
}

static int64_t
g_stat(int cid, const char *key)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "/vsock/guest,%d", cid);
	return tel_u64(&h, cmd, key);
}

/* ---- 1 ---- */

static void
request_flood(void)
{
	static const char *const small_table[] = { "--max-flows", "16384", NULL };
	struct vsock_hdr rq = { .src_cid = 5, .dst_cid = 4, .dst_port = 7300,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536 };
	uint64_t sent = 0, limit = harness_env_u64("VS_HOSTILE_REQUESTS", 150000);
	double t0 = harness_now_ms();
	unsigned int full_polls = 0;
	int64_t c0, c1;
	int during[9], ntried = 0, nok = 0, i, c;
	struct pair p;

	printf("1. %llu REQUESTs from guest 5 to a closed port of guest 4, which is busy "
	       "(polled once per 16 full tx rings); --max-flows 16384\n",
	       (unsigned long long)limit);
	start(0, small_table);
	c0 = tel_u64(&h, "/vsock/stats", "connection_ends");
	emu_listen(gs[1], 7302, VSOCK_TYPE_STREAM);
	while (sent < limit && harness_now_ms() - t0 < 15000) {
		rq.src_port = 100000 + (uint32_t)sent;
		if (emu_send_raw(gs[2], &rq, NULL, 0) == 0) {
			sent++;
			/* Now and then guest 3 connects to guest 4 (a listening port). */
			if (sent % 8192 == 0 && ntried < 9)
				during[ntried++] = emu_connect(gs[0], 4, 7302, VSOCK_TYPE_STREAM);
			continue;
		}
		emu_guest_poll(gs[2]);
		emu_guest_poll(gs[0]);
		if (++full_polls % 16 == 0)
			emu_guest_poll(gs[1]);
	}
	poll_ms(gs, 3, 300);
	for (i = 0; i < ntried; i++)
		nok += during[i] >= 0 && emu_conn_state(gs[0], during[i]) == EMU_CONN_CONNECTED;
	/* Guest 4 answers what is left of the flood (or the handshake timeout does). */
	t0 = harness_now_ms();
	while ((c1 = tel_u64(&h, "/vsock/stats", "connection_ends")) - c0 > 2 * nok &&
	       harness_now_ms() - t0 < 10000)
		poll_ms(gs, 3, 50);
	printf("  (%llu sent; backlog drops at guest 4: %lld; flow table full: %lld)\n",
	       (unsigned long long)sent, (long long)g_stat(4, "drop_backlog_full"),
	       (long long)(g_stat(5, "drop_flow_table_full") + g_stat(4, "drop_flow_table_full")));
	CHECK(ntried > 0 && nok == ntried, "during the flood, guest 3's connections to guest 4 "
	      "all succeed (%d of %d): the flooder is held to a limit of its own", nok, ntried);
	CHECK(c1 - c0 <= 2 * nok, "no connection ends left behind by the flood (%lld -> %lld)",
	      (long long)c0, (long long)c1);
	for (i = 0; i < ntried; i++)
		emu_close(gs[0], during[i]);
	while ((c = emu_accept(gs[1], 7302)) >= 0)
		emu_close(gs[1], c);
	poll_ms(gs, 3, 100);

	/* Afterwards, a new connection. */
	pair_stall_ms = 5000;
	emu_listen(gs[1], 7303, VSOCK_TYPE_STREAM);
	p = (struct pair){ .a = gs[0], .b = gs[1], .seed = 1 };
	p.ca = emu_connect(gs[0], 4, 7303, VSOCK_TYPE_STREAM);
	poll_ms(gs, 2, 200);
	p.cb = emu_accept(gs[1], 7303);
	CHECK(p.ca >= 0 && p.cb >= 0 && emu_conn_state(gs[0], p.ca) == EMU_CONN_CONNECTED,
	      "after the flood, guest 3 connects to guest 4 (state %d, error %d)",
	      emu_conn_state(gs[0], p.ca), emu_conn_error(gs[0], p.ca));
	if (p.cb >= 0 && emu_conn_state(gs[0], p.ca) == EMU_CONN_CONNECTED)
		CHECK(pair_run(&p, "and uses it", 1 * MB, NULL, NULL, NULL, 0) > 0, "and uses it");
	stop();
}

/* ---- 2 ---- */

struct pour {
	struct emu_guest *g;
	struct vsock_hdr h;
	uint64_t sent;
};

static void
pour_step(void *arg)
{
	struct pour *f = arg;
	int i;

	emu_guest_poll(f->g);
	for (i = 0; i < 16; i++) {
		if (emu_send_raw(f->g, &f->h, junk, f->h.len) != 0)
			break;
		f->sent++;
	}
}

static void
beyond_credit(void)
{
	struct emu_conn_info i5;
	struct pour f = { 0 };
	struct pair good;
	int c5, c4;
	int64_t m;

	printf("2. guest 5 pours RW into a connection guest 4 never reads\n");
	start(0, NULL);
	pair_stall_ms = 5000;
	pair_open(&good, gs[0], gs[1], 7000);
	pair_check_rate(&good, "baseline", bytes_per_case, 0, NULL, NULL, NULL, 0);
	harness_pair(gs[2], gs[1], 7100, VSOCK_TYPE_STREAM, &c5, &c4);
	emu_conn_info(gs[2], c5, &i5);
	f.g = gs[2];
	f.h = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 4, .src_port = i5.local_port,
		.dst_port = 7100, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RW, .len = 65536,
		.buf_alloc = 262144 };
	pair_check_rate(&good, "guest 3 -> guest 4 while guest 5 pours", bytes_per_case, min_ratio,
			pour_step, &f, NULL, 0);
	m = tel_u64(&h, "/vsock/stats", "mbufs_in_use");
	printf("  (%llu RW of 64 KiB poured; mbufs in use %lld; guest 4 backlog %lld bytes)\n",
	       (unsigned long long)f.sent, (long long)m, (long long)g_stat(4, "backlog_bytes"));
	CHECK(g_stat(5, "drop_credit_violation") == 1, "the first RW beyond credit reset the "
	      "connection (credit_violation %lld), the rest found none (no_connection %lld)",
	      (long long)g_stat(5, "drop_credit_violation"),
	      (long long)g_stat(5, "drop_no_connection"));
	CHECK(emu_conn_state(gs[1], c4) == EMU_CONN_CLOSED &&
	      emu_conn_error(gs[1], c4) == -ECONNRESET,
	      "guest 4's end got the RST (state %d, error %d)", emu_conn_state(gs[1], c4),
	      emu_conn_error(gs[1], c4));
	CHECK(g_stat(4, "backlog_bytes") <= 262144, "guest 4's backlog stays within the credit");
	stop();
}

/* ---- 3 ---- */

static void
stuck_big_receiver(void)
{
	/* A long handshake timeout: only the stuck-receiver rule may refuse below. */
	static const char *const opts[] = { "--handshake-timeout", "60000", NULL };
	struct pair good;
	static uint8_t buf[4 * MB];
	int c3, c6;
	ssize_t n;

	printf("3. guest 6 advertises 8 MiB of credit, then stops taking packets\n");
	start(8 * MB, opts);
	pair_stall_ms = 5000;
	pair_open(&good, gs[0], gs[1], 7000);
	pair_check_rate(&good, "baseline", bytes_per_case, 0, NULL, NULL, NULL, 0);
	harness_pair(gs[0], gs[3], 7400, VSOCK_TYPE_STREAM, &c3, &c6);
	harness_pattern(5, 0, buf, sizeof(buf));
	n = emu_send(gs[0], c3, buf, sizeof(buf));
	printf("  (guest 3 queued %zd bytes for guest 6, within its credit)\n", n);
	/* Guest 6 is not polled from here on. */
	pair_check_rate(&good, "guest 3 -> guest 4 while guest 6 sleeps", bytes_per_case,
			min_ratio, NULL, NULL, NULL, 0);
	printf("  (guest 6 backlog: %lld packets, %lld bytes; guest 3 stalls %lld)\n",
	       (long long)g_stat(6, "backlog_packets"), (long long)g_stat(6, "backlog_bytes"),
	       (long long)g_stat(3, "backpressure_stalls"));
	CHECK(g_stat(6, "backlog_bytes") <= 4 * MB, "guest 6's backlog stays under its hard "
	      "limit (4 x --backlog-bytes): %lld bytes", (long long)g_stat(6, "backlog_bytes"));
	CHECK(tel_u64(&h, "/vsock/stats", "mbufs_in_use") <= 2048 + 1024 + 64,
	      "switch mbufs bounded: %lld", (long long)tel_u64(&h, "/vsock/stats", "mbufs_in_use"));

	/* A new connection to the sleeper: refused once it looks stuck, instead of
	 * waiting in guest 3's tx ring (and stopping guest 3's other traffic). */
	if (g_stat(6, "backlog_bytes") >= MB) {
		double t0 = harness_now_ms();
		int c = emu_connect(gs[0], 6, 7401, VSOCK_TYPE_STREAM);

		while (c >= 0 && emu_conn_state(gs[0], c) == EMU_CONN_CONNECTING &&
		       harness_now_ms() - t0 < 10000)
			poll_ms(gs, 2, 10);
		CHECK(c >= 0 && emu_conn_state(gs[0], c) == EMU_CONN_CLOSED &&
		      emu_conn_error(gs[0], c) == -ECONNREFUSED,
		      "guest 3 -> guest 6 (stuck, over its soft limit) is refused after %.0f ms "
		      "(state %d, error %d)", harness_now_ms() - t0, emu_conn_state(gs[0], c),
		      emu_conn_error(gs[0], c));
		pair_check_rate(&good, "guest 3 -> guest 4 afterwards", bytes_per_case, min_ratio,
				NULL, NULL, NULL, 0);
	} else {
		printf("  (guest 6's backlog is under its soft limit: no REQUEST check)\n");
	}
	stop();
}

/* ---- 4 ---- */

static int
connect_wait(struct emu_guest *g, uint64_t cid, uint32_t port)
{
	int c = emu_connect(g, cid, port, VSOCK_TYPE_STREAM);
	double t0 = harness_now_ms();

	while (c >= 0 && emu_conn_state(g, c) == EMU_CONN_CONNECTING &&
	       harness_now_ms() - t0 < 10000)
		poll_ms(gs, 4, 5);
	return c;
}

static void
conn_limit(void)
{
	static const char *const opts[] = { "--max-conns", "8", NULL };
	int c3[8], c, c5, i, n = 0;
	struct pair p;

	printf("4. --max-conns 8: guest 3 opens 8 connections to guest 4\n");
	start(0, opts);
	emu_listen(gs[1], 7500, VSOCK_TYPE_STREAM);
	emu_listen(gs[3], 7501, VSOCK_TYPE_STREAM);
	for (i = 0; i < 8; i++) {
		c3[i] = connect_wait(gs[0], 4, 7500);
		n += c3[i] >= 0 && emu_conn_state(gs[0], c3[i]) == EMU_CONN_CONNECTED;
	}
	CHECK(n == 8, "8 connections up (%d)", n);
	CHECK(g_stat(3, "connections") == 8 && g_stat(4, "connections") == 8,
	      "both guests count 8 (%lld, %lld)", (long long)g_stat(3, "connections"),
	      (long long)g_stat(4, "connections"));
	c = connect_wait(gs[0], 6, 7501);
	CHECK(c >= 0 && emu_conn_state(gs[0], c) == EMU_CONN_CLOSED &&
	      emu_conn_error(gs[0], c) == -ECONNREFUSED,
	      "a 9th from guest 3 (to guest 6) is refused (state %d, error %d)",
	      emu_conn_state(gs[0], c), emu_conn_error(gs[0], c));
	c5 = connect_wait(gs[2], 4, 7500);
	CHECK(c5 >= 0 && emu_conn_state(gs[2], c5) == EMU_CONN_CLOSED &&
	      emu_conn_error(gs[2], c5) == -ECONNREFUSED,
	      "guest 5 -> guest 4 (at its limit) is refused (state %d, error %d)",
	      emu_conn_state(gs[2], c5), emu_conn_error(gs[2], c5));
	CHECK(g_stat(3, "drop_connection_limit") + g_stat(5, "drop_connection_limit") +
	      g_stat(4, "drop_connection_limit") + g_stat(6, "drop_connection_limit") == 2,
	      "two connection_limit drops counted");
	emu_close(gs[0], c);
	emu_close(gs[2], c5);

	/* Guests 5 and 6 are not affected. */
	pair_stall_ms = 5000;
	pair_open(&p, gs[2], gs[3], 7502);
	CHECK(pair_run(&p, "guest 5 -> guest 6", 1 * MB, NULL, NULL, NULL, 0) > 0,
	      "guest 5 -> guest 6 works");

	/* One connection fewer: room for one more. */
	emu_close(gs[0], c3[0]);
	while ((i = emu_accept(gs[1], 7500)) >= 0)
		emu_close(gs[1], i);
	poll_ms(gs, 4, 300);
	c = connect_wait(gs[0], 6, 7501);
	CHECK(c >= 0 && emu_conn_state(gs[0], c) == EMU_CONN_CONNECTED,
	      "after closing one, guest 3 connects again (state %d, error %d)",
	      emu_conn_state(gs[0], c), emu_conn_error(gs[0], c));
	stop();
}

/* ---- 5, 6 ---- */

static void
wait_ends(int64_t target, int ms)
{
	double t0 = harness_now_ms();

	while (tel_u64(&h, "/vsock/stats", "connection_ends") > target &&
	       harness_now_ms() - t0 < ms)
		poll_ms(gs, 3, 50);
}

static void
handshake_timeout(void)
{
	static const char *const opts[] = { "--handshake-timeout", "300", NULL };
	struct vsock_hdr rq = { .src_cid = 5, .dst_cid = 6, .dst_port = 7600,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536 };
	int64_t c0, c1, rst0;
	uint32_t i;

	printf("5. --handshake-timeout 300: guest 5 sends 10 REQUESTs to guest 6, "
	       "which never answers\n");
	start(0, opts);
	c0 = tel_u64(&h, "/vsock/stats", "connection_ends");
	rst0 = g_stat(5, "rst_sent");
	for (i = 0; i < 10; i++) {
		rq.src_port = 50000 + i;
		CHECK(emu_send_raw(gs[2], &rq, NULL, 0) == 0, "REQUEST %u sent", i);
	}
	poll_ms(gs, 3, 50);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(c1 - c0 == 20, "both ends of each are tracked (%lld -> %lld)", (long long)c0,
	      (long long)c1);
	wait_ends(c0, 10000);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(c1 == c0, "after the timeout every end is gone (%lld)", (long long)c1);
	/* The first end of a connection to expire takes the other with its RST. */
	CHECK(g_stat(5, "connections_expired") + g_stat(6, "connections_expired") >= 10,
	      "each connection expired (%lld + %lld ends)",
	      (long long)g_stat(5, "connections_expired"),
	      (long long)g_stat(6, "connections_expired"));
	CHECK(g_stat(5, "rst_sent") - rst0 >= 10, "guest 5 got an RST for each (%lld)",
	      (long long)(g_stat(5, "rst_sent") - rst0));
	stop();
}

static void
linger_timeout(void)
{
	static const char *const opts[] = { "--linger-timeout", "300", NULL };
	struct emu_conn_info i5;
	struct vsock_hdr sd;
	int64_t c0, c1;
	int c5, c6, i;

	printf("6. --linger-timeout 300: guest 5 shuts down both ways, guest 6 never "
	       "answers\n");
	start(0, opts);
	c0 = tel_u64(&h, "/vsock/stats", "connection_ends");
	harness_pair(gs[2], gs[3], 7700, VSOCK_TYPE_STREAM, &c5, &c6);
	emu_conn_info(gs[2], c5, &i5);
	sd = (struct vsock_hdr){ .src_cid = 5, .dst_cid = 6, .src_port = i5.local_port,
		.dst_port = 7700, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_SHUTDOWN,
		.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, .buf_alloc = 65536 };
	/* Guest 6 is not polled from here on: nobody answers the SHUTDOWN. */
	CHECK(emu_send_raw(gs[2], &sd, NULL, 0) == 0, "SHUTDOWN sent");
	poll_ms(gs, 3, 50);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(c1 - c0 == 2, "the connection's two ends are there (%lld -> %lld)",
	      (long long)c0, (long long)c1);
	wait_ends(c0, 10000);
	c1 = tel_u64(&h, "/vsock/stats", "connection_ends");
	CHECK(c1 == c0, "after the linger timeout both ends are gone (%lld)", (long long)c1);
	CHECK(g_stat(5, "connections_expired") == 1, "guest 5's end expired (%lld)",
	      (long long)g_stat(5, "connections_expired"));
	for (i = 0; i < 100 && emu_conn_state(gs[2], c5) != EMU_CONN_CLOSED; i++)
		poll_ms(gs, 3, 20);
	CHECK(emu_conn_state(gs[2], c5) == EMU_CONN_CLOSED, "guest 5 got the RST (state %d)",
	      emu_conn_state(gs[2], c5));
	stop();
}

int
main(int argc, char **argv)
{
	const char *only = getenv("VS_HOSTILE_CASE");

	harness_switch_path(argc, argv);
	if (argc > 1)
		setenv("VS_SWITCH", argv[1], 1);
	memset(junk, 0x5a, sizeof(junk));
	bytes_per_case = harness_env_u64("VS_HOSTILE_BYTES", 16 * MB);
	min_ratio = harness_env_u64("VS_HOSTILE_MIN_PERCENT", 20) / 100.0;
	if (only == NULL || strchr(only, '1') != NULL)
		request_flood();
	if (only == NULL || strchr(only, '2') != NULL)
		beyond_credit();
	if (only == NULL || strchr(only, '3') != NULL)
		stuck_big_receiver();
	if (only == NULL || strchr(only, '4') != NULL)
		conn_limit();
	if (only == NULL || strchr(only, '5') != NULL)
		handshake_timeout();
	if (only == NULL || strchr(only, '6') != NULL)
		linger_timeout();
	return harness_finish(test_name);
}
