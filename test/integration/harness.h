/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef HARNESS_H
#define HARNESS_H

/*
 * Integration test harness: runs the real switch binary with a set of guest
 * CIDs, each on its own vhost-user socket in a fresh temporary directory, and
 * stops it at the end, checking that it exits cleanly. Also small helpers for
 * test bodies: checks that count failures, a pseudo-random byte stream and
 * its checksum, and timing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <emu_guest.h>

#define HARNESS_MAX_GUESTS 8

struct harness {
	pid_t pid;
	char dir[256];
	char prefix[64];
	int nguests;
	uint64_t cid[HARNESS_MAX_GUESTS];
	char sock[HARNESS_MAX_GUESTS][320];
};

/** Failures counted by CHECK(); harness_finish() turns them into the exit status. */
extern int harness_failures;

#define CHECK(cond, ...) do { \
	if (cond) { \
		printf("  ok: "); \
	} else { \
		harness_failures++; \
		printf("  FAIL (%s:%d %s): ", __FILE__, __LINE__, #cond); \
	} \
	printf(__VA_ARGS__); \
	printf("\n"); \
	fflush(stdout); \
} while (0)

/**
 * Start the switch at @p switch_path serving @p n guests with CIDs @p cids and
 * wait until every socket exists. Exits the test (status 1) if it cannot.
 */
void harness_start(struct harness *h, const char *switch_path, const uint64_t *cids, int n);

/** Socket path of the guest with CID @p cid. */
const char *harness_sock(const struct harness *h, uint64_t cid);

/** Options for an emulated guest attached to @p cid, Linux defaults. */
void harness_guest_opts(const struct harness *h, uint64_t cid, struct emu_guest_opts *o);

/** Create an emulated guest on @p cid with @p o (or defaults); exits on failure. */
struct emu_guest *harness_guest(const struct harness *h, uint64_t cid,
		const struct emu_guest_opts *o);

/** SIGTERM the switch, check it exits with status 0 within 10 s, remove the directory. */
void harness_stop(struct harness *h);

/** True while the switch process is alive. */
bool harness_alive(struct harness *h);

/** Print the verdict and return the process exit status (0 or 1). */
int harness_finish(const char *test_name);

/** Path of the switch binary: argv[1], else $VS_SWITCH; exits with usage otherwise. */
const char *harness_switch_path(int argc, char **argv);

/** Monotonic milliseconds. */
double harness_now_ms(void);

/** Environment variable as an unsigned number with a default. */
uint64_t harness_env_u64(const char *name, uint64_t def);

/** Deterministic byte stream: fill @p buf with the bytes at @p offset of stream @p seed. */
void harness_pattern(uint64_t seed, uint64_t offset, void *buf, size_t len);

/**
 * Checksum of a byte stream (FNV-1a over little-endian 64-bit words), the same
 * however the stream is cut into pieces.
 */
struct harness_sum {
	uint64_t h;
	uint64_t acc;
	uint64_t off;
};
void harness_sum_init(struct harness_sum *s);
void harness_sum_add(struct harness_sum *s, const void *buf, size_t len);
uint64_t harness_sum_final(const struct harness_sum *s);

/**
 * One direction of a STREAM transfer of @c total pseudo-random bytes: the
 * sender shuts down writing at the end, the receiver checks every byte against
 * the stream it expects and keeps a checksum, and reads until EOF.
 */
struct harness_flow {
	const char *name;
	struct emu_guest *src;
	int src_conn;
	struct emu_guest *dst;
	int dst_conn;
	uint64_t seed;
	uint64_t total;
	uint64_t sent;
	uint64_t rcvd;
	struct harness_sum tx_sum;
	struct harness_sum rx_sum;
	bool shut_sent;
	bool eof_seen;
	bool no_shutdown;   /**< do not SHUT_WR at the end (done = all bytes received) */
	int error;          /**< first error: -errno, or -EBADMSG for wrong data */
	uint64_t bad_off;   /**< stream offset of the first wrong byte */
	uint8_t *txbuf;
	uint64_t txbuf_off;
	uint8_t *rxbuf;
	uint8_t *expect;
};

void harness_flow_init(struct harness_flow *f, const char *name, struct emu_guest *src,
		int src_conn, struct emu_guest *dst, int dst_conn, uint64_t seed, uint64_t total);
void harness_flow_fini(struct harness_flow *f);
/** Move what can be moved now (no polling); returns bytes moved or the flow's error. */
int64_t harness_flow_step(struct harness_flow *f);
/** All bytes received (and EOF seen unless no_shutdown). */
bool harness_flow_done(const struct harness_flow *f);
/**
 * Run flows and poll guests until every flow is done, one fails, or nothing
 * moves for @p stall_ms. Returns 0, the first flow error, or -ETIMEDOUT.
 */
int harness_flows_run(struct harness_flow **fs, int nf, struct emu_guest **gs, int ng,
		int stall_ms);
/** CHECK() that a finished flow arrived whole and intact. */
void harness_flow_check(const struct harness_flow *f);

/**
 * Send SEQPACKET messages of @p sizes from @p src to @p dst (every other one
 * with EOR), polling @p gs, and CHECK() that each arrives whole, in order, with
 * its content and EOR flag. Returns the number of bad messages (or n if it stalls).
 */
int harness_msgs(struct emu_guest **gs, int ng, struct emu_guest *src, int src_conn,
		struct emu_guest *dst, int dst_conn, const uint32_t *sizes, int n, uint64_t seed,
		const char *what);

/** CHECK() that a guest saw no malformed, misrouted or credit-violating packet. */
void harness_check_clean(struct emu_guest *g, const char *name);

/** One end of a connection, the argument of the conditions below. */
struct harness_conn {
	struct emu_guest *g;
	int conn;
};

/** Condition for harness_wait()/emu_poll_until(): the connection is closed. */
int harness_conn_closed(void *arg);

/** Poll @p gs until @p cond holds or @p timeout_ms; CHECK()s the outcome with @p what. */
bool harness_wait(struct emu_guest **gs, int n, int (*cond)(void *), void *arg,
		int timeout_ms, const char *what);

/** Connect @p from to @p to_cid:@p port where @p to listens; returns both ends or exits. */
void harness_pair(struct emu_guest *from, struct emu_guest *to, uint32_t port, uint16_t type,
		int *from_conn, int *to_conn);

#endif /* HARNESS_H */
