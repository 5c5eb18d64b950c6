/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * client_mode: guests attached with --guest ...,client. The frontend listens
 * (QEMU's -chardev socket,server=on) and the switch connects to it:
 *  - a frontend that listens before the switch starts is attached at once;
 *  - frontends that appear after the switch started are reported as missing
 *    (banner and log) and attached by librte_vhost's reconnect, within seconds;
 *  - checksummed streams both ways between client-mode guests, and to a
 *    server-mode guest in the same switch;
 *  - a frontend that quits (listener gone) and a new one on the same path: the
 *    old connections are reset, the switch reconnects, the CID is the same, and
 *    new connections carry data;
 *  - a frontend whose connection drops while its listener stays (the switch
 *    reconnects at once; the same guest memory starts a new session);
 *  - the switch never removes a client-mode socket: it is the frontend's.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dens.h"

static const char *test_name = "client_mode";

#define STREAM_BYTES (16u << 20)
#define ATTACH_MS 15000

/* A listening frontend the switch will connect to. */
static struct emu_guest *
frontend(const char *path, uint64_t cid)
{
	struct emu_guest_opts o;
	struct emu_guest *g;
	double t0 = harness_now_ms();

	dens_server_opts(&o, path);
	o.connect_timeout_ms = ATTACH_MS;
	g = emu_guest_create(&o);
	CHECK(g != NULL, "frontend on %s: the switch connected after %.0f ms (%s)", path,
	      harness_now_ms() - t0, g != NULL ? "ok" : strerror(errno));
	if (g == NULL)
		return NULL;
	CHECK(emu_guest_cid(g) == cid, "it got CID %llu (expected %llu)",
	      (unsigned long long)emu_guest_cid(g), (unsigned long long)cid);
	return g;
}

/* Streams both ways on a new connection between @a and @b. */
static void
streams(struct emu_guest **gs, int ng, struct emu_guest *a, struct emu_guest *b, uint32_t port,
	uint64_t seed, const char *what)
{
	struct harness_flow f1, f2;
	struct harness_flow *fs[2] = { &f1, &f2 };
	char n1[64], n2[64];
	int ca, cb, ret;

	harness_pair(a, b, port, VSOCK_TYPE_STREAM, &ca, &cb);
	snprintf(n1, sizeof(n1), "%s %llu->%llu", what, (unsigned long long)emu_guest_cid(a),
		 (unsigned long long)emu_guest_cid(b));
	snprintf(n2, sizeof(n2), "%s %llu->%llu", what, (unsigned long long)emu_guest_cid(b),
		 (unsigned long long)emu_guest_cid(a));
	harness_flow_init(&f1, n1, a, ca, b, cb, seed, STREAM_BYTES);
	harness_flow_init(&f2, n2, b, cb, a, ca, seed + 1, STREAM_BYTES);
	ret = harness_flows_run(fs, 2, gs, ng, 20000);
	CHECK(ret == 0, "%s: 2 x %u MiB (%s)", what, STREAM_BYTES >> 20,
	      ret ? strerror(-ret) : "ok");
	harness_flow_check(&f1);
	harness_flow_check(&f2);
	harness_flow_fini(&f1);
	harness_flow_fini(&f2);
	emu_close(a, ca);
	emu_close(b, cb);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	char p3[320], p4[320], p5[320], p6[320], a3[400], a4[400], a5[400], a6[400];
	struct emu_guest *gs[4] = { NULL };
	struct emu_guest_opts o;
	struct harness h;
	struct stat st;
	int c3, c4, ret;

	dens_prepare(&h);
	snprintf(p3, sizeof(p3), "%s/g3.sock", h.dir);
	snprintf(p4, sizeof(p4), "%s/g4.sock", h.dir);
	snprintf(p5, sizeof(p5), "%s/g5.sock", h.dir);
	snprintf(p6, sizeof(p6), "%s/g6.sock", h.dir);
	snprintf(a3, sizeof(a3), "cid=3,socket=%s,client", p3);
	snprintf(a4, sizeof(a4), "cid=4,socket=%s,client=yes", p4);
	snprintf(a5, sizeof(a5), "cid=5,socket=%s,client", p5);
	snprintf(a6, sizeof(a6), "cid=6,socket=%s", p6); /* server mode, as before */

	printf("the emulated guest's server mode\n");
	{
		char file[340];
		FILE *f;

		snprintf(file, sizeof(file), "%s/not-a-socket", h.dir);
		f = fopen(file, "w");
		if (f != NULL)
			fclose(f);
		dens_server_opts(&o, file);
		CHECK(emu_guest_listen(&o) == NULL && errno == EEXIST,
		      "a path that is not a socket is not replaced (%s)", strerror(errno));
		unlink(file);
		emu_guest_opts_init(&o, p5);
		CHECK(emu_guest_listen(&o) == NULL && errno == EINVAL,
		      "emu_guest_listen() wants server mode");
	}

	printf("guest 5's frontend listens before the switch starts\n");
	dens_server_opts(&o, p5);
	gs[2] = emu_guest_listen(&o);
	CHECK(gs[2] != NULL, "frontend 5 listens on %s", p5);
	if (gs[2] == NULL)
		return harness_finish(test_name);
	CHECK(emu_guest_accept(gs[2], 0) == -EAGAIN, "nobody connects yet: -EAGAIN");
	CHECK(emu_guest_poll(gs[2]) == 0, "a guest that is not attached polls to nothing");

	dens_start(&h, sw, NULL, 256, (const char *const[]){ "--guest", a3, "--guest", a4,
		   "--guest", a5, "--guest", a6 }, 8, 30000);
	CHECK(dens_log_count(&h, "client mode): no frontend listening yet") == 2,
	      "the banner shows guests 3 and 4 without a frontend");
	CHECK(dens_log_has(&h, "g5.sock (client mode): frontend attached"),
	      "the banner shows guest 5 attached");
	CHECK(dens_log_has(&h, "guest 3: no frontend listening on"),
	      "the log says guest 3's frontend is missing and retried");
	CHECK(dens_log_has(&h, "path=") && dens_log_has(&h, "g3.sock,server=on -device"),
	      "the banner prints QEMU's -chardev ...,server=on for a client-mode guest");
	ret = emu_guest_accept(gs[2], ATTACH_MS);
	CHECK(ret == 0 && emu_guest_cid(gs[2]) == 5, "frontend 5 attached, CID %llu (%s)",
	      (unsigned long long)emu_guest_cid(gs[2]), ret ? strerror(-ret) : "ok");
	CHECK(emu_guest_accept(gs[2], 0) == -EISCONN, "a second accept: -EISCONN");

	printf("frontends 3 and 4 appear late\n");
	gs[0] = frontend(p3, 3);
	gs[1] = frontend(p4, 4);
	emu_guest_opts_init(&o, p6);
	gs[3] = emu_guest_create(&o);
	CHECK(gs[3] != NULL && emu_guest_cid(gs[3]) == 6, "server-mode guest 6 attached");
	if (gs[0] == NULL || gs[1] == NULL || gs[3] == NULL || ret != 0)
		goto out;

	streams(gs, 4, gs[0], gs[1], 7000, 10, "client<->client");
	streams(gs, 4, gs[2], gs[3], 7001, 20, "client<->server");

	printf("frontend 4 quits mid-connection (its listener goes too), a new one comes\n");
	harness_pair(gs[0], gs[1], 7002, VSOCK_TYPE_STREAM, &c3, &c4);
	emu_guest_destroy(gs[1]);
	gs[1] = NULL;
	{
		struct harness_conn ca = { .g = gs[0], .conn = c3 };

		ret = emu_poll_until(gs, 1, harness_conn_closed, &ca, 5000);
		CHECK(ret == 0 && emu_conn_error(gs[0], c3) == -ECONNRESET,
		      "guest 3's connection to the gone guest is reset (error %d)",
		      emu_conn_error(gs[0], c3));
		emu_close(gs[0], c3);
	}
	gs[1] = frontend(p4, 4);
	if (gs[1] == NULL)
		goto out;
	streams(gs, 4, gs[0], gs[1], 7003, 30, "after the new frontend 4");

	printf("frontend 5's connection drops, its listener stays\n");
	emu_guest_crash(gs[2]);
	ret = emu_guest_accept(gs[2], ATTACH_MS);
	CHECK(ret == 0 && emu_guest_cid(gs[2]) == 5 && emu_guest_running(gs[2]),
	      "the switch reconnected to frontend 5 at once (%s)", ret ? strerror(-ret) : "ok");
	if (ret == 0)
		streams(gs, 4, gs[2], gs[0], 7004, 40, "after the reconnection of 5");

	for (int i = 0; i < 4; i++)
		if (gs[i] != NULL)
			harness_check_clean(gs[i], "guest");
	CHECK(dens_log_has(&h, "guest 4: frontend disconnected; connecting to"),
	      "the log says the switch reconnects to guest 4");
out:
	/* frontend 3 keeps its listener: the switch must not remove it */
	for (int i = 1; i < 4; i++) {
		emu_guest_destroy(gs[i]);
		gs[i] = NULL;
	}
	if (gs[0] != NULL)
		emu_guest_crash(gs[0]);
	dens_stop(&h);
	CHECK(stat(p3, &st) == 0 && S_ISSOCK(st.st_mode),
	      "the switch left client-mode socket %s to its frontend", p3);
	CHECK(stat(p6, &st) != 0, "and removed its own server-mode socket %s", p6);
	emu_guest_destroy(gs[0]);
	dens_cleanup(&h);
	return harness_finish(test_name);
}
