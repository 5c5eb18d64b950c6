/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VSOCK_BENCH_H
#define VSOCK_BENCH_H

/*
 * vsock-bench: the benchmark suite of vsock-switch.
 *
 *   main.c      command line, runs, tables, JSON
 *   sw.c        the switch under test (child process or attached), telemetry, guests
 *   g2g.c       guest-to-guest scenarios: throughput, message rate, latency,
 *               connection rate, scaling, idle guests
 *   host.c      host path through the hybrid Unix socket
 *   baseline.c  same-run baselines: memcpy, AF_UNIX socket pair, dpdk-testpmd
 *   stats.c     medians, percentiles, results
 *
 * The bench is one single-threaded process without DPDK. It plays every
 * emulated guest (drivers/emu_guest) and every host program itself and
 * busy-polls them; it runs pinned to one CPU while the switch's worker lcore
 * owns the other.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <emu_guest.h>

#define BENCH_MAX_RUNS 32
#define BENCH_MAX_METRICS 96
#define BENCH_MAX_GUESTS 1024
#define BENCH_NAME_LEN 48
#define BENCH_CDF_POINTS 64
#define BENCH_DIM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- results ---- */

/** One figure, measured once per run. */
struct bench_metric {
	char name[BENCH_NAME_LEN];   /**< e.g. "g2g_stream_64k" */
	char unit[16];               /**< "MB/s", "Mpps", "us", "conn/s", "ns" */
	char group[16];              /**< "throughput", "rate", "latency", ... (for plots) */
	char label[64];              /**< human description for the table */
	uint32_t size;               /**< write or message size, 0 if none */
	uint32_t guests;             /**< guests involved, 0 if none */
	char base[BENCH_NAME_LEN];   /**< baseline metric for the ratio, "" for none */
	int target_kind;             /**< enum bench_target */
	double target;               /**< ratio or absolute value of the target */
	int nvals;
	double v[BENCH_MAX_RUNS];    /**< value per run (NAN: not measured) */
	double load[BENCH_MAX_RUNS]; /**< estimated switch worker load in [0,1], NAN if unknown */
	double share[BENCH_MAX_RUNS]; /**< share of wall time the worker was on its CPU */
	bool higher_better;
};

enum bench_target {
	BENCH_TARGET_NONE = 0,
	BENCH_TARGET_RATIO_MIN,      /**< value / baseline >= target */
	BENCH_TARGET_ABS_MIN,        /**< value >= target */
	BENCH_TARGET_ABS_MAX,        /**< value < target */
};

struct bench_results {
	int nmetrics;
	struct bench_metric m[BENCH_MAX_METRICS];
	/* RTT distribution of the 2-guest ping-pong of the last run: (percentile, us) */
	int ncdf;
	double cdf_p[BENCH_CDF_POINTS];
	double cdf_us[BENCH_CDF_POINTS];
};

struct bench_metric *bench_metric(struct bench_results *r, const char *name, const char *unit,
		const char *group, const char *label);
struct bench_metric *bench_metric_find(struct bench_results *r, const char *name);
void bench_record(struct bench_results *r, int run, const char *name, double v, double load);
/** Share of its CPU the worker got during the measurement of @p name in @p run. */
void bench_record_share(struct bench_results *r, int run, const char *name, double share);

int bench_cmp_double(const void *a, const void *b);
double bench_median(const double *v, int n);
/** Percentile @p p (0..100) of the sorted @p v. */
double bench_pct_sorted(const double *v, size_t n, double p);

/* ---- options ---- */

struct bench_opts {
	const char *switch_path;     /**< binary to start, NULL when attached */
	char *attach[BENCH_MAX_GUESTS]; /**< vhost-user sockets of a running switch */
	int nattach;
	const char *attach_prefix;   /**< DPDK file prefix of the running switch (telemetry) */
	const char *attach_uds;      /**< hybrid socket of the first attached guest */
	const char *scenarios;       /**< comma-separated list, NULL: all */
	const char *json_path;
	const char *testpmd;         /**< dpdk-testpmd binary, NULL: none */
	int runs;
	double duration;             /**< seconds per measurement */
	int bench_cpu;               /**< CPU the bench pins itself to, -1: leave */
	int worker_cpu;              /**< CPU of the switch's worker lcore (for /proc/stat) */
	const char *lcores;          /**< EAL -l of the switch */
	char *switch_args[16];       /**< more switch options (after --) */
	int nswitch_args;
	int scale_max;               /**< most guests in the scaling scenarios */
	double min_cpu;              /**< repeat a scenario whose worker had less of its CPU */
	int retries;                 /**< how often at most */
	bool smoke;
	bool verbose;
	bool client;                 /**< guests in client mode: the emulated guests listen */
	bool sink;                   /**< stream: the receiving guest counts, never copies out */
	uint32_t sizes[8];           /**< write sizes of the stream scenario */
	int nsizes;
	char argv_line[1024];        /**< the command, for the JSON */
};

extern struct bench_opts bopt;

/* ---- the switch under test ---- */

struct bench_switch {
	pid_t pid;                   /**< child, 0 when attached or stopped */
	char dir[128];               /**< temporary directory of sockets and log */
	char prefix[64];             /**< DPDK file prefix */
	int nguests;
	uint64_t cid[BENCH_MAX_GUESTS];
	char *sock[BENCH_MAX_GUESTS];
	char uds[160];               /**< hybrid socket of guest 0, "" if none */
	bool host_ok;                /**< the switch accepted uds= */
	double idle_round_ns;        /**< calibrated worker round with everything idle */
	int worker_tid;              /**< thread id of the worker lcore, 0 if unknown */
};

