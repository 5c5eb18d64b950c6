/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * reconnect: a guest with reconnect-grace keeps its connections across a
 * frontend that disconnects and comes back (a live update), and loses them when
 * it does not come back in time, comes back with other memory, or stops its
 * driver. Guests are added at run time (GUEST-ADD ...,reconnect-grace=<ms>).
 *
 *  1. Resume: guest 3 (lcore 1, grace 5 s) streams checksummed data both ways
 *     with guest 4 (same lcore) and guest 5 (lcore 2), and takes a stream from a
 *     host program over the control socket. A third of the way, guest 3's
 *     frontend disconnects; meanwhile its peers keep sending (queued for it, or
 *     held by credit), guest 3's own driver keeps queueing on its tx ring, and
 *     telemetry and GUESTS say "suspended". The frontend comes back on the
 *     same memory and rings: every stream finishes intact, nothing is reset.
 *  1b. 150 quick disconnects and reconnects (VS_RECONNECT_CYCLES) during two
 *     streams, on one lcore and across lcores: both arrive intact. This found
 *     the new frontend connecting before librte_vhost had seen the old one go.
 *  2. Driver stop: guest 3 stops its driver (not a disconnect): its peer's
 *     connection is reset at once, well within the grace.
 *  3. Grace over: guest 6 (grace 400 ms) disconnects and stays away: its peer's
 *     connection is reset once the grace ends; when it comes back it starts
 *     afresh and new connections work.
 *  4. Other memory: guest 3 disconnects and a new frontend (a new memfd) comes
 *     on its socket: the kept connections are reset, the new guest works.
 *  5. GUEST-DEL of a suspended guest: its peers' connections are reset, the
 *     switch exits cleanly (no leak under ASan).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lc.h"

static const char *test_name = "reconnect";

#define STREAM_BYTES (3u << 20)
#define HOST_BYTES (2u << 20)
#define GRACE_MS 5000
#define SHORT_GRACE_MS 400
#define AWAY_MS 400

/* Socket paths and names of the guests (emulated guests keep the pointers). */
static char guest_paths[8][320];
static char guest_names[8][64];

static struct emu_guest *
guest_add(const struct lc_switch *s, uint64_t cid, int lcore, uint32_t grace_ms)
{
	char line[512], reply[512];
	char *path = guest_paths[cid % 8];
	struct emu_guest_opts o;
	struct emu_guest *g;
	int n, k;

	lc_sock_path(s, cid, path, sizeof(guest_paths[0]));
	snprintf(guest_names[cid % 8], sizeof(guest_names[0]), "guest %llu",
		 (unsigned long long)cid);
	k = snprintf(line, sizeof(line), "GUEST-ADD cid=%llu,socket=%s,lcore=%d",
		     (unsigned long long)cid, path, lcore);
	if (grace_ms > 0)
		snprintf(line + k, sizeof(line) - k, ",reconnect-grace=%u", grace_ms);
	n = lc_ctl(s, line, reply, sizeof(reply), 10000);
	CHECK(n > 0 && strncmp(reply, "OK", 2) == 0, "%s -> %.*s", line,
	      n > 0 ? (int)strcspn(reply, "\n") : 0, reply);
	emu_guest_opts_init(&o, path);
	o.name = guest_names[cid % 8];
	o.connect_timeout_ms = 10000;
	g = emu_guest_create(&o);
	if (g == NULL) {
		printf("FAIL: guest %llu: %s\n", (unsigned long long)cid, strerror(errno));
		exit(1);
	}
	return g;
}

/* The state GUESTS gives for @cid ("running", "suspended", ...), in @state. */
static void
guest_state(const struct lc_switch *s, uint64_t cid, char *state, size_t size)
{
	char reply[8192], key[64], *p;
	int n = lc_ctl(s, "GUESTS", reply, sizeof(reply) - 1, 10000);

	snprintf(state, size, "?");
	if (n <= 0)
		return;
	reply[n] = '\0';
	snprintf(key, sizeof(key), "GUEST cid=%llu state=", (unsigned long long)cid);
	p = strstr(reply, key);
	if (p != NULL)
		snprintf(state, size, "%.*s", (int)strcspn(p + strlen(key), " \n"),
			 p + strlen(key));
}

