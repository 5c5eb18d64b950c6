/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * The switch under test: started as a child (one per scenario group, so each
 * measurement sees only its own guests) or attached to by socket paths; its
 * worker counters through DPDK telemetry; emulated guests on its sockets.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SW_START_TIMEOUT_MS 60000
#define SW_STOP_TIMEOUT_MS 20000
#define TEL_BUF 65536

static int tel_fd = -1;
static const struct bench_switch *tel_sw;
static int sw_serial;

double
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

void
bench_sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1e3);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1e3) * 1e6);
	nanosleep(&ts, NULL);
}

void
bench_runtime_dir(const char *prefix, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0 || xdg == NULL)
		snprintf(buf, len, "/var/run/dpdk/%s", prefix);
	else
		snprintf(buf, len, "%s/dpdk/%s", xdg, prefix);
}

void
bench_rm_dir(const char *dir)
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

static void
print_log(const struct bench_switch *s)
{
	char path[300], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/switch.log", s->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	fprintf(stderr, "---- switch log ----\n");
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "---- end of switch log ----\n");
	fclose(f);
}

static bool
is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool
child_alive(struct bench_switch *s)
{
	int status;

	if (s->pid <= 0)
		return false;
	if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
		fprintf(stderr, "vsock-bench: switch exited early (%s %d)\n",
			WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		s->pid = 0;
		return false;
	}
	return true;
}

static int
sw_attach(struct bench_switch *s, int n)
{
	int i;

	if (n > bopt.nattach) {
		fprintf(stderr, "vsock-bench: %d guests needed, %d sockets given\n", n,
			bopt.nattach);
		return -1;
	}
	s->nguests = n;
	for (i = 0; i < n; i++) {
		s->sock[i] = strdup(bopt.attach[i]);
		s->cid[i] = 0; /* learnt from GET_CONFIG */
	}
	if (bopt.attach_uds != NULL) {
		snprintf(s->uds, sizeof(s->uds), "%s", bopt.attach_uds);
		s->host_ok = true;
	}
	snprintf(s->prefix, sizeof(s->prefix), "%s",
		 bopt.attach_prefix ? bopt.attach_prefix : "vsock-switch");
	return 0;
}

