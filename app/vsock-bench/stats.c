/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* Results: one value per run and metric; medians and percentiles. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bench_median(const double *v, int n)
{
	double s[BENCH_MAX_RUNS];
	int i, k = 0;

	for (i = 0; i < n && i < BENCH_MAX_RUNS; i++)
		if (!isnan(v[i]))
			s[k++] = v[i];
	if (k == 0)
		return NAN;
	qsort(s, (size_t)k, sizeof(s[0]), bench_cmp_double);
	return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

double
bench_pct_sorted(const double *v, size_t n, double p)
{
	double pos, frac;
	size_t i;

	if (n == 0)
		return NAN;
	pos = p / 100.0 * (double)(n - 1);
	i = (size_t)pos;
	if (i >= n - 1)
		return v[n - 1];
	frac = pos - (double)i;
	return v[i] + (v[i + 1] - v[i]) * frac;
}

const char *
bench_size_name(uint32_t size, char *buf, size_t len)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, len, "%uk", size / 1024);
	else
		snprintf(buf, len, "%u", size);
	return buf;
}

struct bench_metric *
bench_metric_find(struct bench_results *r, const char *name)
{
	int i;

	for (i = 0; i < r->nmetrics; i++)
		if (strcmp(r->m[i].name, name) == 0)
			return &r->m[i];
	return NULL;
}

struct bench_metric *
bench_metric(struct bench_results *r, const char *name, const char *unit, const char *group,
	     const char *label)
{
	struct bench_metric *m = bench_metric_find(r, name);
	int i;

	if (m != NULL)
		return m;
	if (r->nmetrics == BENCH_MAX_METRICS) {
		fprintf(stderr, "vsock-bench: too many metrics\n");
		exit(2);
	}
	m = &r->m[r->nmetrics++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	snprintf(m->group, sizeof(m->group), "%s", group);
	snprintf(m->label, sizeof(m->label), "%s", label);
	m->higher_better = true;
	for (i = 0; i < BENCH_MAX_RUNS; i++)
		m->v[i] = m->load[i] = m->share[i] = NAN;
	return m;
}

void
bench_record(struct bench_results *r, int run, const char *name, double v, double load)
{
	struct bench_metric *m = bench_metric_find(r, name);

	if (m == NULL || run < 0 || run >= BENCH_MAX_RUNS)
		return;
	m->v[run] = v;
	m->load[run] = load;
	if (m->nvals < run + 1)
		m->nvals = run + 1;
}

void
bench_record_share(struct bench_results *r, int run, const char *name, double share)
{
	struct bench_metric *m = bench_metric_find(r, name);

	if (m != NULL && run >= 0 && run < BENCH_MAX_RUNS)
		m->share[run] = share;
}