/* A host program's checksummed stream into guest 3, through the control socket. */
struct host_stream {
	int fd;
	int conn; /* guest 3's end */
	uint64_t sent, rcvd;
	int bad;
};

static void
host_stream_step(struct host_stream *h, struct emu_guest *g)
{
	uint8_t buf[16384], want[16384];
	ssize_t n;

	if (h->sent < HOST_BYTES) {
		size_t len = HOST_BYTES - h->sent < sizeof(buf) ? HOST_BYTES - h->sent : sizeof(buf);

		harness_pattern(77, h->sent, buf, len);
		n = send(h->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			h->sent += (uint64_t)n;
	}
	n = emu_recv(g, h->conn, buf, sizeof(buf), NULL);
	if (n > 0) {
		harness_pattern(77, h->rcvd, want, (size_t)n);
		if (memcmp(buf, want, (size_t)n) != 0)
			h->bad++;
		h->rcvd += (uint64_t)n;
	}
}

static void
host_stream_open(const struct lc_switch *s, struct emu_guest *g, struct emu_guest **gs, int ng,
		 struct host_stream *h)
{
	char line[128];
	double t0 = harness_now_ms();
	int n = 0;

	memset(h, 0, sizeof(*h));
	CHECK(emu_listen(g, 7100, VSOCK_TYPE_STREAM) == 0, "guest 3 listens on 7100");
	h->fd = lc_ctl_open(s, "CONNECT 3 7100");
	CHECK(h->fd >= 0, "host CONNECT 3 7100 sent");
	while (h->fd >= 0 && n <= 0 && harness_now_ms() - t0 < 5000) {
		emu_poll_until(gs, ng, NULL, NULL, 20);
		n = lc_read_line(h->fd, line, sizeof(line), 20);
	}
	CHECK(n > 0 && strncmp(line, "OK ", 3) == 0, "host connected to guest 3: %s",
	      n > 0 ? line : "-");
	emu_poll_until(gs, ng, NULL, NULL, 50);
	h->conn = emu_accept(g, 7100);
	CHECK(h->conn >= 0, "guest 3 accepted the host's connection");
}

/* The key's values are checked like the others. */
static void
refuse_bad_grace(const struct lc_switch *s)
{
	static const char *const bad[] = { "-1", "abc", "3600001", "", "5000,reconnect-grace=1" };
	char line[512], reply[512], path[320];
	unsigned int i;
	int n;

	lc_sock_path(s, 9, path, sizeof(path));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "GUEST-ADD cid=9,socket=%s,reconnect-grace=%s", path,
			 bad[i]);
		n = lc_ctl(s, line, reply, sizeof(reply), 10000);
		CHECK(n > 0 && strncmp(reply, "ERR EINVAL", 10) == 0, "reconnect-grace=%s -> %.*s",
		      bad[i], n > 0 ? (int)strcspn(reply, "\n") : 0, reply);
	}
}

static bool
flows_third(struct harness_flow **fs, int nf, const struct host_stream *h)
{
	int i;

	for (i = 0; i < nf; i++)
		if (fs[i]->rcvd < fs[i]->total / 3)
			return false;
	return h->rcvd >= HOST_BYTES / 3;
}

/* Wait until @a's connection is reset; true if it was, with ECONNRESET. */
static bool
reset_within(struct emu_guest **gs, int ng, struct harness_conn *a, int ms)
{
	return emu_poll_until(gs, ng, harness_conn_closed, a, ms) == 0 &&
	       emu_conn_error(a->g, a->conn) == -ECONNRESET;
}

