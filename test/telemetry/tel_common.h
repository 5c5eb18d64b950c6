/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef TEL_COMMON_H
#define TEL_COMMON_H

/*
 * Observability tests: the real switch with emulated guests (the integration
 * harness), started with extra options (--pcap, --max-flows, ...), and the
 * checks done by tel_check.py, which talks to the switch with the stock
 * clients (dpdk-telemetry.py, tshark) and usertools/vs-top.py.
 *
 * Every test program takes: <vsock-switch> <python3> <tel_check.py> [<vs-top.py>].
 */

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

/** Exit status meson reads as "skipped". */
#define TEL_SKIP 77

/** What every test gets from its command line. */
struct tel_env {
	const char *sw;     /**< switch binary */
	const char *python; /**< python3 */
	const char *check;  /**< tel_check.py */
	const char *vstop;  /**< usertools/vs-top.py, or NULL */
};

/** Read the command line (see above); exits with usage otherwise. */
void tel_env_init(struct tel_env *e, int argc, char **argv);

/**
 * Start the switch like harness_start() (one vhost-user socket per CID in a
 * fresh directory, lcores $VS_TEST_LCORES or 0-1; guest N's hybrid socket is
 * <dir>/gN.uds), with the switch options
 * @p extra (NULL-terminated, may be NULL) after the guests. Exits on failure.
 */
void tel_start(struct harness *h, const char *sw, const uint64_t *cids, int n,
	       const char *const *extra);

/**
 * SIGTERM the switch; CHECK() that it exits with status 0 within 10 s
 * ($VS_TEST_STOP_TIMEOUT_MS milliseconds if set). Prints
 * its log if a check failed or $VS_TEST_VERBOSE is set. The directory stays
 * until tel_cleanup().
 */
void tel_stop(struct harness *h);

/** Remove the switch's directory and EAL runtime directory. */
void tel_cleanup(struct harness *h);

/**
 * Run "<python> <tel_check.py> <args>" (printf-style) and return its exit
 * status: 0 pass, 1 fail, 77 skip, other values for errors.
 */
int tel_check(const struct tel_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Like tel_check(), but keep polling @p gs (and let the flows in @p fs move,
 * if any) while the checker runs: for checks that need traffic to flow.
 */
int tel_check_polling(const struct tel_env *e, struct emu_guest **gs, int ng,
		      struct harness_flow **fs, int nf, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/**
 * Connect @p from to @p to at @p port (a listener is created) once, with no
 * retry, so that counters stay exact: the switch must already run both guests
 * (see tel_check() "wait-running"). Exits on failure.
 */
void tel_pair(struct emu_guest **gs, int ng, struct emu_guest *from, struct emu_guest *to,
	      uint32_t port, uint16_t type, int *from_conn, int *to_conn);

/** Poll @p gs until nothing happens for @p quiet_ms (at most 2 s). */
void tel_settle(struct emu_guest **gs, int ng, int quiet_ms);

/** Sum of a guest's per-op counters (the rx_pkts or tx_pkts array). */
uint64_t tel_sum_ops(const uint64_t *ops);

#endif /* TEL_COMMON_H */