int
bench_switch_start(struct bench_switch *s, int n, bool with_uds)
{
	char path[320], **argv;
	double deadline;
	int a = 0, i, fd, first_guest;

	memset(s, 0, sizeof(*s));
	s->idle_round_ns = NAN;
	if (bopt.switch_path == NULL)
		return sw_attach(s, n);
	snprintf(s->dir, sizeof(s->dir), "/tmp/vs-bench-XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(s->prefix, sizeof(s->prefix), "vs-bench-%d-%d", (int)getpid(), sw_serial++);
	argv = calloc(2 * (size_t)n + 32 + (size_t)bopt.nswitch_args, sizeof(*argv));
	if (argv == NULL)
		return -1;
	argv[a++] = (char *)bopt.switch_path;
	argv[a++] = "--no-huge";
	argv[a++] = "-m";
	argv[a++] = "512";
	argv[a++] = "-l";
	argv[a++] = (char *)bopt.lcores;
	argv[a++] = "--no-pci";
	argv[a++] = "--file-prefix";
	argv[a++] = s->prefix;
	argv[a++] = "--log-level=notice";
	argv[a++] = "--log-level=lib.vhost.*:warning";
	argv[a++] = "--";
	for (i = 0; i < bopt.nswitch_args; i++)
		argv[a++] = bopt.switch_args[i];
	first_guest = a;
	s->nguests = n;
	for (i = 0; i < n; i++) {
		s->cid[i] = 3 + (uint64_t)i;
		snprintf(path, sizeof(path), "%s/g%llu.sock", s->dir, (unsigned long long)s->cid[i]);
		s->sock[i] = strdup(path);
		if (i == 0 && with_uds)
			snprintf(s->uds, sizeof(s->uds), "%s/h%llu.sock", s->dir,
				 (unsigned long long)s->cid[i]);
		if (asprintf(&argv[a + 1], "cid=%llu,socket=%s%s%s%s", (unsigned long long)s->cid[i],
			     s->sock[i], i == 0 && with_uds ? ",uds=" : "",
			     i == 0 && with_uds ? s->uds : "", bopt.client ? ",client" : "") < 0)
			return -1;
		argv[a] = "--guest";
		a += 2;
	}
	argv[a] = NULL;
	snprintf(path, sizeof(path), "%s/switch.log", s->dir);
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0) {
		perror("fork");
		return -1;
	}
	if (s->pid == 0) {
		cpu_set_t all;

		/* the switch goes when the bench goes, however it ends */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/*
		 * A session of its own is a scheduler autogroup of its own: the worker
		 * then competes for its CPU with its group's full weight, not with a
		 * share diluted by the bench busy on the other CPU.
		 */
		setsid();

		/* the switch places its own threads: undo the bench's pinning */
		CPU_ZERO(&all);
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &all);
		sched_setaffinity(0, sizeof(all), &all);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		execv(bopt.switch_path, argv);
		perror("execv");
		_exit(127);
	}
	for (i = first_guest; i < a; i += 2)
		free(argv[i + 1]);
	free(argv);
	deadline = bench_now_ns() + SW_START_TIMEOUT_MS * 1e6;
	/* client mode: the guests' sockets are ours to create; only the uds is waited for */
	for (i = bopt.client ? n : 0; i < n + (s->uds[0] != '\0'); i++) {
		const char *p = i < n ? s->sock[i] : s->uds;

		while (!is_socket(p)) {
			if (!child_alive(s) && with_uds) {
				/* a switch without a host endpoint refuses uds= */
				fprintf(stderr, "vsock-bench: the switch does not start with uds=; "
					"host path disabled\n");
				print_log(s);
				bench_switch_stop(s);
				return bench_switch_start(s, n, false);
			}
			if (s->pid <= 0 || bench_now_ns() > deadline) {
				fprintf(stderr, "vsock-bench: socket %s did not appear\n", p);
				print_log(s);
				bench_switch_stop(s);
				return -1;
			}
			bench_sleep_ms(5);
		}
	}
	s->host_ok = s->uds[0] != '\0';
	if (bopt.verbose)
		printf("  switch pid %d, %d guest%s, file prefix %s\n", (int)s->pid, n,
		       n == 1 ? "" : "s", s->prefix);
	return 0;
}

static void
tel_close(void)
{
	if (tel_fd >= 0)
		close(tel_fd);
	tel_fd = -1;
	tel_sw = NULL;
}

void
bench_switch_stop(struct bench_switch *s)
{
	char rt[300];
	double deadline;
	int status, i;

	if (tel_sw == s)
		tel_close();
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		deadline = bench_now_ns() + SW_STOP_TIMEOUT_MS * 1e6;
		while (waitpid(s->pid, &status, WNOHANG) != s->pid) {
			if (bench_now_ns() > deadline) {
				fprintf(stderr, "vsock-bench: switch did not stop; killed\n");
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &status, 0);
				break;
			}
			bench_sleep_ms(5);
		}
		s->pid = 0;
		if (bopt.verbose)
			print_log(s);
	}
	if (s->dir[0] != '\0' && bopt.switch_path != NULL) {
		bench_rm_dir(s->dir);
		bench_runtime_dir(s->prefix, rt, sizeof(rt));
		bench_rm_dir(rt);
	}
	for (i = 0; i < s->nguests; i++) {
		free(s->sock[i]);
		s->sock[i] = NULL;
	}
	s->nguests = 0;
}

/* ---- telemetry (DPDK's dpdk_telemetry.v2 socket) ---- */