static void
phase_resume(const struct lc_switch *s, struct emu_guest *g3, struct emu_guest *g4,
	     struct emu_guest *g5)
{
	struct emu_guest *gs[3] = { g3, g4, g5 };
	struct harness_flow f34, f43, f35, f53, *fs[4] = { &f34, &f43, &f35, &f53 };
	struct host_stream h;
	char state[32], tel[16384];
	double t0;
	int a3, a4, b3, b4, c3, c5, d3, d5, i, ret;

	printf("1. frontend disconnects and comes back with the same memory and rings\n");
	harness_pair(g3, g4, 6000, VSOCK_TYPE_STREAM, &a3, &a4);
	harness_pair(g4, g3, 6001, VSOCK_TYPE_STREAM, &b4, &b3);
	harness_pair(g3, g5, 6002, VSOCK_TYPE_STREAM, &c3, &c5);
	harness_pair(g5, g3, 6003, VSOCK_TYPE_STREAM, &d5, &d3);
	harness_flow_init(&f34, "3->4", g3, a3, g4, a4, 1, STREAM_BYTES);
	harness_flow_init(&f43, "4->3", g4, b4, g3, b3, 2, STREAM_BYTES);
	harness_flow_init(&f35, "3->5 (other lcore)", g3, c3, g5, c5, 3, STREAM_BYTES);
	harness_flow_init(&f53, "5->3 (other lcore)", g5, d5, g3, d3, 4, STREAM_BYTES);
	host_stream_open(s, g3, gs, 3, &h);

	t0 = harness_now_ms();
	while (!flows_third(fs, 4, &h) && harness_now_ms() - t0 < 60000) {
		for (i = 0; i < 4; i++)
			harness_flow_step(fs[i]);
		host_stream_step(&h, g3);
		for (i = 0; i < 3; i++)
			emu_guest_poll(gs[i]);
	}
	CHECK(flows_third(fs, 4, &h), "a third of every stream went before the disconnect");

	CHECK(emu_guest_detach(g3) == 0, "guest 3's frontend disconnects");
	t0 = harness_now_ms();
	while (harness_now_ms() - t0 < AWAY_MS) {
		for (i = 0; i < 4; i++)
			harness_flow_step(fs[i]);
		host_stream_step(&h, g3);
		for (i = 0; i < 3; i++)
			emu_guest_poll(gs[i]);
	}
	guest_state(s, 3, state, sizeof(state));
	CHECK(strcmp(state, "suspended") == 0, "GUESTS: guest 3 %s", state);
	CHECK(lc_telemetry(s, "/vsock/guest,3", tel, sizeof(tel)) > 0 &&
	      strstr(tel, "\"state\":\"suspended\"") != NULL &&
	      strstr(tel, "\"reconnect_grace_ms\":5000") != NULL,
	      "telemetry /vsock/guest,3 says suspended, grace 5000 ms: %.300s", tel);
	for (i = 0; i < 4; i++)
		CHECK(fs[i]->error == 0, "%s: no error while guest 3 is away (%llu of %llu)",
		      fs[i]->name, (unsigned long long)fs[i]->rcvd,
		      (unsigned long long)fs[i]->total);

