/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef DENS_H
#define DENS_H

/*
 * Density tests: the switch with guests in client mode (the frontend listens,
 * the switch connects) and many guests at once. The switch is started with any
 * application arguments (a configuration file for a thousand guests), its
 * output goes to <dir>/switch.log, and the integration harness's checks,
 * streams and stop are reused.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/**
 * Make @p h's temporary directory (sockets and logs go there) and its DPDK
 * file prefix; nothing runs yet.
 */
void dens_prepare(struct harness *h);

/**
 * Run the switch (EAL: --no-huge, -m @p mem_mb, --lcores $VS_TEST_LCORES, else
 * @p lcores, else 0-1)
 * with @p args after "--", and wait until it printed "Ready." (exits the test
 * if it does not within @p timeout_ms).
 */
void dens_start(struct harness *h, const char *switch_path, const char *lcores,
		unsigned int mem_mb, const char *const *args, int nargs, int timeout_ms);

/**
 * SIGTERM the switch and CHECK() that it exits with status 0 within 10 s; its
 * files stay until dens_cleanup().
 */
void dens_stop(struct harness *h);

/** Remove the temporary directory and the DPDK runtime directory (after dens_stop()). */
void dens_cleanup(struct harness *h);

/** Whether the switch's log holds @p needle. */
bool dens_log_has(const struct harness *h, const char *needle);

/** Number of lines of the switch's log that hold @p needle. */
int dens_log_count(const struct harness *h, const char *needle);

/** Options of a server-mode emulated guest listening on @p path. */
void dens_server_opts(struct emu_guest_opts *o, const char *path);

/** Resident set size of process @p pid in KiB (VmRSS), or -1. */
long dens_rss_kib(int pid);

/** Number of open file descriptors of process @p pid, or -1. */
int dens_nfds(int pid);

/** Ask the switch's telemetry @p cmd; the JSON reply in @p buf. @return bytes or -1. */
int dens_tel_query(const struct harness *h, const char *cmd, char *buf, size_t len);

/**
 * Numbers of "key": N or "key": [N, N, ...] in @p json into @p v.
 * @return how many, or -1 if the key is not there.
 */
int dens_json_u64s(const char *json, const char *key, uint64_t *v, int max);

/** Bytes the DPDK heap has allocated (telemetry /eal/heap_info,0), in KiB, or -1. */
long dens_heap_alloc_kib(const struct harness *h);

#endif /* DENS_H */