static int
tel_open(const struct bench_switch *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[300], buf[TEL_BUF];
	double deadline = bench_now_ns() + 5e9;

	if (tel_sw == s && tel_fd >= 0)
		return 0;
	tel_close();
	bench_runtime_dir(s->prefix, dir, sizeof(dir));
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dpdk_telemetry.v2", dir) >=
	    sizeof(sun.sun_path))
		return -1;
	for (;;) {
		tel_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (tel_fd < 0)
			return -1;
		if (connect(tel_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		close(tel_fd);
		tel_fd = -1;
		if (bench_now_ns() > deadline)
			return -1;
		bench_sleep_ms(20);
	}
	/* the greeting: version, pid, max output length */
	if (recv(tel_fd, buf, sizeof(buf), 0) <= 0) {
		tel_close();
		return -1;
	}
	tel_sw = s;
	return 0;
}

/* Sum of the numbers in the JSON array after "key":[ */
static uint64_t
tel_sum(const char *json, const char *key)
{
	char pat[64];
	const char *p;
	char *end;
	uint64_t sum = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	p = strstr(json, pat);
	if (p == NULL)
		return 0;
	p += strlen(pat);
	while (*p != ']' && *p != '\0') {
		sum += strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
		if (*p == ',')
			p++;
	}
	return sum;
}

int
bench_tel_query(struct bench_switch *s, const char *cmd, char *buf, size_t len)
{
	ssize_t n;

	if (tel_open(s) < 0)
		return -1;
	if (send(tel_fd, cmd, strlen(cmd), 0) < 0) {
		tel_close();
		return -1;
	}
	n = recv(tel_fd, buf, len - 1, 0);
	if (n <= 0) {
		tel_close();
		return -1;
	}
	buf[n] = '\0';
	return (int)n;
}

/* Steal ticks (USER_HZ) of CPU @cpu from /proc/stat: time the hypervisor ran
 * something else while this virtual CPU wanted to run. */
static uint64_t
cpu_steal(int cpu)
{
	char line[512], name[16];
	unsigned long long v[8];
	FILE *f = fopen("/proc/stat", "r");
	uint64_t steal = 0;

	if (f == NULL)
		return 0;
	snprintf(name, sizeof(name), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, strlen(name)) != 0)
			continue;
		if (sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
			steal = v[7];
		break;
	}
	fclose(f);
	return steal;
}

/* The worker lcore's thread: DPDK 22.11 names it rte-worker-<lcore>. */
static int
find_worker_tid(pid_t pid)
{
	char path[320], comm[32];
	struct dirent *e;
	DIR *d;
	int tid = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while (tid == 0 && (e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, "rte-worker-", 11) == 0)
			tid = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* Nanoseconds thread @tid has run on a CPU (/proc/<pid>/task/<tid>/schedstat). */
static double
thread_cpu_ns(pid_t pid, int tid)
{
	char path[128];
	unsigned long long ns;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, tid);
	f = fopen(path, "r");
	if (f == NULL)
		return NAN;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? (double)ns : NAN;
}

double
bench_share(const struct bench_lcores *a, const struct bench_lcores *b)
{
	if (isnan(a->cpu_ns) || isnan(b->cpu_ns) || b->t_ns <= a->t_ns)
		return NAN;
	return (b->cpu_ns - a->cpu_ns) / (b->t_ns - a->t_ns);
}

double
bench_steal(const struct bench_lcores *a, const struct bench_lcores *b)
{
	if (b->t_ns <= a->t_ns)
		return NAN;
	return (double)(b->steal - a->steal) * (1e9 / (double)sysconf(_SC_CLK_TCK)) /
	       (b->t_ns - a->t_ns);
}

