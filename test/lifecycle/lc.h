/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef LC_H
#define LC_H

/*
 * Guest lifecycle tests: the switch runs with a control socket (guests are added
 * and deleted at run time with GUEST-ADD / GUEST-DEL) and a few guests given on
 * the command line. Built on the integration harness (test/integration).
 */

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/** A running switch: the harness's view plus the control socket. */
struct lc_switch {
	struct harness h;
	char control[320];
};

/**
 * Start the switch at @p sw with worker lcores @p lcores (EAL --lcores syntax),
 * a control socket, and guests @p cids (each "cid=N,socket=...,lcore=L" with
 * lcore @p pin[i], or none if pin[i] < 0). Extra switch options in @p extra
 * (NULL-terminated, may be NULL). Exits on failure.
 */
void lc_start(struct lc_switch *s, const char *sw, const char *lcores, const uint64_t *cids,
	      const int *pin, int n, const char *const *extra);

/**
 * Send one control line (newline added) and read the reply until the switch
 * closes the connection or @p timeout_ms passes. Returns bytes read or -errno.
 */
int lc_ctl(const struct lc_switch *s, const char *line, char *reply, size_t size,
	   int timeout_ms);

/** Send one control line and leave the connection open; returns the fd or -errno. */
int lc_ctl_open(const struct lc_switch *s, const char *line);

/** Read a line from @p fd within @p timeout_ms; returns its length or -errno. */
int lc_read_line(int fd, char *buf, size_t size, int timeout_ms);

/** Wait until GUESTS shows @p n guests running; 0 or -ETIMEDOUT. */
int lc_wait_running(const struct lc_switch *s, int n, int timeout_ms);

/** One DPDK telemetry command (e.g. "/vsock/guest,3"): its JSON reply in @p out. */
int lc_telemetry(const struct lc_switch *s, const char *cmd, char *out, size_t size);

/** Socket path for a guest added at run time. */
void lc_sock_path(const struct lc_switch *s, uint64_t cid, char *buf, size_t size);

/** Stop the switch: SIGTERM, status 0 expected (ASan leaks make it non-zero). */
void lc_stop(struct lc_switch *s);

#endif /* LC_H */