	ret = emu_guest_reattach(g3, 10000);
	CHECK(ret == 0, "guest 3's frontend comes back (%s)", ret ? strerror(-ret) : "ok");
	t0 = harness_now_ms();
	ret = 0;
	while (harness_now_ms() - t0 < 120000) {
		int done = 0;

		for (i = 0; i < 4; i++) {
			if (harness_flow_step(fs[i]) < 0)
				ret = fs[i]->error;
			done += harness_flow_done(fs[i]);
		}
		host_stream_step(&h, g3);
		for (i = 0; i < 3; i++)
			emu_guest_poll(gs[i]);
		if (ret != 0 || (done == 4 && h.rcvd == HOST_BYTES))
			break;
	}
	CHECK(ret == 0, "no stream failed after the reconnect (%s)", ret ? strerror(-ret) : "ok");
	for (i = 0; i < 4; i++)
		harness_flow_check(fs[i]);
	CHECK(h.rcvd == HOST_BYTES && h.bad == 0, "host -> 3: %llu of %u bytes, %d bad pieces",
	      (unsigned long long)h.rcvd, HOST_BYTES, h.bad);
	guest_state(s, 3, state, sizeof(state));
	CHECK(strcmp(state, "running") == 0, "GUESTS: guest 3 %s again", state);
	for (i = 0; i < 4; i++)
		harness_flow_fini(fs[i]);
	close(h.fd);
	emu_close(g3, h.conn);
	emu_close(g3, a3);
	emu_close(g3, b3);
	emu_close(g3, c3);
	emu_close(g3, d3);
	emu_close(g4, a4);
	emu_close(g4, b4);
	emu_close(g5, c5);
	emu_close(g5, d5);
	emu_poll_until(gs, 3, NULL, NULL, 200);
}

/* Step flows and poll guests for @ms. */
static void
run_for(struct harness_flow **fs, int nf, struct emu_guest **gs, int ng, double ms)
{
	double end = harness_now_ms() + ms;
	int i;

	do {
		for (i = 0; i < nf; i++)
			harness_flow_step(fs[i]);
		for (i = 0; i < ng; i++)
			emu_guest_poll(gs[i]);
	} while (harness_now_ms() < end);
}

/* Many quick reconnects while streams run: resumes that race the owner lcore's
 * handling of the disconnect, disconnects right after a resume. */
static void
phase_many(struct emu_guest *g3, struct emu_guest *g4, struct emu_guest *g5)
{
	struct emu_guest *gs[3] = { g3, g4, g5 };
	struct harness_flow f34, f53, *fs[2] = { &f34, &f53 };
	unsigned int cycles = (unsigned int)harness_env_u64("VS_RECONNECT_CYCLES", 150);
	unsigned int k, seed = 7, fails = 0;
	int a3, a4, d3, d5, ret;

	printf("1b. %u quick reconnects during two streams\n", cycles);
	harness_pair(g3, g4, 6100, VSOCK_TYPE_STREAM, &a3, &a4);
	harness_pair(g5, g3, 6101, VSOCK_TYPE_STREAM, &d5, &d3);
	harness_flow_init(&f34, "3->4", g3, a3, g4, a4, 11, 64ull << 20);
	harness_flow_init(&f53, "5->3 (other lcore)", g5, d5, g3, d3, 12, 64ull << 20);
	for (k = 0; k < cycles; k++) {
		run_for(fs, 2, gs, 3, rand_r(&seed) % 30);
		if (emu_guest_detach(g3) != 0)
			fails++;
		run_for(fs, 2, gs + 1, 2, rand_r(&seed) % 30);
		ret = emu_guest_reattach(g3, 10000);
		if (ret != 0) {
			printf("  cycle %u: reattach: %s\n", k, strerror(-ret));
			fails++;
			break;
		}
	}
	CHECK(fails == 0, "%u detach/reattach cycles, %u failed", k, fails);
	/* The rest of the streams, smaller: what matters is what crossed the cycles. */
	f34.total = f34.sent > (1ull << 20) ? f34.sent : 1ull << 20;
	f53.total = f53.sent > (1ull << 20) ? f53.sent : 1ull << 20;
	ret = harness_flows_run(fs, 2, gs, 3, 20000);
	CHECK(ret == 0, "both streams finish after the cycles (%s)", ret ? strerror(-ret) : "ok");
	harness_flow_check(&f34);
	harness_flow_check(&f53);
	harness_flow_fini(&f34);
	harness_flow_fini(&f53);
	emu_close(g3, a3);
	emu_close(g4, a4);
	emu_close(g3, d3);
	emu_close(g5, d5);
	emu_poll_until(gs, 3, NULL, NULL, 200);
}