void
bench_stall(struct bench_switch *s, const char *what)
{
	struct bench_lcores a, b;
	const char *cmd = getenv("VS_BENCH_STALL_CMD");
	char buf[1024];
	size_t i, k = 0;

	bench_lcores_get(s, &a);
	bench_sleep_ms(300);
	bench_lcores_get(s, &b);
	printf("  WARNING: %s moved nothing in its window; worker now: %.0f rounds/s, "
	       "on its CPU %.0f%% of the time, steal %.0f%%\n", what,
	       b.t_ns > a.t_ns ? (double)(b.rounds - a.rounds) / ((b.t_ns - a.t_ns) / 1e9) : 0.0,
	       100 * bench_share(&a, &b), 100 * bench_steal(&a, &b));
	if (s->pid > 0 && s->worker_tid > 0) {
		char path[128], line[256];
		FILE *f;

		/* where the worker is: scheduler state, wait channel, kernel stack */
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)s->pid, s->worker_tid);
		f = fopen(path, "r");
		if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			char *p = strrchr(line, ')');

			printf("  worker thread state: %c", p != NULL && p[1] ? p[2] : '?');
		}
		if (f != NULL)
			fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)s->pid, s->worker_tid);
		f = fopen(path, "r");
		if (f != NULL && fgets(line, sizeof(line), f) != NULL)
			printf(", wchan %s", line);
		if (f != NULL)
			fclose(f);
		printf("\n");
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", (int)s->pid, s->worker_tid);
		f = fopen(path, "r");
		for (i = 0; f != NULL && i < 6 && fgets(line, sizeof(line), f) != NULL; i++)
			printf("    %s", line);
		if (f != NULL)
			fclose(f);
	}
	if (cmd == NULL || s->pid <= 0)
		return;
	/* VS_BENCH_STALL_CMD: a shell command, %p = the switch's pid (e.g. gdb) */
	for (i = 0; cmd[i] != '\0' && k < sizeof(buf) - 16; i++) {
		if (cmd[i] == '%' && cmd[i + 1] == 'p') {
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%d", (int)s->pid);
			i++;
		} else {
			buf[k++] = cmd[i];
		}
	}
	buf[k] = '\0';
	fflush(stdout);
	if (system(buf) != 0)
		printf("  VS_BENCH_STALL_CMD failed\n");
}

int
bench_lcores_get(struct bench_switch *s, struct bench_lcores *l)
{
	static char buf[TEL_BUF];

	memset(l, 0, sizeof(*l));
	l->steal = cpu_steal(bopt.worker_cpu);
	l->cpu_ns = NAN;
	if (bench_tel_query(s, "/vsock/lcores", buf, sizeof(buf)) < 0)
		return -1;
	if (s->pid > 0 && s->worker_tid == 0)
		s->worker_tid = find_worker_tid(s->pid);
	if (s->worker_tid > 0)
		l->cpu_ns = thread_cpu_ns(s->pid, s->worker_tid);
	l->t_ns = bench_now_ns();
	l->rounds = tel_sum(buf, "rounds");
	l->busy_rounds = tel_sum(buf, "busy_rounds");
	l->tx_pkts = tel_sum(buf, "tx_packets");
	return l->rounds > 0 ? 0 : -1;
}

double
bench_load(const struct bench_switch *s, const struct bench_lcores *a,
	   const struct bench_lcores *b)
{
	double idle, load;

	if (isnan(s->idle_round_ns) || a->rounds == 0 || b->rounds <= a->rounds ||
	    b->t_ns <= a->t_ns)
		return NAN;
	idle = (double)((b->rounds - a->rounds) - (b->busy_rounds - a->busy_rounds));
	if (!isnan(a->cpu_ns) && !isnan(b->cpu_ns))
		load = (b->cpu_ns - a->cpu_ns - idle * s->idle_round_ns) / (b->t_ns - a->t_ns);
	else
		load = 1.0 - idle * s->idle_round_ns / (b->t_ns - a->t_ns);
	return load < 0 ? 0 : load > 1 ? 1 : load;
}

void
bench_calibrate_idle(struct bench_switch *s, int ms)
{
	struct bench_lcores a, b;

	s->idle_round_ns = NAN;
	if (bench_lcores_get(s, &a) < 0)
		return;
	bench_sleep_ms(ms);
	if (bench_lcores_get(s, &b) < 0 || b.rounds <= a.rounds)
		return;
	/* per round of CPU time when known: the worker may share its CPU */
	s->idle_round_ns = (isnan(a.cpu_ns) || isnan(b.cpu_ns) ? b.t_ns - a.t_ns :
			    b.cpu_ns - a.cpu_ns) / (double)(b.rounds - a.rounds);
}

