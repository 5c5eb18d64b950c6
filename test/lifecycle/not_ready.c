/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * not_ready: a guest whose socket exists but whose rings do not run is answered
 * at once, and nothing waits for it:
 *  - CID 4 has a frontend attached, driver not started; CID 5 has no frontend;
 *  - a host CONNECT to either is refused with EHOSTUNREACH (an unknown CID with
 *    ENODEV) long before the connect timeout (10 s here);
 *  - guest 3's REQUEST to either is answered with an RST, as promptly;
 *  - once guest 4 starts its driver, no REQUEST of before reaches it (its
 *    listener has nothing to accept), and a new connection works.
 * Also GUEST-ADD / GUESTS / GUEST-DEL on the same switch: errors and listing.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lc.h"

static const char *test_name = "not_ready";

/* Far below --connect-timeout: an answer, not a timeout. */
#define PROMPT_MS 1500.0

static void
host_connect(const struct lc_switch *s, uint64_t cid, const char *expect)
{
	char line[64], reply[256];
	double t0 = harness_now_ms(), ms;
	int n;

	snprintf(line, sizeof(line), "CONNECT %llu 7000", (unsigned long long)cid);
	n = lc_ctl(s, line, reply, sizeof(reply), 5000);
	ms = harness_now_ms() - t0;
	CHECK(n > 0 && strncmp(reply, expect, strlen(expect)) == 0 && ms < PROMPT_MS,
	      "host CONNECT %llu: '%.*s' after %.1f ms", (unsigned long long)cid,
	      n > 0 ? (int)strcspn(reply, "\n") : 0, reply, ms);
}

static void
guest_connect(struct emu_guest *g, uint64_t cid)
{
	struct harness_conn a = { .g = g };
	double t0, ms;
	int ret;

	a.conn = emu_connect(g, cid, 7000, VSOCK_TYPE_STREAM);
	t0 = harness_now_ms();
	ret = emu_poll_until(&g, 1, harness_conn_closed, &a, 5000);
	ms = harness_now_ms() - t0;
	CHECK(ret == 0 && emu_conn_error(g, a.conn) == -ECONNREFUSED && ms < PROMPT_MS,
	      "guest 3 -> %llu: refused by an RST after %.1f ms (error %d)", (unsigned long long)cid, ms,
	      emu_conn_error(g, a.conn));
	emu_close(g, a.conn);
}

static void
ctl_expect(const struct lc_switch *s, const char *line, const char *expect)
{
	char reply[4096];
	int n = lc_ctl(s, line, reply, sizeof(reply), 10000);

	CHECK(n > 0 && strstr(reply, expect) != NULL, "%s -> %.*s", line,
	      n > 0 ? (int)strcspn(reply, "\n") : 0, reply);
}

/* Run "vs-ctl.py -s <control> <args>"; its output (first 4 KiB) in @out. */
static int
vs_ctl_run(const struct lc_switch *s, const char *args, char *out, size_t size)
{
	const char *py = getenv("VS_CTL");
	char cmd[1024];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "python3 %s -s %s %s 2>&1", py, s->control, args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (n + 1 < size && fgets(out + n, (int)(size - n), p) != NULL)
		n += strlen(out + n);
	out[n] = '\0';
	return pclose(p);
}

/* usertools/vs-ctl.py's guest commands (skipped without $VS_CTL). */
static void
vs_ctl(const struct lc_switch *s)
{
	char args[512], out[4096], path[320];
	int st;

	if (getenv("VS_CTL") == NULL) {
		printf("  (VS_CTL not set: vs-ctl.py not tried)\n");
		return;
	}
	lc_sock_path(s, 8, path, sizeof(path));
	snprintf(args, sizeof(args), "guest-add cid=8,socket=%s", path);
	st = vs_ctl_run(s, args, out, sizeof(out));
	CHECK(st == 0, "vs-ctl.py guest-add cid=8 (status %d) %s", st, out);
	st = vs_ctl_run(s, "guests", out, sizeof(out));
	CHECK(st == 0 && strstr(out, "configured") != NULL && strstr(out, path) != NULL,
	      "vs-ctl.py guests lists guest 8:\n%s", out);
	st = vs_ctl_run(s, args, out, sizeof(out));
	CHECK(st != 0 && strstr(out, "ERR EEXIST") != NULL, "vs-ctl.py guest-add again: %s",
	      out);
	st = vs_ctl_run(s, "guest-del 8", out, sizeof(out));
	CHECK(st == 0, "vs-ctl.py guest-del 8 (status %d) %s", st, out);
	st = vs_ctl_run(s, "guest-del 8", out, sizeof(out));
	CHECK(st != 0 && strstr(out, "ERR ENODEV") != NULL, "vs-ctl.py guest-del 8 again: %s",
	      out);
}

