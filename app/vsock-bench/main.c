/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * vsock-bench: drives vsock-switch with emulated guests and prints one table
 * per run, then medians and ranges, every figure as a ratio to a baseline
 * measured in the same run. doc/performance.rst explains the scenarios and
 * holds the current figures.
 *
 * main() reads as the table of contents: options, CPU pinning, then for each
 * run the baselines (nothing else running), the two-guest scenarios on one
 * switch, the many-guest scenarios on switches of their own; the summary and
 * the JSON last.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_opts bopt;
static struct bench_results res;

struct scenario {
	const char *name;
	int (*fn)(struct bench_results *r, int run);
	bool smoke;       /**< part of --smoke */
	const char *help;
};

static const struct scenario scenarios[] = {
	{ "memcpy", bench_base_memcpy, true,
	  "baseline: single-core memcpy, same sizes and working set" },
	{ "xcore", bench_base_xcore, false,
	  "baseline: the same copy on the other CPU, data to/from this one" },
	{ "socketpair", bench_base_socketpair, true, "baseline: AF_UNIX socket pair, 64k" },
	{ "testpmd", bench_base_testpmd, false,
	  "baseline: dpdk-testpmd vhost io forwarding, 64 B" },
	{ "stream", bench_g2g_stream, true, "guest->guest STREAM throughput per write size" },
	{ "msgrate", bench_g2g_msgrate, true,
	  "guest->guest 64 B messages/s, SEQPACKET and STREAM" },
	{ "latency", bench_g2g_latency, true, "64 B ping-pong round trip p50/p99/p99.9" },
	{ "connrate", bench_g2g_connrate, true, "connection set-up + tear-down rate" },
	{ "host", bench_host, true, "host<->guest through the hybrid Unix socket" },
	{ "scaling", bench_g2g_scaling, true, "1..N guests, one busy connection each" },
	{ "idle", bench_g2g_idle, true, "worker round time and RTT vs idle guests" },
};

static void
usage(const char *prog)
{
	unsigned int i;

	printf("Usage: %s [options]\n"
	       "\n"
	       "Benchmarks vsock-switch through emulated guests; prints a table per run,\n"
	       "then the median and range of each figure and its ratio to a baseline\n"
	       "measured in the same run.\n"
	       "\n"
	       "  --switch <path>       switch binary to start (default: vsock-switch next\n"
	       "                        to this program); one switch per scenario group\n"
	       "  --lcores <list>       its EAL -l (default 0-1: main lcore 0, worker 1)\n"
	       "  --switch-arg <opt>    pass an option to the switch (repeatable), e.g.\n"
	       "                        --switch-arg=--buf-alloc=1048576\n"
	       "  --attach <sock>[,...] use a running switch instead: its guests' vhost-user\n"
	       "                        sockets (scenarios needing more guests are skipped)\n"
	       "  --attach-prefix <p>   its --file-prefix, for telemetry (default vsock-switch)\n"
	       "  --attach-uds <path>   hybrid socket of the first attached guest\n"
	       "  --scenario <list>     comma-separated, default all:\n", prog);
	for (i = 0; i < BENCH_DIM(scenarios); i++)
		printf("                          %-10s %s\n", scenarios[i].name, scenarios[i].help);
	printf("  --runs <n>            repetitions (default 5)\n"
	       "  --duration <s>        seconds per measurement (default 1)\n"
	       "  --sizes <list>        write sizes of 'stream' (default 64,4096,65536)\n"
	       "  --scale-max <n>       most guests in 'scaling' and 'idle' (default 500;\n"
	       "                        above 511 needs --client)\n"
	       "  --client              guests in client mode: the emulated guests listen\n"
	       "                        and the switch connects (--guest ...,client)\n"
	       "  --sink                stream: the receiving guest counts bytes and returns\n"
	       "                        credit without copying them out (emu_set_rx_sink)\n"
	       "  --min-worker-cpu <f>  measure a scenario again (see --retries) when the\n"
	       "                        switch's worker had less than this share of its CPU\n"
	       "                        (other programs on it; default 0.9)\n"
	       "  --retries <n>         at most this many times (default 2)\n"
	       "  --cpu <n>             CPU the bench pins itself to (default 0, -1: none)\n"
	       "  --testpmd <path>      dpdk-testpmd binary (default: from PATH; 'none')\n"
	       "  --json <file>         write every value of every run as JSON\n"
	       "  --smoke               tiny sizes and durations, one run: checks it works\n"
	       "  -v, --verbose         more detail, switch logs\n"
	       "  -h, --help            this text\n");
}

