/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tel_common.h"
#include "vs_proc.h"

#define TEL_START_TIMEOUT_MS 30000
#define TEL_STOP_TIMEOUT_MS 10000
#define TEL_CMD_MAX 4096

static struct harness *tel_running;

/* A test that exits early leaves no switch behind. */
static void
tel_atexit(void)
{
	struct harness *h = tel_running;

	if (h == NULL)
		return;
	tel_running = NULL;
	if (h->pid > 0) {
		vs_proc_kill(&h->pid);
		vs_proc_print_log(h->dir);
	}
	tel_cleanup(h);
}

void
tel_env_init(struct tel_env *e, int argc, char **argv)
{
	if (argc < 4 || access(argv[1], X_OK) != 0) {
		fprintf(stderr, "usage: %s <vsock-switch> <python3> <tel_check.py> [<vs-top.py>]\n",
			argv[0]);
		exit(1);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	e->sw = argv[1];
	e->python = argv[2];
	e->check = argv[3];
	e->vstop = argc > 4 ? argv[4] : NULL;
}

void
tel_start(struct harness *h, const char *sw, const uint64_t *cids, int n,
	  const char *const *extra)
{
	char guest_args[HARNESS_MAX_GUESTS][1024];
	const char *lcores = getenv("VS_TEST_LCORES");
	static bool atexit_done;
	struct vs_argv a;
	double deadline;
	int i;

	memset(h, 0, sizeof(*h));
	vs_proc_mkdtemp(h->dir, sizeof(h->dir), h->prefix, sizeof(h->prefix), "vs-tel");
	h->nguests = n;
	vs_argv_eal(&a, sw, 256, "-l", lcores ? lcores : "0-1", h->prefix,
		    getenv("VS_TEST_LOG_LEVEL"));
	vs_argv_add(&a, "--");
	for (i = 0; i < n && i < HARNESS_MAX_GUESTS; i++) {
		h->cid[i] = cids[i];
		snprintf(h->sock[i], sizeof(h->sock[i]), "%s/g%llu.sock", h->dir,
			 (unsigned long long)cids[i]);
		/* Every guest also has a hybrid socket: /vsock/guest shows it. */
		snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s,uds=%s/g%llu.uds",
			 (unsigned long long)cids[i], h->sock[i], h->dir,
			 (unsigned long long)cids[i]);
		vs_argv_add(&a, "--guest");
		vs_argv_add(&a, guest_args[i]);
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		vs_argv_add(&a, extra[i]);
	printf("switch:");
	for (i = 0; i < a.n; i++)
		printf(" %s", a.v[i]);
	printf("\n");
	h->pid = vs_proc_spawn(&a, h->dir);
	tel_running = h;
	if (!atexit_done) {
		atexit(tel_atexit);
		atexit_done = true;
	}
	deadline = harness_now_ms() + TEL_START_TIMEOUT_MS;
	for (i = 0; i < n; i++)
		vs_proc_await_socket(&h->pid, h->dir, h->sock[i], deadline);
}

void
tel_stop(struct harness *h)
{
	char how[64];
	bool ok;

	if (h->pid <= 0) {
		CHECK(false, "switch still running at the end of the test");
		vs_proc_print_log(h->dir);
		return;
	}
	/* a switch under valgrind needs longer */
	ok = vs_proc_stop(&h->pid,
			  (int)harness_env_u64("VS_TEST_STOP_TIMEOUT_MS", TEL_STOP_TIMEOUT_MS),
			  how, sizeof(how));
	CHECK(ok, "switch exits with status 0 on SIGTERM (%s)", how);
	if (harness_failures || getenv("VS_TEST_VERBOSE") != NULL)
		vs_proc_print_log(h->dir);
}

void
tel_cleanup(struct harness *h)
{
	if (h == tel_running)
		tel_running = NULL;
	vs_proc_rm_dir(h->dir);
	vs_proc_rm_runtime(h->prefix);
}

static pid_t
tel_spawn(const struct tel_env *e, const char *fmt, va_list ap)
{
	char args[TEL_CMD_MAX], cmd[TEL_CMD_MAX + 600];
	pid_t pid;

	vsnprintf(args, sizeof(args), fmt, ap);
	snprintf(cmd, sizeof(cmd), "exec '%s' '%s' %s", e->python, e->check, args);
	printf("check: %s\n", args);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int
tel_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int
tel_check(const struct tel_env *e, const char *fmt, ...)
{
	va_list ap;
	pid_t pid;
	int status;

	va_start(ap, fmt);
	pid = tel_spawn(e, fmt, ap);
	va_end(ap);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return tel_status(status);
}

int
tel_check_polling(const struct tel_env *e, struct emu_guest **gs, int ng,
		  struct harness_flow **fs, int nf, const char *fmt, ...)
{
	struct timespec idle = { .tv_nsec = 100000 };
	va_list ap;
	pid_t pid;
	int status, i, work;

	va_start(ap, fmt);
	pid = tel_spawn(e, fmt, ap);
	va_end(ap);
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return tel_status(status);
		work = 0;
		for (i = 0; i < nf; i++)
			if (harness_flow_step(fs[i]) > 0)
				work++;
		for (i = 0; i < ng; i++)
			if (gs[i] != NULL && emu_guest_poll(gs[i]) > 0)
				work++;
		if (work == 0)
			nanosleep(&idle, NULL);
	}
}

struct tel_pair_arg {
	struct emu_guest *from, *to;
	uint32_t port;
	int from_conn, to_conn;
};

static int
tel_pair_done(void *p)
{
	struct tel_pair_arg *a = p;

	if (a->to_conn < 0)
		a->to_conn = emu_accept(a->to, a->port);
	if (a->to_conn < 0 && a->to_conn != -EAGAIN)
		return 1;
	if (emu_conn_state(a->from, a->from_conn) == EMU_CONN_CLOSED)
		return 1;
	return emu_conn_state(a->from, a->from_conn) != EMU_CONN_CONNECTING && a->to_conn >= 0;
}

void
tel_pair(struct emu_guest **gs, int ng, struct emu_guest *from, struct emu_guest *to,
	 uint32_t port, uint16_t type, int *from_conn, int *to_conn)
{
	struct tel_pair_arg a = { .from = from, .to = to, .port = port, .to_conn = -EAGAIN };
	int ret;

	ret = emu_listen(to, port, type);
	if (ret < 0 && ret != -EADDRINUSE) {
		printf("FAIL: listen on port %u: %s\n", port, strerror(-ret));
		exit(1);
	}
	a.from_conn = emu_connect(from, emu_guest_cid(to), port, type);
	if (a.from_conn < 0) {
		printf("FAIL: connect to %llu:%u: %s\n", (unsigned long long)emu_guest_cid(to),
		       port, strerror(-a.from_conn));
		exit(1);
	}
	ret = emu_poll_until(gs, ng, tel_pair_done, &a, 5000);
	if (ret < 0 || a.to_conn < 0 || emu_conn_state(from, a.from_conn) != EMU_CONN_CONNECTED) {
		printf("FAIL: connection %llu -> %llu:%u: state %d error %d accept %d\n",
		       (unsigned long long)emu_guest_cid(from),
		       (unsigned long long)emu_guest_cid(to), port,
		       emu_conn_state(from, a.from_conn), emu_conn_error(from, a.from_conn),
		       a.to_conn);
		exit(1);
	}
	*from_conn = a.from_conn;
	*to_conn = a.to_conn;
}

void
tel_settle(struct emu_guest **gs, int ng, int quiet_ms)
{
	double t0 = harness_now_ms(), last = t0;
	int i, work;

	while (harness_now_ms() - last < quiet_ms && harness_now_ms() - t0 < 2000) {
		work = 0;
		for (i = 0; i < ng; i++)
			if (gs[i] != NULL && emu_guest_poll(gs[i]) > 0)
				work++;
		if (work > 0)
			last = harness_now_ms();
		else
			vs_proc_sleep_ms(1);
	}
}

uint64_t
tel_sum_ops(const uint64_t *ops)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < EMU_STATS_OPS; i++)
		n += ops[i];
	return n;
}