/**
 * Start a switch with @p n guests (CIDs 3, 4, ...), guest 0 with a hybrid
 * socket if @p with_uds; or, when attached, take the first @p n given sockets.
 * Returns 0 or -1 (printed why).
 */
int bench_switch_start(struct bench_switch *s, int n, bool with_uds);
void bench_switch_stop(struct bench_switch *s);

/** Worker lcore counters from telemetry /vsock/lcores, summed over workers. */
struct bench_lcores {
	uint64_t rounds;
	uint64_t busy_rounds;
	uint64_t tx_pkts;
	uint64_t steal;              /**< steal ticks of the worker's CPU (/proc/stat) */
	double cpu_ns;               /**< worker thread's CPU time (schedstat), NAN if unknown */
	double t_ns;                 /**< monotonic time of the sample */
};
int bench_lcores_get(struct bench_switch *s, struct bench_lcores *l);

/** Raw telemetry reply to @p cmd in @p buf. Returns its length or -1. */
int bench_tel_query(struct bench_switch *s, const char *cmd, char *buf, size_t len);

/**
 * Estimated share of the wall time between two samples the worker spent on
 * work: (CPU time - idle rounds * idle_round_ns) / elapsed; without the
 * worker's CPU time (attached switch), elapsed stands for it. NAN if unknown.
 */
double bench_load(const struct bench_switch *s, const struct bench_lcores *a,
		const struct bench_lcores *b);

/** Share of the wall time between two samples the worker thread was on a CPU (NAN: unknown). */
double bench_share(const struct bench_lcores *a, const struct bench_lcores *b);

/** Share of the time between two samples the hypervisor took from the worker's CPU. */
double bench_steal(const struct bench_lcores *a, const struct bench_lcores *b);

/**
 * A measurement that moved nothing: say so with the worker's state, and run
 * $VS_BENCH_STALL_CMD (%p: the switch's pid) to look inside, e.g. with gdb.
 */
void bench_stall(struct bench_switch *s, const char *what);

/** Measure s->idle_round_ns over @p ms milliseconds of no traffic. */
void bench_calibrate_idle(struct bench_switch *s, int ms);

/** Guest on socket @p i of the switch, with queue and memory sized for @p pkt bytes. */
struct emu_guest *bench_guest(struct bench_switch *s, int i, uint32_t tx_pkt, size_t mem);

/**
 * Guests on the first @p n sockets into @p gs (NULL where they could not be
 * made). In client mode all listen first, then the switch attaches them all.
 * @return 0 or -1.
 */
int bench_guests(struct bench_switch *s, struct emu_guest **gs, int n, uint32_t tx_pkt,
		 size_t mem);

/** Poll @p gs until every connection in @p want is accepted, or @p ms. */
int bench_poll_for(struct emu_guest **gs, int n, double ms);

/** Connect @p a to @p b on @p port; both ends in @p ca / @p cb. Returns 0 or -errno. */
int bench_pair(struct emu_guest **gs, int ng, struct emu_guest *a, struct emu_guest *b,
		uint32_t port, uint16_t type, int *ca, int *cb);

/** Remove a directory and the files in it. */
void bench_rm_dir(const char *dir);
/** DPDK runtime directory of file prefix @p prefix. */
void bench_runtime_dir(const char *prefix, char *buf, size_t len);

/* ---- time ---- */

double bench_now_ns(void);
void bench_sleep_ms(double ms);

/* ---- the two-guest switch shared by the pair scenarios of one run ---- */

struct bench_pair_ctx {
	struct bench_switch sw;
	struct emu_guest *g[2];      /**< CID 3 and CID 4 (64 KiB tx packets) */
	bool up;
	uint32_t next_port;
};

extern struct bench_pair_ctx bench_pc;

/** Start (once per run) the 2-guest switch with a hybrid socket on guest 0. */
int bench_pair_up(void);
void bench_pair_down(void);

/** Sorted ping-pong RTTs in microseconds (malloc'd), 64-byte STREAM messages. */
int bench_pingpong(struct bench_switch *sw, struct emu_guest *a, int ca, struct emu_guest *b,
		int cb, double secs, double **us, size_t *n);

/* ---- scenarios: each records its metrics for run @p run ---- */

int bench_g2g_stream(struct bench_results *r, int run);
int bench_g2g_msgrate(struct bench_results *r, int run);
int bench_g2g_latency(struct bench_results *r, int run);
int bench_g2g_connrate(struct bench_results *r, int run);
int bench_g2g_scaling(struct bench_results *r, int run);
int bench_g2g_idle(struct bench_results *r, int run);
int bench_host(struct bench_results *r, int run);

int bench_base_memcpy(struct bench_results *r, int run);
int bench_base_xcore(struct bench_results *r, int run);
int bench_base_socketpair(struct bench_results *r, int run);
int bench_base_testpmd(struct bench_results *r, int run);

/** Size as text: 64, 4k, 64k. */
const char *bench_size_name(uint32_t size, char *buf, size_t len);

#endif /* VSOCK_BENCH_H */
