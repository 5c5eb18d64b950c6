/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef HOSTILE_H
#define HOSTILE_H

/*
 * Hostile-guest tests: helpers shared by the test programs of test/hostile.
 *
 *  - A raw frontend: an emulated guest (drivers/emu_guest) whose rings this
 *    process then writes by hand, descriptor by descriptor and index by index,
 *    through the emulated guest's private header. While a guest is "raw" its own
 *    driver is not polled; emu_guest_stop() + emu_guest_start() (a driver reload)
 *    gives it back to the well-behaved driver with fresh rings.
 *  - A DPDK telemetry client (the switch's /vsock/... commands) to read drop
 *    counters, backlogs and mbufs in use straight from the running switch.
 *  - A well-behaved pair: a connection between two guests that moves checked
 *    data while a hostile guest does its worst, and the rate it got. A stalled
 *    transfer prints both ends' state and the switch's counters (and, with
 *    VS_HOSTILE_GDB set, the switch's thread stacks).
 */

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "emu_guest_pvt.h"

/* ---- a switch with options of our own ---- */

/**
 * Like harness_start(), with an EAL --lcores map (e.g. "(0-2)@(0-1)": three lcores
 * on two CPUs), per-guest --guest options (@p guest_extra[i], e.g. "lcore=2", or
 * NULL) and more switch options (@p extra, NULL-terminated, or NULL).
 * harness_stop() stops it.
 */
void hostile_start(struct harness *h, const char *sw, const uint64_t *cids, int n,
		   const char *lcores, const char *const *guest_extra, const char *const *extra);

/* ---- raw rings ---- */

struct hr {
	struct emu_guest *g;
	struct emu_vring *vr; /* the ring written by hand */
	uint16_t avail_idx; /* what we published last */
	uint16_t used_seen; /* used entries consumed */
	uint64_t returned; /* used entries seen */
	uint64_t returned_nonzero; /* ... with a length other than 0 */
	uint64_t bad_ids; /* used entries naming a head we did not post */
	uint8_t *scratch; /* guest memory of our own for headers and tables */
	uint64_t scratch_gpa;
	uint32_t scratch_len;
};

/** Take over queue @p qid (VSOCK_VQ_TX or VSOCK_VQ_RX) of a running guest. */
void hr_init(struct hr *r, struct emu_guest *g, int qid);

/** Write descriptor @p i. */
void hr_desc(struct hr *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);

/** Put @p head on the avail ring and publish the index. */
void hr_post(struct hr *r, uint16_t head);

/** Publish any avail index (no ring entry written). */
void hr_set_avail_idx(struct hr *r, uint16_t idx);

/** Consume used entries; returns how many came back now. */
unsigned int hr_reap(struct hr *r);

/** Chains posted and not yet returned. */
static inline uint16_t
hr_outstanding(const struct hr *r)
{
	return (uint16_t)(r->avail_idx - r->used_seen);
}

/** GPA of a byte of the scratch area. */
static inline uint64_t
hr_gpa(const struct hr *r, uint32_t off)
{
	return r->scratch_gpa + off;
}

/** Encode a valid-looking header at scratch offset @p off. */
void hr_hdr(struct hr *r, uint32_t off, const struct vsock_hdr *h);

/** First GPA and size of the guest's memory region @p i. */
uint64_t hr_region_gpa(const struct hr *r, int i);
uint64_t hr_region_size(const struct hr *r, int i);

/* ---- telemetry ---- */

/**
 * Ask the switch's telemetry socket @p cmd (e.g. "/vsock/stats",
 * "/vsock/guest,5") and return the number after "key": in the reply, or -1.
 */
int64_t tel_u64(const struct harness *h, const char *cmd, const char *key);

/** Print the switch's reply to @p cmd. */
void tel_print(const struct harness *h, const char *cmd);

/* ---- the well-behaved pair ---- */

/** If set, a stalled pair_run() prints both guests' switch counters. */
extern const struct harness *pair_harness;

struct pair {
	struct emu_guest *a, *b; /* a sends, b receives */
	int ca, cb;
	uint64_t seed;
	double baseline_mbps;
};

/** pair_run() gives up after this long without progress (default 10 s). */
extern int pair_stall_ms;

/** Connect a -> b on @p port. */
void pair_open(struct pair *p, struct emu_guest *a, struct emu_guest *b, uint32_t port);

/**
 * Move @p bytes of checked data a -> b while calling @p step (if not NULL) after
 * every round; poll @p extra guests as well (NULL entries skipped). CHECK()s that
 * every byte arrived intact. Returns the rate in MB/s, or 0 on failure.
 */
double pair_run(struct pair *p, const char *what, uint64_t bytes,
		void (*step)(void *arg), void *arg, struct emu_guest **extra, int nextra);

/** pair_run() and CHECK() the rate is at least @p min_ratio of the baseline. */
void pair_check_rate(struct pair *p, const char *what, uint64_t bytes, double min_ratio,
		     void (*step)(void *arg), void *arg, struct emu_guest **extra, int nextra);

/** Poll guests for @p ms (NULL entries skipped). */
void poll_ms(struct emu_guest **gs, int n, int ms);

#endif /* HOSTILE_H */
