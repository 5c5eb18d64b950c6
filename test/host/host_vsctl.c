/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * host_vsctl: usertools/vs-ctl.py ($VS_CTL) against the control socket.
 *  - connect: stdin to the guest, the guest's answer on stdout, exit 0;
 *  - connect --seqpacket: one message each way;
 *  - connect to a port nobody serves: "ERR ECONNREFUSED" on stderr, exit 1;
 *  - listen --once: the first guest connection relayed with stdin/stdout;
 *  - listen --exec CMD: CMD serves each guest connection;
 *  - stats: the counters.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_harness.h"

static const char *test_name = "host_vsctl";

struct proc {
	pid_t pid;
	int in; /* its stdin, -1 once closed */
	int out;
	int err;
	char obuf[4096];
	size_t olen;
	char ebuf[4096];
	size_t elen;
	int status;
	bool exited;
};

static const char *vsctl;

static void
spawn(struct proc *p, const struct hh *x, const char *const *args)
{
	int pin[2], pout[2], perr[2];
	const char *argv[24];
	int a = 0, i;

	memset(p, 0, sizeof(*p));
	if (pipe(pin) != 0 || pipe(pout) != 0 || pipe(perr) != 0) {
		perror("pipe");
		exit(1);
	}
	if (getenv("VS_CTL_TRACE") != NULL) {
		static char out[64];
		static int seq;

		snprintf(out, sizeof(out), "/tmp/vsctl-trace.%d", seq++);
		argv[a++] = "strace";
		argv[a++] = "-tt";
		argv[a++] = "-f";
		argv[a++] = "-o";
		argv[a++] = out;
	}
	argv[a++] = "python3";
	argv[a++] = vsctl;
	argv[a++] = "-s";
	argv[a++] = x->ctl;
	for (i = 0; args[i] != NULL && a < 23; i++)
		argv[a++] = args[i];
	argv[a] = NULL;
	fflush(stdout);
	p->pid = fork();
	if (p->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	p->in = pin[1];
	p->out = pout[0];
	p->err = perr[0];
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	fcntl(p->err, F_SETFL, O_NONBLOCK);
}

static void
proc_feed(struct proc *p, const char *s, bool close_after)
{
	if (s != NULL && write(p->in, s, strlen(s)) < 0)
		perror("write");
	if (close_after) {
		close(p->in);
		p->in = -1;
	}
}

/* Collect output; true once the process exited. */
static bool
proc_poll(struct proc *p)
{
	ssize_t n;

	while (p->olen < sizeof(p->obuf) - 1 &&
	       (n = read(p->out, p->obuf + p->olen, sizeof(p->obuf) - 1 - p->olen)) > 0)
		p->olen += n;
	while (p->elen < sizeof(p->ebuf) - 1 &&
	       (n = read(p->err, p->ebuf + p->elen, sizeof(p->ebuf) - 1 - p->elen)) > 0)
		p->elen += n;
	p->obuf[p->olen] = '\0';
	p->ebuf[p->elen] = '\0';
	if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->exited = true;
	return p->exited;
}

static bool
proc_wait(struct proc *p, struct emu_guest **gs, int ms)
{
	double end = harness_now_ms() + ms;

	while (!proc_poll(p) && harness_now_ms() < end)
		hh_poll_ms(gs, 1, 1);
	if (!p->exited) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		p->exited = true;
		return false;
	}
	proc_poll(p);
	return true;
}

static void
proc_end(struct proc *p)
{
	if (p->in >= 0)
		close(p->in);
	close(p->out);
	close(p->err);
}

static int
exit_code(const struct proc *p)
{
	return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
}

/* Guest side: read until EOF into @buf; returns bytes. */
static int
guest_read_all(struct emu_guest **gs, int conn, char *buf, int max, bool seq)
{
	double end = harness_now_ms() + 5000;
	int n = 0;

	while (harness_now_ms() < end && n < max - 1) {
		ssize_t r = emu_recv(gs[0], conn, buf + n, max - 1 - n, NULL);

		if (r > 0) {
			n += r;
			if (seq)
				break;
		} else if (r == 0) {
			break;
		} else {
			hh_poll_ms(gs, 1, 1);
		}
	}
	buf[n] = '\0';
	return n;
}

