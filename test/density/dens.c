/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dens.h"

#define DENS_MAX_ARGS 64

static struct harness *dens_running;

/* A test that exits early leaves no switch behind. */
static void
dens_atexit(void)
{
	struct harness *h = dens_running;

	if (h == NULL || h->pid <= 0)
		return;
	kill(h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	h->pid = 0;
}

void
dens_prepare(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/vs-dens-XXXXXX");
	if (mkdtemp(h->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(h->prefix, sizeof(h->prefix), "vs-dens-%d", (int)getpid());
}

static void
dens_print_log(const struct harness *h)
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

int
dens_log_count(const struct harness *h, const char *needle)
{
	char path[300], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/switch.log", h->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

bool
dens_log_has(const struct harness *h, const char *needle)
{
	return dens_log_count(h, needle) > 0;
}

void
dens_start(struct harness *h, const char *switch_path, const char *lcores, unsigned int mem_mb,
	   const char *const *args, int nargs, int timeout_ms)
{
	const char *env = getenv("VS_TEST_LCORES");
	const char *argv[DENS_MAX_ARGS + 16];
	char mem[16], log_path[300];
	static bool atexit_done;
	double deadline;
	int a = 0, i, fd;

	if (nargs > DENS_MAX_ARGS) {
		printf("FAIL: too many switch arguments\n");
		exit(1);
	}
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	argv[a++] = switch_path;
	argv[a++] = "--no-huge";
	argv[a++] = "-m";
	argv[a++] = mem;
	argv[a++] = "--lcores";
	argv[a++] = env ? env : lcores ? lcores : "0-1";
	argv[a++] = "--no-pci";
	argv[a++] = "--file-prefix";
	argv[a++] = h->prefix;
	argv[a++] = "--log-level=notice";
	argv[a++] = "--";
	for (i = 0; i < nargs; i++)
		argv[a++] = args[i];
	argv[a] = NULL;
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
		execv(switch_path, (char *const *)argv);
		perror("execv");
		_exit(127);
	}
	dens_running = h;
	if (!atexit_done) {
		atexit(dens_atexit);
		atexit_done = true;
	}
	printf("switch %s pid %d, files in %s\n", switch_path, (int)h->pid, h->dir);
	deadline = harness_now_ms() + timeout_ms;
	while (!dens_log_has(h, "Ready.")) {
		if (!harness_alive(h) || harness_now_ms() > deadline) {
			printf("FAIL: the switch did not get ready\n");
			dens_print_log(h);
			exit(1);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
}

void
dens_server_opts(struct emu_guest_opts *o, const char *path)
{
	emu_guest_opts_init(o, path);
	o->server = true;
	o->connect_timeout_ms = 15000;
}

long
dens_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int
dens_nfds(int pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

void
dens_stop(struct harness *h)
{
	double deadline = harness_now_ms() + 10000;
	bool exited = false;
	int status = 0;

	if (h->pid <= 0) {
		CHECK(false, "switch still running at the end of the test");
		return;
	}
	kill(h->pid, SIGTERM);
	while (harness_now_ms() < deadline) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			exited = true;
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
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
		dens_print_log(h);
}

static void
dens_rm_dir(const char *dir)
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

void
dens_cleanup(struct harness *h)
{
	char path[300];

	dens_rm_dir(h->dir);
	snprintf(path, sizeof(path), "/var/run/dpdk/%s", h->prefix);
	dens_rm_dir(path);
	dens_running = NULL;
}

int
dens_tel_query(const struct harness *h, const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/var/run/dpdk/%s/dpdk_telemetry.v2",
		 h->prefix);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    recv(fd, buf, len - 1, 0) <= 0 || /* the greeting */
	    send(fd, cmd, strlen(cmd), 0) != (ssize_t)strlen(cmd) ||
	    (n = recv(fd, buf, len - 1, 0)) <= 0) {
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	return (int)n;
}

int
dens_json_u64s(const char *json, const char *key, uint64_t *v, int max)
{
	char pat[64];
	const char *p;
	char *end;
	int n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (p == NULL)
		return -1;
	p += strlen(pat);
	while (*p == ' ' || *p == '[')
		p++;
	while (n < max && *p >= '0' && *p <= '9') {
		v[n++] = strtoull(p, &end, 10);
		p = end;
		while (*p == ' ' || *p == ',')
			p++;
	}
	return n;
}

long
dens_heap_alloc_kib(const struct harness *h)
{
	char buf[16384];
	uint64_t v;

	if (dens_tel_query(h, "/eal/heap_info,0", buf, sizeof(buf)) < 0 ||
	    dens_json_u64s(buf, "Alloc_size", &v, 1) != 1)
		return -1;
	return (long)(v / 1024);
}
