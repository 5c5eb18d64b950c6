/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Baselines, measured in the same run as the figures they divide:
 *
 * memcpy_<size>: the one copy per byte guest-to-guest delivery needs, on one
 *   core, over the same working set as the switch's copy: packets of <size>
 *   (at most 64 KiB) taken from a ring of 128 tx slots 64 KiB apart, written
 *   into 4 KiB pieces of a ring of 128 rx buffers, with libc memcpy (the one
 *   the switch uses).
 * memcpy_xcore_<size>: the same copy done by a thread on the other CPU (where the
 *   switch's worker runs), from tx slots this CPU has just written into rx
 *   buffers this CPU then reads back, handed over through two index counters:
 *   one copy per byte plus the cache-line transfers between cores that guest
 *   to guest delivery cannot avoid when guests and switch run on different
 *   cores. The rate is the slower of the two threads (usually the copier).
 * socketpair_64k: an AF_UNIX stream socket pair, one thread writing 64 KiB and
 *   reading it back (both copies on one CPU): what a host program and the host
 *   endpoint pay at least.
 * testpmd_io_64: DPDK's own vhost-user path, net_vhost and net_virtio_user
 *   dpdk-testpmd processes in io forwarding, 64-byte frames; packets per second
 *   the vhost side's forwarding lcore (on CPU 1, like the switch worker) moves.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MC_SLOTS 128u
#define MC_TX_STRIDE (64u + 65536u + 64u)
#define MC_RX_STRIDE (64u + 4096u)
#define MC_PIECE 4096u
#define SP_CHUNK 65536u

static uint8_t *mc_src, *mc_dst;

static int
mc_alloc(void)
{
	if (mc_src != NULL)
		return 0;
	mc_src = aligned_alloc(4096, (size_t)MC_SLOTS * MC_TX_STRIDE);
	mc_dst = aligned_alloc(4096, (size_t)MC_SLOTS * MC_RX_STRIDE);
	if (mc_src == NULL || mc_dst == NULL)
		return -ENOMEM;
	memset(mc_src, 1, (size_t)MC_SLOTS * MC_TX_STRIDE);
	memset(mc_dst, 2, (size_t)MC_SLOTS * MC_RX_STRIDE);
	return 0;
}

static double
memcpy_rate(uint32_t size, double secs)
{
	double t0, t1, bytes = 0;
	uint32_t slot = 0, rx = 0, off, piece;
	volatile uint8_t sink;
	int k;

	if (mc_alloc() < 0)
		return NAN;
	t0 = bench_now_ns();
	do {
		for (k = 0; k < 256; k++) {
			const uint8_t *s = mc_src + (size_t)slot * MC_TX_STRIDE + 64;

			for (off = 0; off < size; off += piece) {
				piece = size - off < MC_PIECE ? size - off : MC_PIECE;
				memcpy(mc_dst + (size_t)rx * MC_RX_STRIDE + 64, s + off, piece);
				rx = (rx + 1) % MC_SLOTS;
			}
			slot = (slot + 1) % MC_SLOTS;
			bytes += size;
		}
		t1 = bench_now_ns();
	} while (t1 - t0 < secs * 1e9);
	sink = mc_dst[64];
	(void)sink;
	return bytes / ((t1 - t0) / 1e9) / 1e6;
}

int
bench_base_memcpy(struct bench_results *r, int run)
{
	char name[64], label[96], sz[16];
	struct bench_metric *m;
	int s;

	for (s = 0; s < bopt.nsizes; s++) {
		uint32_t size = bopt.sizes[s];

		bench_size_name(size, sz, sizeof(sz));
		snprintf(name, sizeof(name), "memcpy_%s", sz);
		snprintf(label, sizeof(label), "memcpy %s B packets into 4k rx buffers", sz);
		m = bench_metric(r, name, "MB/s", "baseline", label);
		m->size = size;
		memcpy_rate(size, bopt.duration / 20); /* warm */
		bench_record(r, run, name, memcpy_rate(size, bopt.duration / 2), NAN);
	}
	return 0;
}

/* ---- cross-core copy ---- */

struct xcore {
	uint32_t size;
	uint32_t pieces;             /* rx buffers per packet */
	int cpu;
	uint32_t prod __attribute__((aligned(64)));   /* tx slots written */
	uint32_t cons __attribute__((aligned(64)));   /* tx slots copied */
	uint32_t rx_w __attribute__((aligned(64)));   /* rx buffers written */
	uint32_t rx_r __attribute__((aligned(64)));   /* rx buffers read back */
	bool stop __attribute__((aligned(64)));
	double copied;
};

#define LD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define ST(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)

/* The copier: the switch worker's part. */
static void *
xcore_copier(void *arg)
{
	struct xcore *x = arg;
	uint32_t cons = 0, rx_w = 0, off, piece;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(x->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!LD(&x->stop)) {
		const uint8_t *src;

		if (cons == LD(&x->prod) || rx_w + x->pieces - LD(&x->rx_r) > MC_SLOTS)
			continue;
		src = mc_src + (size_t)(cons % MC_SLOTS) * MC_TX_STRIDE + 64;
		for (off = 0; off < x->size; off += piece) {
			piece = x->size - off < MC_PIECE ? x->size - off : MC_PIECE;
			memcpy(mc_dst + (size_t)(rx_w % MC_SLOTS) * MC_RX_STRIDE + 64, src + off,
			       piece);
			rx_w++;
		}
		ST(&x->rx_w, rx_w);
		ST(&x->cons, ++cons);
		x->copied += x->size;
	}
	return NULL;
}

/* The guests' part, on this CPU: write tx slots, read rx buffers back. */
static double
xcore_rate(uint32_t size, int other_cpu, double secs)
{
	struct xcore *x;
	pthread_t t;
	uint32_t prod = 0, rx_r = 0, rx_w, j;
	double t0, t1, c0, rate;
	uint64_t sum = 0;
	bool measuring = false;

	if (mc_alloc() < 0)
		return NAN;
	x = aligned_alloc(64, sizeof(*x));
	if (x == NULL)
		return NAN;
	memset(x, 0, sizeof(*x));
	x->size = size;
	x->pieces = (size + MC_PIECE - 1) / MC_PIECE;
	x->cpu = other_cpu;
	if (pthread_create(&t, NULL, xcore_copier, x) != 0) {
		free(x);
		return NAN;
	}
	t0 = bench_now_ns();
	c0 = 0;
	t1 = t0;
	for (;;) {
		/* keep up to half the tx ring in flight, like a sender with credit */
		if (prod - LD(&x->cons) < MC_SLOTS / 2) {
			memset(mc_src + (size_t)(prod % MC_SLOTS) * MC_TX_STRIDE + 64, (int)prod,
			       size);
			ST(&x->prod, ++prod);
		}
		rx_w = LD(&x->rx_w);
		for (; rx_r != rx_w; rx_r++) {
			const uint64_t *p = (const uint64_t *)(mc_dst +
				(size_t)(rx_r % MC_SLOTS) * MC_RX_STRIDE + 64);
			uint32_t words = (size < MC_PIECE ? size : MC_PIECE) / 8;

			for (j = 0; j < words; j++)
				sum += p[j];
		}
		ST(&x->rx_r, rx_r);
		if ((prod & 63) == 0 || size >= 4096) {
			t1 = bench_now_ns();
			if (!measuring && t1 - t0 > secs * 1e8) {
				measuring = true;
				t0 = t1;
				c0 = x->copied;
			} else if (measuring && t1 - t0 > secs * 1e9) {
				break;
			}
		}
	}
	rate = (x->copied - c0) / ((t1 - t0) / 1e9) / 1e6;
	ST(&x->stop, true);
	pthread_join(t, NULL);
	mc_dst[64] ^= (uint8_t)sum; /* keep the reads */
	free(x);
	return rate;
}

static int
other_cpu(void)
{
	cpu_set_t set;
	int i;

	if (bopt.bench_cpu < 0 || sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (i = 0; i < (int)sysconf(_SC_NPROCESSORS_ONLN); i++)
		if (i != bopt.bench_cpu)
			return i;
	return -1;
}

int
bench_base_xcore(struct bench_results *r, int run)
{
	char name[64], label[96], sz[16];
	struct bench_metric *m;
	int s, cpu = other_cpu();

	for (s = 0; s < bopt.nsizes; s++) {
		uint32_t size = bopt.sizes[s];

		bench_size_name(size, sz, sizeof(sz));
		snprintf(name, sizeof(name), "memcpy_xcore_%s", sz);
		snprintf(label, sizeof(label), "memcpy %s B on CPU %d, data to/from CPU %d", sz,
			 cpu, bopt.bench_cpu);
		m = bench_metric(r, name, "MB/s", "baseline", label);
		m->size = size;
		snprintf(m->base, sizeof(m->base), "memcpy_%s", sz);
		/* needs the other CPU to itself: not while a switch's worker polls it */
		if (cpu < 0 || bopt.switch_path == NULL)
			continue;
		bench_record(r, run, name, xcore_rate(size, cpu, bopt.duration / 2), NAN);
	}
	return 0;
}

int
bench_base_socketpair(struct bench_results *r, int run)
{
	static uint8_t buf[SP_CHUNK];
	double t0, t1 = 0, bytes = 0;
	struct bench_metric *m;
	int sv[2], bufsz = 1 << 20;
	ssize_t n;

	m = bench_metric(r, "socketpair_64k", "MB/s", "baseline",
			 "AF_UNIX socketpair, 64k write+read, 1 thread");
	m->size = SP_CHUNK;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	memset(buf, 7, sizeof(buf));
	t0 = bench_now_ns();
	do {
		size_t got = 0;

		if (write(sv[0], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
		while (got < sizeof(buf) && (n = read(sv[1], buf, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		bytes += (double)got;
		t1 = bench_now_ns();
	} while (t1 - t0 < bopt.duration / 2 * 1e9);
	close(sv[0]);
	close(sv[1]);
	bench_record(r, run, "socketpair_64k", bytes / ((t1 - t0) / 1e9) / 1e6, NAN);
	return 0;
}

/* ---- dpdk-testpmd ---- */

static pid_t
tp_spawn(char **argv, const char *log, int stdin_fd)
{
	pid_t pid = fork();
	int fd, i;

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGINT);
	setsid(); /* its own scheduler autogroup, like the switch (sw.c) */
	{
		cpu_set_t all;

		CPU_ZERO(&all);
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &all);
		sched_setaffinity(0, sizeof(all), &all);
	}
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	/* testpmd exits at once when stdin is closed: give it a pipe that stays open */
	dup2(stdin_fd, STDIN_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

static void
tp_stop(pid_t pid)
{
	double deadline = bench_now_ns() + 10e9;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (bench_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return;
		}
		bench_sleep_ms(10);
	}
}

/*
 * The non-zero "Rx-pps:" readings of a testpmd log, in order; at most @max.
 * testpmd prints one per --stats-period second once forwarding runs.
 */
static int
tp_readings(const char *log, double *v, int max)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL && n < max) {
		const char *p = strstr(line, "Rx-pps:");
		double x;

		if (p != NULL && (x = strtod(p + 7, NULL)) > 0)
			v[n++] = x;
	}
	fclose(f);
	return n;
}

int
bench_base_testpmd(struct bench_results *r, int run)
{
	char dir[64] = "/tmp/vs-bench-tp-XXXXXX", sock[128], vdev_h[200], vdev_u[200];
	char log_h[128], log_u[128], pfx_h[64], pfx_u[64], stats[16];
	struct bench_metric *m;
	pid_t ph, pu = -1;
	double deadline, mpps, pps[64];
	int pipefd[2], want, n;
	struct stat st;

	m = bench_metric(r, "testpmd_io_64", "Mpps", "baseline",
			 "dpdk-testpmd vhost io fwd, 64 B, 1 lcore");
	m->size = 64;
	if (bopt.testpmd == NULL || bopt.switch_path == NULL)
		return 0;
	if (mkdtemp(dir) == NULL || pipe(pipefd) < 0)
		return -1;
	snprintf(sock, sizeof(sock), "%s/vh0.sock", dir);
	snprintf(vdev_h, sizeof(vdev_h), "net_vhost0,iface=%s,queues=1", sock);
	snprintf(vdev_u, sizeof(vdev_u), "net_virtio_user0,path=%s,queues=1", sock);
	snprintf(log_h, sizeof(log_h), "%s/vhost.log", dir);
	snprintf(log_u, sizeof(log_u), "%s/virtio.log", dir);
	snprintf(pfx_h, sizeof(pfx_h), "vs-bench-tp-vh-%d", (int)getpid());
	snprintf(pfx_u, sizeof(pfx_u), "vs-bench-tp-vu-%d", (int)getpid());
	snprintf(stats, sizeof(stats), "1");
	{
		char *argv_h[] = { (char *)bopt.testpmd, "-l", "0,1", "--no-huge", "-m", "1024",
			"--no-pci", "--file-prefix", pfx_h, "--vdev", vdev_h, "--",
			"--forward-mode=io", "--nb-cores=1", "--auto-start",
			"--total-num-mbufs=16384", "--stats-period", stats, NULL };

		ph = tp_spawn(argv_h, log_h, pipefd[0]);
	}
	deadline = bench_now_ns() + 20e9;
	while (stat(sock, &st) != 0 && bench_now_ns() < deadline)
		bench_sleep_ms(20);
	if (stat(sock, &st) == 0) {
		char *argv_u[] = { (char *)bopt.testpmd, "--lcores", "0@1,1@0", "--no-huge", "-m",
			"1024", "--no-pci", "--file-prefix", pfx_u, "--single-file-segments",
			"--vdev", vdev_u, "--", "--forward-mode=io", "--nb-cores=1",
			"--auto-start", "--tx-first", "--total-num-mbufs=16384",
			"--stats-period", stats, NULL };

		pu = tp_spawn(argv_u, log_u, pipefd[0]);
		/*
		 * Start-up takes seconds on a loaded machine: wait for readings, not for
		 * a fixed time. The first one covers the ramp-up and is dropped.
		 */
		want = (int)(bopt.duration * 3) + 2;
		deadline = bench_now_ns() + 60e9;
		while (tp_readings(log_h, pps, (int)BENCH_DIM(pps)) < want &&
		       bench_now_ns() < deadline && waitpid(pu, NULL, WNOHANG) == 0)
			bench_sleep_ms(200);
	}
	tp_stop(pu);
	tp_stop(ph);
	close(pipefd[0]);
	close(pipefd[1]);
	n = tp_readings(log_h, pps, (int)BENCH_DIM(pps));
	mpps = n >= 2 ? bench_median(pps + 1, n - 1 > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : n - 1) / 1e6 :
	       NAN;
	if (isnan(mpps) || bopt.verbose) {
		fprintf(stderr, "vsock-bench: testpmd logs in %s\n", dir);
	} else {
		bench_rm_dir(dir);
	}
	{
		char rt[300];

		bench_runtime_dir(pfx_h, rt, sizeof(rt));
		bench_rm_dir(rt);
		bench_runtime_dir(pfx_u, rt, sizeof(rt));
		bench_rm_dir(rt);
	}
	bench_record(r, run, "testpmd_io_64", mpps, NAN);
	return 0;
}
