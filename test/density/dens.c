/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dens.h"
#include "vs_proc.h"

#define DENS_MAX_ARGS 64

static struct harness *dens_running;

/* A test that exits early leaves no switch behind. */
static void
dens_atexit(void)
{
	if (dens_running != NULL)
		vs_proc_kill(&dens_running->pid);
}

void
dens_prepare(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	vs_proc_mkdtemp(h->dir, sizeof(h->dir), h->prefix, sizeof(h->prefix), "vs-dens");
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
	static bool atexit_done;
	struct vs_argv a;
	double deadline;
	int i;

	if (nargs > DENS_MAX_ARGS) {
		printf("FAIL: too many switch arguments\n");
		exit(1);
	}
	vs_argv_eal(&a, switch_path, mem_mb, "--lcores", env ? env : lcores ? lcores : "0-1",
		    h->prefix, "notice");
	vs_argv_add(&a, "--");
	for (i = 0; i < nargs; i++)
		vs_argv_add(&a, args[i]);
	h->pid = vs_proc_spawn(&a, h->dir);
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
			vs_proc_print_log(h->dir);
			exit(1);
		}
		vs_proc_sleep_ms(20);
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
	char how[64];
	bool ok;

	if (h->pid <= 0) {
		CHECK(false, "switch still running at the end of the test");
		return;
	}
	ok = vs_proc_stop(&h->pid, 10000, how, sizeof(how));
	CHECK(ok, "switch exits with status 0 on SIGTERM (%s)", how);
	if (harness_failures || getenv("VS_TEST_VERBOSE") != NULL)
		vs_proc_print_log(h->dir);
}

void
dens_cleanup(struct harness *h)
{
	vs_proc_rm_dir(h->dir);
	vs_proc_rm_runtime(h->prefix);
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