static int
guest_accept(struct emu_guest **gs, uint32_t port)
{
	double end = harness_now_ms() + 20000;
	int c;

	while ((c = emu_accept(gs[0], port)) < 0 && harness_now_ms() < end)
		hh_poll_ms(gs, 1, 1);
	return c;
}

/* Connect the guest to CID 2 @port, retrying while vs-ctl.py is not listening yet. */
static int
guest_connect(struct emu_guest **gs, uint32_t port)
{
	double end = harness_now_ms() + 20000;
	int c;

	while (harness_now_ms() < end) {
		c = emu_connect(gs[0], 2, port, VSOCK_TYPE_STREAM);
		while (emu_conn_state(gs[0], c) == EMU_CONN_CONNECTING && harness_now_ms() < end)
			hh_poll_ms(gs, 1, 1);
		/* CLOSING: the program may have sent everything and shut down already. */
		if (emu_conn_state(gs[0], c) == EMU_CONN_CONNECTED ||
		    (emu_conn_state(gs[0], c) == EMU_CONN_CLOSING && emu_conn_error(gs[0], c) == 0))
			return c;
		emu_close(gs[0], c);
		hh_poll_ms(gs, 1, 50);
	}
	return -ETIMEDOUT;
}

static void
connect_stream(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "connect", "3", "1610", NULL };
	struct proc p;
	char buf[256];
	int c;

	printf("vs-ctl.py connect\n");
	emu_listen(gs[0], 1610, VSOCK_TYPE_STREAM);
	spawn(&p, x, args);
	proc_feed(&p, "hello from the host\n", true);
	c = guest_accept(gs, 1610);
	CHECK(c >= 0, "guest accepted");
	guest_read_all(gs, c, buf, sizeof(buf), false);
	CHECK(strcmp(buf, "hello from the host\n") == 0, "guest read stdin, then EOF");
	emu_send(gs[0], c, "hello from the guest\n", 21);
	emu_close(gs[0], c);
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 0, "vs-ctl.py exits 0 (%d, '%s')",
	      exit_code(&p), p.ebuf);
	CHECK(strcmp(p.obuf, "hello from the guest\n") == 0, "stdout is the guest's answer");
	proc_end(&p);
}

static void
connect_seqpacket(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "connect", "3", "1611", "--seqpacket", NULL };
	struct proc p;
	char buf[256];
	int c;

	printf("vs-ctl.py connect --seqpacket\n");
	emu_listen(gs[0], 1611, VSOCK_TYPE_SEQPACKET);
	spawn(&p, x, args);
	c = guest_accept(gs, 1611);
	CHECK(c >= 0, "guest accepted");
	proc_feed(&p, "one message", false);
	CHECK(guest_read_all(gs, c, buf, sizeof(buf), true) == 11 && strcmp(buf, "one message") == 0,
	      "guest got one message: '%s'", buf);
	while (emu_send(gs[0], c, "the answer", 10) == -EAGAIN)
		hh_poll_ms(gs, 1, 1);
	hh_poll_ms(gs, 1, 50);
	proc_feed(&p, NULL, true);
	hh_poll_ms(gs, 1, 50);
	emu_close(gs[0], c);
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 0, "vs-ctl.py exits 0 (%d, '%s')",
	      exit_code(&p), p.ebuf);
	CHECK(strcmp(p.obuf, "the answer") == 0, "stdout is the guest's message: '%s'", p.obuf);
	proc_end(&p);
}

static void
refused(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "connect", "3", "1699", NULL };
	struct proc p;

	printf("vs-ctl.py connect to a port nobody serves\n");
	spawn(&p, x, args);
	proc_feed(&p, NULL, true);
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 1 && strstr(p.ebuf, "ECONNREFUSED"),
	      "exit %d, stderr '%.*s'", exit_code(&p), (int)strcspn(p.ebuf, "\n"), p.ebuf);
	proc_end(&p);
}