/* ---- guests ---- */

static struct emu_guest *
guest_new(struct bench_switch *s, int i, uint32_t tx_pkt, size_t mem, bool defer)
{
	struct emu_guest_opts o;
	struct emu_guest *g;
	char name[32];

	emu_guest_opts_init(&o, s->sock[i]);
	snprintf(name, sizeof(name), "bench-g%d", i);
	o.name = name;
	o.tx_pkt_size = tx_pkt;
	o.mem_size = mem;
	o.connect_timeout_ms = 20000;
	/* client mode: listen, the switch connects (within a second: its reconnect) */
	o.server = bopt.client && bopt.switch_path != NULL;
	if (defer && o.server) {
		g = emu_guest_listen(&o);
		if (g == NULL)
			fprintf(stderr, "vsock-bench: guest on %s: %s\n", s->sock[i],
				strerror(errno));
		return g;
	}
	g = emu_guest_create(&o);
	if (g == NULL) {
		fprintf(stderr, "vsock-bench: guest on %s: %s\n", s->sock[i], strerror(errno));
		return NULL;
	}
	if (s->cid[i] == 0)
		s->cid[i] = emu_guest_cid(g);
	return g;
}

struct emu_guest *
bench_guest(struct bench_switch *s, int i, uint32_t tx_pkt, size_t mem)
{
	return guest_new(s, i, tx_pkt, mem, false);
}

int
bench_guests(struct bench_switch *s, struct emu_guest **gs, int n, uint32_t tx_pkt, size_t mem)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		gs[i] = guest_new(s, i, tx_pkt, mem, true);
		if (gs[i] == NULL)
			return -1;
	}
	if (!(bopt.client && bopt.switch_path != NULL))
		return 0;
	/* every frontend listens: one pass of the switch's reconnect attaches them all */
	for (i = 0; i < n; i++) {
		ret = emu_guest_accept(gs[i], 30000);
		if (ret < 0) {
			fprintf(stderr, "vsock-bench: guest on %s: the switch did not attach: %s\n",
				s->sock[i], strerror(-ret));
			return -1;
		}
		if (s->cid[i] == 0)
			s->cid[i] = emu_guest_cid(gs[i]);
	}
	return 0;
}

int
bench_poll_for(struct emu_guest **gs, int n, double ms)
{
	double end = bench_now_ns() + ms * 1e6;
	int i;

	do {
		for (i = 0; i < n; i++)
			if (gs[i] != NULL && emu_guest_poll(gs[i]) < 0)
				return -ENOTCONN;
	} while (bench_now_ns() < end);
	return 0;
}

int
bench_pair(struct emu_guest **gs, int ng, struct emu_guest *a, struct emu_guest *b,
	   uint32_t port, uint16_t type, int *ca, int *cb)
{
	double deadline = bench_now_ns() + 10e9;
	int ret, i;

	ret = emu_listen(b, port, type);
	if (ret < 0 && ret != -EADDRINUSE)
		return ret;
	for (;;) {
		*ca = emu_connect(a, emu_guest_cid(b), port, type);
		if (*ca < 0)
			return *ca;
		*cb = -1;
		while (bench_now_ns() < deadline) {
			for (i = 0; i < ng; i++)
				if (emu_guest_poll(gs[i]) < 0)
					return -ENOTCONN;
			if (*cb < 0)
				*cb = emu_accept(b, port);
			ret = emu_conn_state(a, *ca);
			if (ret == EMU_CONN_CONNECTED && *cb >= 0)
				return 0;
			if (ret == EMU_CONN_CLOSED)
				break;
		}
		/* refused: the destination's driver may not be seen running yet */
		emu_close(a, *ca);
		if (*cb >= 0)
			emu_close(b, *cb);
		if (bench_now_ns() >= deadline)
			return -ETIMEDOUT;
		bench_poll_for(gs, ng, 10);
	}
}
