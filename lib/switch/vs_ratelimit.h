/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_RATELIMIT_H
#define VS_RATELIMIT_H

/**
 * @file
 * Rate limit for log lines a guest (or a host program) can trigger.
 *
 * A hostile guest that resets its driver in a loop, or floods REQUESTs nobody
 * accepts, must not flood the log. Each source of such lines (a guest on its
 * owner lcore, a guest on the control plane, the host endpoint) has a bucket: at
 * most VS_RATELIMIT_BURST lines per VS_RATELIMIT_PERIOD_S seconds pass; the
 * rest are counted, and the next line that passes is preceded by a line saying
 * how many were left out. A bucket has one writer (the thread that logs for that
 * source): no atomics.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Lines one bucket lets through per period. */
#define VS_RATELIMIT_BURST 10
/** Length of a period, seconds. */
#define VS_RATELIMIT_PERIOD_S 5

/** A bucket; zero-initialised is ready to use. */
struct vs_ratelimit {
	uint64_t period_end; /**< TSC at which the current period ends */
	uint32_t left; /**< lines still allowed in this period */
	uint32_t suppressed; /**< lines left out since the last one that passed */
};

/**
 * May one more line be logged now?
 *
 * @param rl
 *   The source's bucket.
 * @param now
 *   Current TSC (rte_get_tsc_cycles()).
 * @param suppressed
 *   Output: lines left out before this one (to be reported), when it returns true.
 * @return
 *   true if the line passes.
 */
static inline bool
vs_ratelimit_pass(struct vs_ratelimit *rl, uint64_t now, uint32_t *suppressed)
{
	if (now >= rl->period_end) {
		rl->period_end = now + VS_RATELIMIT_PERIOD_S * rte_get_tsc_hz();
		rl->left = VS_RATELIMIT_BURST;
	}
	if (rl->left == 0) {
		rl->suppressed++;
		return false;
	}
	rl->left--;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

/**
 * Log through rte_log with the switch's log type (see VS_LOG), rate-limited by
 * bucket @p rl.
 */
#define VS_LOG_RL(rl, level, fmt, ...) do { \
	uint32_t vs_rl_sup_; \
	if (vs_ratelimit_pass((rl), rte_get_tsc_cycles(), &vs_rl_sup_)) { \
		if (vs_rl_sup_ != 0) \
			VS_LOG(level, "(%u lines of this source suppressed by the rate limit)", \
			       vs_rl_sup_); \
		VS_LOG(level, fmt, ##__VA_ARGS__); \
	} \
} while (0)

#ifdef __cplusplus
}
#endif

#endif /* VS_RATELIMIT_H */
