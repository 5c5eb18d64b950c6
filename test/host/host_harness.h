/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef HOST_HARNESS_H
#define HOST_HARNESS_H

/*
 * Host endpoint tests: the real switch with a hybrid socket per guest
 * (<dir>/h<cid>) and a control socket (<dir>/ctl), emulated guests, and host
 * programs played by this process with plain Unix sockets. Everything is
 * single-threaded: helpers that wait poll the guests meanwhile.
 */

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

/*
 * How long a transfer may make no progress before it counts as stalled. Generous:
 * on a shared two-CPU machine another process's pinned poller can starve the
 * switch's main lcore for seconds (the host endpoint's max_gap_ms shows it).
 */
#define HH_STALL_MS 30000
/* How long to wait for a step that normally takes milliseconds. */
#define HH_WAIT_MS 10000

struct hh {
	struct harness h; /* pid, dir, guests' vhost-user sockets */
	char ctl[320];
	char uds[HARNESS_MAX_GUESTS][320];
};

/**
 * Start the switch for @p n guests, each with a hybrid socket, plus the control
 * socket; @p extra (NULL-terminated, may be NULL) are more switch options.
 */
void hh_start(struct hh *x, const char *sw, const uint64_t *cids, int n,
	      const char *const *extra);

/**
 * Create an emulated guest on @p cid (options @p o, or defaults) and, if its rings
 * start, wait until the switch runs them (a control CONNECT no longer answers
 * EHOSTUNREACH). Exits on failure.
 */
struct emu_guest *hh_guest(const struct hh *x, uint64_t cid, const struct emu_guest_opts *o);

/** Hybrid socket path of guest @p cid. */
const char *hh_uds(const struct hh *x, uint64_t cid);

/** Connect to a Unix socket; the fd is non-blocking. -errno on failure. */
int hh_connect(const char *path, int type);

/** Listen on a Unix socket (non-blocking). Exits on failure. */
int hh_listen(const char *path, int type);

/** Accept on @p lfd while polling @p gs; -ETIMEDOUT after @p timeout_ms. */
int hh_accept(int lfd, struct emu_guest **gs, int ng, int timeout_ms);

/**
 * Read one line (newline stripped) from @p fd, nothing beyond it, while polling
 * @p gs. If @p passed is not NULL, a file descriptor sent with the line is stored
 * there (-1 if none). Returns the line length, 0 at EOF, or -ETIMEDOUT.
 */
int hh_read_line(int fd, char *buf, int max, int *passed, struct emu_guest **gs, int ng,
		 int timeout_ms);

/** Write all of @p len bytes to a non-blocking @p fd (polling @p gs when full). */
int hh_write_all(int fd, const void *buf, size_t len, struct emu_guest **gs, int ng);

/**
 * Send @p cmd on a new control connection and read the reply line into @p reply.
 * Returns the connection's fd (the caller closes it) or -errno.
 */
int hh_ctl(const struct hh *x, const char *cmd, char *reply, int max, struct emu_guest **gs,
	   int ng, int timeout_ms);

/** One counter of the control socket's STATS reply; exits if it is missing. */
uint64_t hh_stat(const struct hh *x, const char *name);

/**
 * Hybrid connect: "CONNECT <port>\n" on the guest's hybrid socket (its _seqpacket
 * twin for SEQPACKET), wait for "OK <host_port>". Returns the fd or -errno
 * (-ECONNRESET if the switch closed the socket).
 */
int hh_hybrid_connect(const struct hh *x, uint64_t cid, uint32_t port, int type,
		      uint32_t *host_port, struct emu_guest **gs, int ng);

/** Poll @p gs once; if nothing happened, sleep @p idle_us (0: 50 us). */
void hh_poll_us(struct emu_guest **gs, int ng, int idle_us);

/** Poll @p gs for @p ms milliseconds (at least once). */
void hh_poll_ms(struct emu_guest **gs, int ng, int ms);

/** Resident memory of a process in KiB (VmRSS), 0 if unknown. */
uint64_t hh_rss_kib(int pid);

/** One direction of a STREAM transfer between a host socket and a guest connection. */
enum hh_dir { HH_H2G = 0, HH_G2H };

struct hh_flow {
	const char *name;
	enum hh_dir dir;
	int fd;
	struct emu_guest *g;
	int conn;
	uint64_t seed;
	uint64_t total;
	uint64_t sent;
	uint64_t rcvd;
	struct harness_sum tx_sum;
	struct harness_sum rx_sum;
	bool shut_sent;
	bool eof_seen;
	bool no_shutdown; /* do not shut down writing at the end */
	int error;
	uint32_t read_max; /* host reader: bytes per read, 0 = buffer size */
	int read_every_ms; /* host reader: at most one read per this many ms */
	double next_read_ms;
	size_t bufsz; /* bytes of txbuf and expect: min(total, 256 KiB) */
	uint8_t *txbuf;
	uint64_t txbuf_off;
	uint8_t *rxbuf;
	uint8_t *expect;
};

void hh_flow_init(struct hh_flow *f, const char *name, enum hh_dir dir, int fd,
		  struct emu_guest *g, int conn, uint64_t seed, uint64_t total);
void hh_flow_fini(struct hh_flow *f);
bool hh_flow_done(const struct hh_flow *f);
/** Move what can be moved now (no guest polling); bytes moved or the flow's error. */
int64_t hh_flow_step(struct hh_flow *f);
/** Run flows until all are done, one fails, or nothing moves for @p stall_ms. */
int hh_flows_run(struct hh_flow **fs, int nf, struct emu_guest **gs, int ng, int stall_ms);
/** CHECK() that a finished flow arrived whole and intact. */
void hh_flow_check(const struct hh_flow *f);

#endif /* HOST_HARNESS_H */