static void
listen_once(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "listen", "7200", "--once", NULL };
	struct proc p;
	char buf[256];
	int c;

	printf("vs-ctl.py listen --once\n");
	spawn(&p, x, args);
	proc_feed(&p, "to the guest", true);
	c = guest_connect(gs, 7200);
	proc_poll(&p);
	CHECK(c >= 0, "guest connected to CID 2 port 7200 (vs-ctl.py %s, '%s')",
	      p.exited ? "exited" : "running", p.ebuf);
	if (c >= 0) {
		guest_read_all(gs, c, buf, sizeof(buf), false);
		CHECK(strcmp(buf, "to the guest") == 0, "guest read stdin, then EOF");
		emu_send(gs[0], c, "to the host", 11);
		emu_close(gs[0], c);
	}
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 0, "vs-ctl.py exits 0 (%d, '%s')",
	      exit_code(&p), p.ebuf);
	CHECK(strcmp(p.obuf, "to the host") == 0, "stdout is the guest's bytes");
	proc_end(&p);
}

static void
listen_exec(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "listen", "7201", "--exec", "tr a-z A-Z", NULL };
	struct proc p;
	char buf[64];
	int c, i;

	printf("vs-ctl.py listen --exec\n");
	spawn(&p, x, args);
	for (i = 0; i < 2; i++) {
		c = guest_connect(gs, 7201);
		proc_poll(&p);
		CHECK(c >= 0, "guest connection %d (vs-ctl.py %s, '%s')", i,
		      p.exited ? "exited" : "running", p.ebuf);
		if (c < 0)
			continue;
		emu_send(gs[0], c, "shout", 5);
		emu_shutdown(gs[0], c, SHUT_WR);
		guest_read_all(gs, c, buf, sizeof(buf), false);
		CHECK(strcmp(buf, "SHOUT") == 0, "served by the command: '%s'", buf);
		emu_close(gs[0], c);
	}
	kill(p.pid, SIGTERM);
	proc_wait(&p, gs, 20000);
	proc_end(&p);
}

static void
stats(struct hh *x, struct emu_guest **gs)
{
	static const char *const args[] = { "stats", NULL };
	static const char *const cargs[] = { "conns", NULL };
	struct proc p;
	int c;

	printf("vs-ctl.py stats and conns\n");
	spawn(&p, x, args);
	proc_feed(&p, NULL, true);
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 0 && strstr(p.obuf, "conns_open") &&
	      strstr(p.obuf, "credit_updates"), "counters printed (exit %d, '%s')", exit_code(&p),
	      p.ebuf);
	proc_end(&p);

	emu_listen(gs[0], 1612, VSOCK_TYPE_STREAM);
	c = hh_hybrid_connect(x, 3, 1612, SOCK_STREAM, NULL, gs, 1);
	spawn(&p, x, cargs);
	proc_feed(&p, NULL, true);
	CHECK(proc_wait(&p, gs, 20000) && exit_code(&p) == 0 && strstr(p.obuf, "HOST_PORT") &&
	      strstr(p.obuf, " 1612 ") && strstr(p.obuf, "connected"),
	      "the connection is listed:\n%s", p.obuf);
	proc_end(&p);
	if (c >= 0)
		close(c);
	hh_poll_ms(gs, 1, 50);
	c = emu_accept(gs[0], 1612);
	if (c >= 0)
		emu_close(gs[0], c);
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3 };
	struct emu_guest *gs[1];
	struct hh x;

	vsctl = getenv("VS_CTL");
	if (vsctl == NULL || access(vsctl, R_OK) != 0 || system("python3 -c '' 2>/dev/null")) {
		printf("%s: SKIP (no $VS_CTL or no python3)\n", test_name);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	hh_start(&x, sw, cids, 1, NULL);
	gs[0] = hh_guest(&x, 3, NULL);

	connect_stream(&x, gs);
	connect_seqpacket(&x, gs);
	refused(&x, gs);
	listen_once(&x, gs);
	listen_exec(&x, gs);
	stats(&x, gs);

	hh_poll_ms(gs, 1, 100);
	harness_check_clean(gs[0], "guest 3");
	emu_guest_destroy(gs[0]);
	harness_stop(&x.h);
	return harness_finish(test_name);
}