static void
phase_driver_stop(struct emu_guest *g3, struct emu_guest *g4)
{
	struct emu_guest *gs[2] = { g3, g4 };
	struct harness_conn a = { .g = g4 };
	double t0;
	int c3;

	printf("2. a driver stop is not a disconnect: connections reset at once\n");
	harness_pair(g4, g3, 6010, VSOCK_TYPE_STREAM, &a.conn, &c3);
	CHECK(emu_guest_stop(g3) == 0, "guest 3 stops its driver");
	t0 = harness_now_ms();
	CHECK(reset_within(gs, 2, &a, GRACE_MS / 2),
	      "guest 4's connection to 3 is reset after %.0f ms (grace %u ms)",
	      harness_now_ms() - t0, GRACE_MS);
	emu_close(g4, a.conn);
	CHECK(emu_guest_start(g3) == 0, "guest 3 starts its driver again");
	emu_poll_until(gs, 2, NULL, NULL, 300);
}

static void
phase_grace_over(const struct lc_switch *s, struct emu_guest *g6, struct emu_guest *g4)
{
	struct emu_guest *gs[2] = { g6, g4 };
	struct harness_conn a = { .g = g4 };
	struct harness_flow f;
	char state[32];
	double t0;
	int c6, ret;

	printf("3. the frontend does not come back within the grace\n");
	harness_pair(g4, g6, 6020, VSOCK_TYPE_STREAM, &a.conn, &c6);
	CHECK(emu_guest_detach(g6) == 0, "guest 6's frontend disconnects");
	emu_poll_until(&g4, 1, NULL, NULL, SHORT_GRACE_MS / 4);
	CHECK(emu_conn_state(g4, a.conn) == EMU_CONN_CONNECTED,
	      "guest 4's connection to 6 lives during the grace");
	t0 = harness_now_ms();
	CHECK(reset_within(&g4, 1, &a, 5000) && harness_now_ms() - t0 < 5000,
	      "guest 4's connection to 6 is reset once the grace (%u ms) is over, "
	      "after %.0f ms", SHORT_GRACE_MS, harness_now_ms() - t0 + SHORT_GRACE_MS / 4);
	guest_state(s, 6, state, sizeof(state));
	CHECK(strcmp(state, "suspended") != 0, "GUESTS: guest 6 %s", state);
	ret = emu_guest_reattach(g6, 10000);
	CHECK(ret == 0, "guest 6 comes back late (%s)", ret ? strerror(-ret) : "ok");
	emu_close(g4, a.conn);
	emu_poll_until(gs, 2, NULL, NULL, 200);
	harness_pair(g4, g6, 6021, VSOCK_TYPE_STREAM, &a.conn, &c6);
	harness_flow_init(&f, "4->6 afresh", g4, a.conn, g6, c6, 5, 256 << 10);
	ret = harness_flows_run((struct harness_flow *[]){ &f }, 1, gs, 2, 10000);
	CHECK(ret == 0, "a new connection to guest 6 works");
	harness_flow_check(&f);
	harness_flow_fini(&f);
}