/* GUEST-DEL of guest 4 with a host program and guest 3 connected to it: the host
 * program reads end of file (or a reset), guest 3's connection @c3 is reset. */
static void
delete_connected(const struct lc_switch *s, struct emu_guest *g3, struct emu_guest *g4, int c3)
{
	struct emu_guest *both[2] = { g3, g4 };
	struct harness_conn a = { .g = g3, .conn = c3 };
	char line[128], buf[64];
	double t0;
	int fd, n;
	ssize_t r;

	printf("GUEST-DEL of a guest with connections\n");
	CHECK(emu_listen(g4, 7002, VSOCK_TYPE_STREAM) == 0, "guest 4 listens on 7002");
	fd = lc_ctl_open(s, "CONNECT 4 7002");
	CHECK(fd >= 0, "host CONNECT 4 7002 sent");
	if (fd < 0)
		return;
	t0 = harness_now_ms();
	n = 0;
	while (n <= 0 && harness_now_ms() - t0 < 5000) {
		emu_poll_until(both, 2, NULL, NULL, 20);
		n = lc_read_line(fd, line, sizeof(line), 20);
	}
	CHECK(n > 0 && strncmp(line, "OK ", 3) == 0, "host connected: %s", n > 0 ? line : "-");
	emu_poll_until(both, 2, NULL, NULL, 50);
	CHECK(emu_accept(g4, 7002) >= 0, "guest 4 accepted the host's connection");
	ctl_expect(s, "GUEST-DEL 4", "OK");
	emu_guest_destroy(g4);
	t0 = harness_now_ms();
	r = -1;
	while (harness_now_ms() - t0 < PROMPT_MS) {
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			break;
		usleep(1000);
	}
	CHECK(r == 0 || (r < 0 && errno == ECONNRESET),
	      "the host program reads end of file after %.1f ms (recv %zd)",
	      harness_now_ms() - t0, r);
	close(fd);
	t0 = harness_now_ms();
	CHECK(emu_poll_until(&g3, 1, harness_conn_closed, &a, 3000) == 0 &&
	      emu_conn_error(g3, c3) == -ECONNRESET,
	      "guest 3's connection to 4 is reset after %.1f ms", harness_now_ms() - t0);
	emu_close(g3, c3);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	const char *extra[] = { "--connect-timeout", "10000", NULL };
	uint64_t cids[] = { 3, 4, 5 };
	struct emu_guest_opts o;
	struct emu_guest *g3, *g4, *both[2];
	struct lc_switch s;
	char line[1024], path[320];
	int c3, c4;

	lc_start(&s, sw, getenv("VS_TEST_LCORES") ? getenv("VS_TEST_LCORES") : "0-1", cids,
		 NULL, 3, extra);
	g3 = harness_guest(&s.h, 3, NULL);
	harness_guest_opts(&s.h, 4, &o);
	o.start_rings = false;
	g4 = harness_guest(&s.h, 4, &o);
	CHECK(emu_listen(g4, 7000, VSOCK_TYPE_STREAM) == 0, "guest 4 listens before its driver runs");

	printf("host connects to guests that do not run\n");
	host_connect(&s, 4, "ERR EHOSTUNREACH");
	host_connect(&s, 5, "ERR EHOSTUNREACH");
	host_connect(&s, 9, "ERR ENODEV");

	printf("a guest connects to them\n");
	guest_connect(g3, 4);
	guest_connect(g3, 5);
	guest_connect(g3, 9);

	printf("guest 4 starts its driver: nothing of before is queued for it\n");
	CHECK(emu_guest_start(g4) == 0, "guest 4 starts");
	both[0] = g3;
	both[1] = g4;
	emu_poll_until(both, 2, NULL, NULL, 300);
	CHECK(emu_accept(g4, 7000) == -EAGAIN, "no connection waits on guest 4's listener");
	harness_pair(g3, g4, 7001, VSOCK_TYPE_STREAM, &c3, &c4);
	CHECK(emu_send(g3, c3, "x", 1) == 1, "a new connection to guest 4 works");

	printf("telemetry\n");
	{
		char json[16384];
		const char *p;
		int n = lc_telemetry(&s, "/vsock/guest,3", json, sizeof(json));

		p = n > 0 ? strstr(json, "\"numa_node\":") : NULL;
		/* Where the kernel has no NUMA (no node0), -1 is the honest answer. */
		CHECK(p != NULL && (p[12] != '-' || access("/sys/devices/system/node/node0", F_OK)),
		      "/vsock/guest,3 shows the NUMA node of a running guest's memory (%.16s)",
		      p != NULL ? p : n > 0 ? "no numa_node" : strerror(-n));
		n = lc_telemetry(&s, "/vsock/guest,5", json, sizeof(json));
		p = n > 0 ? strstr(json, "\"numa_node\":") : NULL;
		CHECK(p != NULL && strncmp(p + 12, "-1", 2) == 0,
		      "/vsock/guest,5 (no frontend): numa_node -1 (%.16s)",
		      p != NULL ? p : "no numa_node");
	}

	printf("control commands\n");
	ctl_expect(&s, "GUESTS", "GUEST cid=4 state=running");
	ctl_expect(&s, "GUESTS", "GUEST cid=5 state=configured");
	ctl_expect(&s, "GUEST-ADD cid=4,socket=/tmp/nope.sock", "ERR EEXIST");
	snprintf(line, sizeof(line), "GUEST-ADD cid=6,socket=%s", s.h.sock[0]);
	ctl_expect(&s, line, "ERR EADDRINUSE");
	ctl_expect(&s, "GUEST-ADD cid=1,socket=/tmp/x.sock", "ERR EINVAL");
	ctl_expect(&s, "GUEST-ADD cid=6,socket=/tmp/x.sock,lcore=99", "ERR EINVAL");
	ctl_expect(&s, "GUEST-ADD cid=6", "ERR EINVAL");
	ctl_expect(&s, "GUEST-ADD", "ERR EINVAL");
	ctl_expect(&s, "GUEST-DEL 77", "ERR ENODEV");
	ctl_expect(&s, "GUEST-DEL x", "ERR EINVAL");
	lc_sock_path(&s, 6, path, sizeof(path));
	snprintf(line, sizeof(line), "GUEST-ADD cid=6,socket=%s,uds=%s/h6", path, s.h.dir);
	ctl_expect(&s, line, "OK");
	CHECK(access(path, F_OK) == 0, "guest 6's socket exists");
	ctl_expect(&s, "GUESTS", "GUEST cid=6 state=configured");
	host_connect(&s, 6, "ERR EHOSTUNREACH");
	ctl_expect(&s, "GUEST-DEL 6", "OK");
	CHECK(access(path, F_OK) != 0, "guest 6's socket is gone");
	snprintf(path, sizeof(path), "%s/h6", s.h.dir);
	CHECK(access(path, F_OK) != 0, "guest 6's hybrid socket is gone");
	host_connect(&s, 6, "ERR ENODEV");
	ctl_expect(&s, "GUEST-DEL 5", "OK");
	ctl_expect(&s, "GUESTS", "OK 2");
	vs_ctl(&s);
	delete_connected(&s, g3, g4, c3);
	g4 = NULL;
	ctl_expect(&s, "GUESTS", "OK 1");

	harness_check_clean(g3, "guest 3");
	emu_guest_destroy(g3);
	lc_stop(&s);
	return harness_finish(test_name);
}
