/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tel_common.h"

#define TEL_START_TIMEOUT_MS 30000
#define TEL_STOP_TIMEOUT_MS 10000
#define TEL_CMD_MAX 4096

static struct harness *tel_running;

static void
tel_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
tel_print_log(const struct harness *h)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/switch.log", h->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	printf("---- switch log ----\n");
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	printf("---- end of switch log ----\n");
	fclose(f);
}

static void
tel_rm_dir(const char *dir)
{
	char path[600];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A test that exits early leaves no switch behind. */
static void
tel_atexit(void)
{
	struct harness *h = tel_running;

	if (h == NULL)
		return;
	tel_running = NULL;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->pid = 0;
		tel_print_log(h);
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
	char log_level[64], log_path[300];
	const char *argv[80];
	const char *lcores = getenv("VS_TEST_LCORES");
	const char *level = getenv("VS_TEST_LOG_LEVEL");
	static bool atexit_done;
	double deadline;
	int a = 0, i, fd;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/vs-tel-XXXXXX");
	if (mkdtemp(h->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(h->prefix, sizeof(h->prefix), "vs-tel-%d", (int)getpid());
	snprintf(log_level, sizeof(log_level), "--log-level=%s", level ? level : "notice");
	h->nguests = n;
	argv[a++] = sw;
	argv[a++] = "--no-huge";
	argv[a++] = "-m";
	argv[a++] = "256";
	argv[a++] = "-l";
	argv[a++] = lcores ? lcores : "0-1";
	argv[a++] = "--no-pci";
	argv[a++] = "--file-prefix";
	argv[a++] = h->prefix;
	argv[a++] = log_level;
	argv[a++] = "--";
	for (i = 0; i < n && i < HARNESS_MAX_GUESTS; i++) {
		h->cid[i] = cids[i];
		snprintf(h->sock[i], sizeof(h->sock[i]), "%s/g%llu.sock", h->dir,
			 (unsigned long long)cids[i]);
		/* Every guest also has a hybrid socket: /vsock/guest shows it. */
		snprintf(guest_args[i], sizeof(guest_args[i]), "cid=%llu,socket=%s,uds=%s/g%llu.uds",
			 (unsigned long long)cids[i], h->sock[i], h->dir,
			 (unsigned long long)cids[i]);
		argv[a++] = "--guest";
		argv[a++] = guest_args[i];
	}
	for (i = 0; extra != NULL && extra[i] != NULL && a < 78; i++)
		argv[a++] = extra[i];
	argv[a] = NULL;
	printf("switch:");
	for (i = 0; i < a; i++)
		printf(" %s", argv[i]);
	printf("\n");
	snprintf(log_path, sizeof(log_path), "%s/switch.log", h->dir);
	fflush(stdout);
	h->pid = fork();
	if (h->pid < 0) {
		perror("fork");
		exit(1);
	}
	if (h->pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(sw, (char *const *)argv);
		perror("execv");
		_exit(127);
	}
	tel_running = h;
	if (!atexit_done) {
		atexit(tel_atexit);
		atexit_done = true;
	}
	deadline = harness_now_ms() + TEL_START_TIMEOUT_MS;
	for (i = 0; i < n; i++) {
		struct stat st;

		while (stat(h->sock[i], &st) != 0 || !S_ISSOCK(st.st_mode)) {
			if (!harness_alive(h) || harness_now_ms() > deadline) {
				printf("FAIL: socket %s did not appear\n", h->sock[i]);
				tel_print_log(h);
				exit(1);
			}
			tel_sleep_ms(10);
		}
	}
}

void
tel_stop(struct harness *h)
{
	double deadline;
	int status = 0;
	bool exited = false;

	if (h->pid <= 0) {
		CHECK(false, "switch still running at the end of the test");
		tel_print_log(h);
		return;
	}
	kill(h->pid, SIGTERM);
	/* a switch under valgrind needs longer */
	deadline = harness_now_ms() +
		   harness_env_u64("VS_TEST_STOP_TIMEOUT_MS", TEL_STOP_TIMEOUT_MS);
	while (harness_now_ms() < deadline) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			exited = true;
			break;
		}
		tel_sleep_ms(10);
	}
	if (!exited) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
	}
	h->pid = 0;
	CHECK(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "switch exits with status 0 on SIGTERM (%s %d)",
	      !exited ? "timeout, killed" : WIFEXITED(status) ? "status" : "signal",
	      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	if (harness_failures || getenv("VS_TEST_VERBOSE") != NULL)
		tel_print_log(h);
}

void
tel_cleanup(struct harness *h)
{
	char path[300];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (h == tel_running)
		tel_running = NULL;
	tel_rm_dir(h->dir);
	if (geteuid() == 0 || xdg == NULL)
		snprintf(path, sizeof(path), "/var/run/dpdk/%s", h->prefix);
	else
		snprintf(path, sizeof(path), "%s/dpdk/%s", xdg, h->prefix);
	tel_rm_dir(path);
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
			tel_sleep_ms(1);
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