static struct emu_guest *
phase_other_memory(struct emu_guest *g3, struct emu_guest *g5)
{
	struct emu_guest *gs[2], *n3;
	struct harness_conn a = { .g = g5 };
	struct emu_guest_opts o;
	double t0;
	int c3;

	printf("4. another guest's memory comes back on the socket\n");
	gs[0] = g3;
	gs[1] = g5;
	harness_pair(g5, g3, 6030, VSOCK_TYPE_STREAM, &a.conn, &c3);
	CHECK(emu_guest_detach(g3) == 0, "guest 3's frontend disconnects");
	emu_guest_destroy(g3);
	emu_poll_until(&g5, 1, NULL, NULL, 100);
	CHECK(emu_conn_state(g5, a.conn) == EMU_CONN_CONNECTED,
	      "guest 5's connection to 3 lives during the grace");
	emu_guest_opts_init(&o, guest_paths[3]);
	o.name = "guest 3, new memory";
	o.connect_timeout_ms = 10000;
	n3 = emu_guest_create(&o);
	CHECK(n3 != NULL, "a frontend with new memory attaches on guest 3's socket");
	if (n3 == NULL)
		exit(1);
	gs[0] = n3;
	t0 = harness_now_ms();
	CHECK(reset_within(gs, 2, &a, 3000),
	      "guest 5's kept connection is reset after %.0f ms (grace %u ms)",
	      harness_now_ms() - t0, GRACE_MS);
	emu_close(g5, a.conn);
	harness_pair(g5, n3, 6031, VSOCK_TYPE_STREAM, &a.conn, &c3);
	CHECK(emu_conn_state(g5, a.conn) == EMU_CONN_CONNECTED,
	      "a new connection to the new guest 3 works");
	emu_close(g5, a.conn);
	emu_close(n3, c3);
	emu_poll_until(gs, 2, NULL, NULL, 200);
	return n3;
}

static void
phase_delete(const struct lc_switch *s, struct emu_guest *g3, struct emu_guest *g5)
{
	struct harness_conn a = { .g = g5 };
	char reply[256];
	double t0;
	int c3, n;

	printf("5. GUEST-DEL of a suspended guest\n");
	harness_pair(g5, g3, 6040, VSOCK_TYPE_STREAM, &a.conn, &c3);
	CHECK(emu_guest_detach(g3) == 0, "guest 3's frontend disconnects");
	emu_poll_until(&g5, 1, NULL, NULL, 100);
	n = lc_ctl(s, "GUEST-DEL 3", reply, sizeof(reply), 10000);
	CHECK(n > 0 && strncmp(reply, "OK", 2) == 0, "GUEST-DEL 3 -> %.*s",
	      n > 0 ? (int)strcspn(reply, "\n") : 0, reply);
	t0 = harness_now_ms();
	CHECK(reset_within(&g5, 1, &a, 3000), "guest 5's connection to 3 is reset after %.0f ms",
	      harness_now_ms() - t0);
	emu_close(g5, a.conn);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	const char *lcores = getenv("VS_TEST_LCORES") ? getenv("VS_TEST_LCORES") : "(0-2)@(0-1)";
	bool single = getenv("VS_TEST_LCORES") != NULL;
	struct emu_guest *g3, *g4, *g5, *g6;
	struct lc_switch s;

	uint64_t cids[2] = { 4, 5 };
	/* Workers 1 and 2; or the main lcore alone (VS_TEST_LCORES=0). */
	int w1 = single ? 0 : 1, w2 = single ? 0 : 2;
	int pin[2] = { w1, w2 };

	/* Guests 4 and 5 from the command line, 3 and 6 (with a grace) at run time. */
	lc_start(&s, sw, lcores, cids, pin, 2, NULL);
	g4 = harness_guest(&s.h, 4, NULL);
	g5 = harness_guest(&s.h, 5, NULL);
	refuse_bad_grace(&s);
	g3 = guest_add(&s, 3, w1, GRACE_MS);
	g6 = guest_add(&s, 6, w2, SHORT_GRACE_MS);
	CHECK(lc_wait_running(&s, 4, 10000) == 0, "4 guests running");

	phase_resume(&s, g3, g4, g5);
	phase_many(g3, g4, g5);
	phase_driver_stop(g3, g4);
	phase_grace_over(&s, g6, g4);
	g3 = phase_other_memory(g3, g5);
	phase_delete(&s, g3, g5);

	harness_check_clean(g4, "guest 4");
	harness_check_clean(g5, "guest 5");
	emu_guest_destroy(g3);
	emu_guest_destroy(g4);
	emu_guest_destroy(g5);
	emu_guest_destroy(g6);
	lc_stop(&s);
	return harness_finish(test_name);
}