static bool
selected(const char *name)
{
	const char *p = bopt.scenarios;
	size_t n = strlen(name);

	if (p == NULL)
		return true;
	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return false;
}

static char *
find_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	const char *p, *e;

	for (p = path; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, prog);
		if (access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return NULL;
}

static char *
default_switch(void)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return NULL;
	strcpy(slash + 1, "vsock-switch");
	return access(self, X_OK) == 0 ? strdup(self) : NULL;
}

static int
parse_args(int argc, char **argv)
{
	enum { O_SWITCH = 256, O_ATTACH, O_ATTACH_PREFIX, O_ATTACH_UDS, O_SCENARIO, O_RUNS,
	       O_DURATION, O_SIZES, O_SCALE_MAX, O_CPU, O_TESTPMD, O_JSON, O_SMOKE, O_LCORES,
	       O_SWITCH_ARG, O_MIN_CPU, O_RETRIES, O_CLIENT, O_SINK };
	static const struct option opts[] = {
		{ "switch", required_argument, NULL, O_SWITCH },
		{ "attach", required_argument, NULL, O_ATTACH },
		{ "attach-prefix", required_argument, NULL, O_ATTACH_PREFIX },
		{ "attach-uds", required_argument, NULL, O_ATTACH_UDS },
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "scale-max", required_argument, NULL, O_SCALE_MAX },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "lcores", required_argument, NULL, O_LCORES },
		{ "switch-arg", required_argument, NULL, O_SWITCH_ARG },
		{ "min-worker-cpu", required_argument, NULL, O_MIN_CPU },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "testpmd", required_argument, NULL, O_TESTPMD },
		{ "json", required_argument, NULL, O_JSON },
		{ "smoke", no_argument, NULL, O_SMOKE },
		{ "client", no_argument, NULL, O_CLIENT },
		{ "sink", no_argument, NULL, O_SINK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *testpmd = NULL;
	char *tok, *save, *list;
	unsigned int i;
	int c, len = 0;

	bopt.runs = 5;
	bopt.duration = 1.0;
	bopt.bench_cpu = 0;
	bopt.worker_cpu = 1;
	bopt.lcores = "0-1";
	bopt.scale_max = 500;
	bopt.min_cpu = 0.9;
	bopt.retries = 2;
	bopt.sizes[0] = 64;
	bopt.sizes[1] = 4096;
	bopt.sizes[2] = 65536;
	bopt.nsizes = 3;
	for (c = 0; c < argc && len < (int)sizeof(bopt.argv_line) - 2; c++)
		len += snprintf(bopt.argv_line + len, sizeof(bopt.argv_line) - len, "%s%s",
				c ? " " : "", argv[c]);
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case O_SWITCH:
			bopt.switch_path = optarg;
			break;
		case O_ATTACH:
			list = strdup(optarg);
			for (tok = strtok_r(list, ",", &save); tok != NULL &&
			     bopt.nattach < BENCH_MAX_GUESTS; tok = strtok_r(NULL, ",", &save))
				bopt.attach[bopt.nattach++] = tok;
			break;
		case O_ATTACH_PREFIX:
			bopt.attach_prefix = optarg;
			break;
		case O_ATTACH_UDS:
			bopt.attach_uds = optarg;
			break;
		case O_SCENARIO:
			bopt.scenarios = optarg;
			break;
		case O_RUNS:
			bopt.runs = atoi(optarg);
			break;
		case O_DURATION:
			bopt.duration = atof(optarg);
			break;
		case O_SIZES:
			bopt.nsizes = 0;
			list = strdup(optarg);
			for (tok = strtok_r(list, ",", &save); tok != NULL &&
			     bopt.nsizes < (int)BENCH_DIM(bopt.sizes); tok = strtok_r(NULL, ",", &save))
				bopt.sizes[bopt.nsizes++] = (uint32_t)strtoul(tok, NULL, 0);
			free(list);
			break;
		case O_SCALE_MAX:
			bopt.scale_max = atoi(optarg);
			break;
		case O_CPU:
			bopt.bench_cpu = atoi(optarg);
			break;
		case O_LCORES:
			bopt.lcores = optarg;
			break;
		case O_MIN_CPU:
			bopt.min_cpu = atof(optarg);
			break;
		case O_RETRIES:
			bopt.retries = atoi(optarg);
			break;
		case O_SWITCH_ARG:
			if (bopt.nswitch_args == (int)BENCH_DIM(bopt.switch_args)) {
				fprintf(stderr, "vsock-bench: too many --switch-arg\n");
				return -1;
			}
			bopt.switch_args[bopt.nswitch_args++] = optarg;
			break;
		case O_TESTPMD:
			testpmd = optarg;
			break;
		case O_JSON:
			bopt.json_path = optarg;
			break;
		case O_SMOKE:
			bopt.smoke = true;
			break;
		case O_CLIENT:
			bopt.client = true;
			break;
		case O_SINK:
			bopt.sink = true;
			break;
		case 'v':
			bopt.verbose = true;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsock-bench: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (bopt.smoke) {
		bopt.runs = 1;
		bopt.duration = 0.05;
		bopt.scale_max = 2;
		bopt.retries = 0;
		bopt.sizes[0] = 4096;
		bopt.nsizes = 1;
		testpmd = "none";
	}
	if (bopt.runs < 1 || bopt.runs > BENCH_MAX_RUNS || bopt.duration <= 0 ||
	    bopt.nsizes < 1 || bopt.scale_max < 1 || bopt.scale_max > BENCH_MAX_GUESTS) {
		fprintf(stderr, "vsock-bench: runs 1..%d, duration > 0, scale-max 1..%d\n",
			BENCH_MAX_RUNS, BENCH_MAX_GUESTS);
		return -1;
	}
	for (i = 0; i < (unsigned int)bopt.nsizes; i++) {
		if (bopt.sizes[i] == 0 || bopt.sizes[i] > VSOCK_MAX_PKT_PAYLOAD) {
			fprintf(stderr, "vsock-bench: sizes 1..65536\n");
			return -1;
		}
	}
	if (bopt.nattach == 0) {
		if (bopt.switch_path == NULL)
			bopt.switch_path = default_switch();
		if (bopt.switch_path == NULL || access(bopt.switch_path, X_OK) != 0) {
			fprintf(stderr, "vsock-bench: no switch binary (--switch <path>)\n");
			return -1;
		}
	} else {
		bopt.switch_path = NULL;
	}
	if (testpmd == NULL)
		bopt.testpmd = find_in_path("dpdk-testpmd");
	else if (strcmp(testpmd, "none") != 0)
		bopt.testpmd = testpmd;
	if (bopt.scenarios != NULL) {
		const char *p = bopt.scenarios;

		while (*p != '\0') {
			size_t n = strcspn(p, ",");
			bool ok = false;

			for (i = 0; i < BENCH_DIM(scenarios); i++)
				if (strlen(scenarios[i].name) == n &&
				    strncmp(scenarios[i].name, p, n) == 0)
					ok = true;
			if (!ok) {
				fprintf(stderr, "vsock-bench: unknown scenario '%.*s'\n", (int)n, p);
				return -1;
			}
			p += n;
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

/* Lowest worker CPU share among the metrics @p fn set in @p run (those unset before). */
static double
run_min_share(struct bench_results *r, int run, const bool *was_set)
{
	double lo = INFINITY;
	int i;

	for (i = 0; i < r->nmetrics; i++)
		if (!was_set[i] && !isnan(r->m[i].share[run]) && r->m[i].share[run] < lo)
			lo = r->m[i].share[run];
	return lo;
}

static int
run_scenario(const struct scenario *s, int run)
{
	bool was_set[BENCH_MAX_METRICS];
	int i, try, ret = 0;
	double lo;

	for (i = 0; i < BENCH_MAX_METRICS; i++)
		was_set[i] = i < res.nmetrics && !isnan(res.m[i].share[run]);
	for (try = 0; try <= bopt.retries; try++) {
		ret = s->fn(&res, run);
		lo = run_min_share(&res, run, was_set);
		if (ret < 0 || isinf(lo) || lo >= bopt.min_cpu || try == bopt.retries)
			break;
		printf("  %s: the worker had only %.0f%% of its CPU (other programs on it); "
		       "measuring again\n", s->name, 100 * lo);
		for (i = 0; i < res.nmetrics; i++)
			if (!was_set[i])
				res.m[i].share[run] = NAN;
	}
	return ret;
}

/* ---- tables ---- */

static double
ratio(struct bench_results *r, const struct bench_metric *m, int run)
{
	struct bench_metric *b = m->base[0] ? bench_metric_find(r, m->base) : NULL;

	if (b == NULL || isnan(m->v[run]) || isnan(b->v[run]) || b->v[run] == 0)
		return NAN;
	return m->v[run] / b->v[run];
}

static void
fmt(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (fabs(v) >= 1)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.3f", v);
}

static void
print_run(struct bench_results *r, int run, double loadavg)
{
	char v[32], q[32], l[32], c[32];
	int i;

	printf("\n== run %d/%d (load average %.2f before) ==\n", run + 1, bopt.runs, loadavg);
	printf("%-22s %-44s %10s %-6s %7s %-16s %6s %5s\n", "metric", "what", "value", "unit",
	       "ratio", "of baseline", "w-load", "w-cpu");
	for (i = 0; i < r->nmetrics; i++) {
		const struct bench_metric *m = &r->m[i];

		if (m->nvals <= run || isnan(m->v[run]))
			continue;
		fmt(v, sizeof(v), m->v[run]);
		fmt(q, sizeof(q), ratio(r, m, run));
		if (isnan(m->load[run]))
			snprintf(l, sizeof(l), "-");
		else
			snprintf(l, sizeof(l), "%.0f%%", 100 * m->load[run]);
		if (isnan(m->share[run]))
			snprintf(c, sizeof(c), "-");
		else
			snprintf(c, sizeof(c), "%.0f%%", 100 * m->share[run]);
		printf("%-22s %-44s %10s %-6s %7s %-16s %6s %5s\n", m->name, m->label, v, m->unit, q,
		       m->base[0] ? m->base : "", l, c);
	}
	fflush(stdout);
}

static const char *
verdict(struct bench_results *r, const struct bench_metric *m, char *buf, size_t len)
{
	double rs[BENCH_MAX_RUNS], x;
	int i;

	switch (m->target_kind) {
	case BENCH_TARGET_RATIO_MIN:
		for (i = 0; i < m->nvals; i++)
			rs[i] = ratio(r, m, i);
		x = bench_median(rs, m->nvals);
		if (isnan(x))
			snprintf(buf, len, ">=%.1fx: n/a", m->target);
		else
			snprintf(buf, len, ">=%.1fx: %s (%.0f%%)", m->target,
				 x >= m->target ? "met" : "MISSED", 100 * x / m->target);
		break;
	case BENCH_TARGET_ABS_MIN:
		x = bench_median(m->v, m->nvals);
		snprintf(buf, len, ">=%.0f: %s (%.0f%%)", m->target,
			 isnan(x) ? "n/a" : x >= m->target ? "met" : "MISSED", 100 * x / m->target);
		break;
	case BENCH_TARGET_ABS_MAX:
		x = bench_median(m->v, m->nvals);
		snprintf(buf, len, "<%.0f%s: %s (%.1fx)", m->target, m->unit,
			 isnan(x) ? "n/a" : x < m->target ? "met" : "MISSED", x / m->target);
		break;
	default:
		buf[0] = '\0';
	}
	return buf;
}

static void
min_max(const double *v, int n, double *lo, double *hi)
{
	int i;

	*lo = INFINITY;
	*hi = -INFINITY;
	for (i = 0; i < n; i++) {
		if (isnan(v[i]))
			continue;
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
	if (isinf(*lo))
		*lo = *hi = NAN;
}

static void
print_summary(struct bench_results *r)
{
	char med[32], lo_s[32], hi_s[32], rq[112], rl[32], rh[32], cap[32], vd[64], range[80];
	char wc[16];
	double rs[BENCH_MAX_RUNS], caps[BENCH_MAX_RUNS], lo, hi, x;
	int i, k;

	printf("\n== summary: median [min-max] of %d run%s; ratios per run, same-run baseline ==\n",
	       bopt.runs, bopt.runs == 1 ? "" : "s");
	printf("%-22s %10s %-23s %-6s %-22s %8s %6s  %s\n", "metric", "median", "[min-max]",
	       "unit", "ratio [min-max]", "capacity", "w-cpu", "target");
	for (i = 0; i < r->nmetrics; i++) {
		const struct bench_metric *m = &r->m[i];

		x = bench_median(m->v, m->nvals);
		if (isnan(x) && m->target_kind == BENCH_TARGET_NONE)
			continue;
		fmt(med, sizeof(med), x);
		min_max(m->v, m->nvals, &lo, &hi);
		fmt(lo_s, sizeof(lo_s), lo);
		fmt(hi_s, sizeof(hi_s), hi);
		snprintf(range, sizeof(range), "[%s-%s]", lo_s, hi_s);
		for (k = 0; k < m->nvals; k++) {
			rs[k] = ratio(r, m, k);
			caps[k] = isnan(m->load[k]) || m->load[k] <= 0.01 ? NAN :
				  m->v[k] / m->load[k];
		}
		rq[0] = '\0';
		if (!isnan(bench_median(rs, m->nvals))) {
			fmt(med, sizeof(med), x);
			min_max(rs, m->nvals, &lo, &hi);
			fmt(rl, sizeof(rl), lo);
			fmt(rh, sizeof(rh), hi);
			{
				char rm[32];

				fmt(rm, sizeof(rm), bench_median(rs, m->nvals));
				snprintf(rq, sizeof(rq), "%s [%s-%s]", rm, rl, rh);
			}
		}
		fmt(cap, sizeof(cap), bench_median(caps, m->nvals));
		min_max(m->share, m->nvals, &lo, &hi);
		if (isnan(lo))
			snprintf(wc, sizeof(wc), "-");
		else
			snprintf(wc, sizeof(wc), ">=%.0f%%", 100 * (lo > 1 ? 1 : lo));
		printf("%-22s %10s %-23s %-6s %-22s %8s %6s  %s\n", m->name, med, range, m->unit,
		       rq, cap, wc, verdict(r, m, vd, sizeof(vd)));
	}
	printf("w-load: share of the window the worker spent on work (its CPU time minus idle\n"
	       "rounds); w-cpu: share of the window it had its CPU at all (others may run there;\n"
	       "summary: the lowest over the runs, below 90%% the figure is not the switch's alone).\n"
	       "capacity: value / w-load = what one worker lcore could carry if the guests (all\n"
	       "played by the bench on one CPU) kept up; a lower bound.\n");
}

/* ---- JSON ---- */

static void
json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && p != NULL) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static void
write_json(struct bench_results *r, const double *loadavg, int runs_done, const char *started)
{
	char model[128], tmp[PATH_MAX + 8];
	struct utsname u;
	FILE *f;
	int i, k;

	if (bopt.json_path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", bopt.json_path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "vsock-bench: %s: %s\n", tmp, strerror(errno));
		return;
	}
	uname(&u);
	cpu_model(model, sizeof(model));
	fprintf(f, "{\n  \"tool\": \"vsock-bench\",\n  \"started\": ");
	json_str(f, started);
	fprintf(f, ",\n  \"command\": ");
	json_str(f, bopt.argv_line);
	fprintf(f, ",\n  \"machine\": {\"cpu\": ");
	json_str(f, model);
	fprintf(f, ", \"cpus\": %ld, \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, u.release);
	fprintf(f, ", \"host\": ");
	json_str(f, u.nodename);
	fprintf(f, "},\n  \"layout\": {\"bench_cpu\": %d, \"switch_lcores\": ", bopt.bench_cpu);
	json_str(f, bopt.lcores);
	fprintf(f, ", \"attached\": %s},\n", bopt.switch_path == NULL ? "true" : "false");
	fprintf(f, "  \"runs\": %d,\n  \"runs_done\": %d,\n  \"duration_s\": %g,\n", bopt.runs,
		runs_done, bopt.duration);
	fprintf(f, "  \"loadavg_before_run\": [");
	for (k = 0; k < runs_done; k++) {
		fprintf(f, "%s", k ? ", " : "");
		json_num(f, loadavg[k]);
	}
	fprintf(f, "],\n  \"metrics\": [\n");
	for (i = 0; i < r->nmetrics; i++) {
		const struct bench_metric *m = &r->m[i];

		fprintf(f, "    {\"name\": ");
		json_str(f, m->name);
		fprintf(f, ", \"label\": ");
		json_str(f, m->label);
		fprintf(f, ", \"unit\": ");
		json_str(f, m->unit);
		fprintf(f, ", \"group\": ");
		json_str(f, m->group);
		fprintf(f, ", \"size\": %u, \"guests\": %u, \"baseline\": ", m->size, m->guests);
		if (m->base[0])
			json_str(f, m->base);
		else
			fprintf(f, "null");
		fprintf(f, ", \"target\": {\"kind\": \"%s\", \"value\": ",
			m->target_kind == BENCH_TARGET_RATIO_MIN ? "ratio_min" :
			m->target_kind == BENCH_TARGET_ABS_MIN ? "min" :
			m->target_kind == BENCH_TARGET_ABS_MAX ? "max" : "none");
		json_num(f, m->target_kind ? m->target : NAN);
		fprintf(f, "},\n     \"values\": [");
		for (k = 0; k < runs_done; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, m->v[k]);
		}
		fprintf(f, "], \"ratios\": [");
		for (k = 0; k < runs_done; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, ratio(r, m, k));
		}
		fprintf(f, "], \"worker_load\": [");
		for (k = 0; k < runs_done; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, m->load[k]);
		}
		fprintf(f, "], \"worker_cpu_share\": [");
		for (k = 0; k < runs_done; k++) {
			fprintf(f, "%s", k ? ", " : "");
			json_num(f, m->share[k]);
		}
		fprintf(f, "],\n     \"median\": ");
		json_num(f, bench_median(m->v, runs_done));
		fprintf(f, "}%s\n", i + 1 < r->nmetrics ? "," : "");
	}
	fprintf(f, "  ],\n  \"rtt_cdf\": [");
	for (k = 0; k < r->ncdf; k++) {
		fprintf(f, "%s[", k ? ", " : "");
		json_num(f, r->cdf_p[k]);
		fprintf(f, ", ");
		json_num(f, r->cdf_us[k]);
		fprintf(f, "]");
	}
	fprintf(f, "]\n}\n");
	if (fclose(f) != 0 || rename(tmp, bopt.json_path) != 0)
		fprintf(stderr, "vsock-bench: cannot write %s\n", bopt.json_path);
}

static void
pin_self(void)
{
	cpu_set_t set;

	if (bopt.bench_cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(bopt.bench_cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "vsock-bench: cannot pin to CPU %d: %s\n", bopt.bench_cpu,
			strerror(errno));
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
on_signal(int sig)
{
	/* children (switch, testpmd) were started with PR_SET_PDEATHSIG: they stop too */
	_exit(128 + sig);
}

int
main(int argc, char **argv)
{
	static const char *const pair_group[] = { "stream", "msgrate", "latency", "connrate",
						  "host" };
	double loadavg[BENCH_MAX_RUNS];
	char started[64];
	int run, failures = 0;
	unsigned int i;
	time_t now;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	raise_fd_limit();
	pin_self();
	now = time(NULL);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
	printf("vsock-bench %s: %d run%s of %.2f s per measurement\n", started, bopt.runs,
	       bopt.runs == 1 ? "" : "s", bopt.duration);
	if (bopt.switch_path != NULL)
		printf("switch %s with EAL -l %s (main lcore 0 on CPU 0: control plane and host "
		       "endpoint; worker lcore 1 on CPU 1: every guest);\n", bopt.switch_path,
		       bopt.lcores);
	else
		printf("attached to a running switch with %d guest socket%s;\n", bopt.nattach,
		       bopt.nattach == 1 ? "" : "s");
	printf("the bench (all guests, all host programs, baselines) runs on CPU %d\n",
	       bopt.bench_cpu);
	if (bopt.testpmd == NULL || bopt.switch_path == NULL)
		printf("dpdk-testpmd baseline: %s\n", bopt.switch_path == NULL ?
		       "skipped (it needs both CPUs; a switch is running)" : "not found, skipped");

	for (run = 0; run < bopt.runs; run++) {
		double la[1];

		loadavg[run] = getloadavg(la, 1) == 1 ? la[0] : NAN;
		for (i = 0; i < BENCH_DIM(scenarios); i++) {
			const struct scenario *s = &scenarios[i];
			unsigned int k, t;
			bool pair = false;

			if (!selected(s->name) || (bopt.smoke && !s->smoke && bopt.scenarios == NULL))
				continue;
			for (k = 0; k < BENCH_DIM(pair_group); k++)
				pair |= strcmp(s->name, pair_group[k]) == 0;
			/* the many-guest scenarios run switches of their own */
			if (!pair && bench_pc.up)
				bench_pair_down();
			if (bopt.verbose)
				printf("-- %s\n", s->name);
			/* --smoke checks that each scenario works, not how fast: a
			 * worker starved of its CPU by other programs can leave a
			 * window empty, so a failed scenario gets two more tries. */
			for (t = 0; t < (bopt.smoke ? 3 : 1); t++) {
				if (run_scenario(s, run) == 0)
					break;
				printf("  scenario %s FAILED in run %d%s\n", s->name, run + 1,
				       bopt.smoke && t < 2 ? " (--smoke: trying again)" : "");
				if (bench_pc.up)
					bench_pair_down();
			}
			if (t == (bopt.smoke ? 3 : 1))
				failures++;
		}
		if (bench_pc.up)
			bench_pair_down();
		print_run(&res, run, loadavg[run]);
		write_json(&res, loadavg, run + 1, started);
	}
	print_summary(&res);
	if (bopt.json_path != NULL)
		printf("JSON: %s\n", bopt.json_path);
	if (failures)
		printf("%d scenario failure%s\n", failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
