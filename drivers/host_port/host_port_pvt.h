/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef HOST_PORT_PVT_H
#define HOST_PORT_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <rte_common.h>
#include <rte_log.h>

#include "host_port.h"
#include "vs_config.h"
#include "vs_ratelimit.h"
#include "vsock_proto.h"

struct rte_mbuf;
struct rte_ring;

/* Longest command line, newline included: control socket (GUEST-ADD has two
 * socket paths), and hybrid handshake. */
#define HP_LINE_MAX 320
#define HP_HYBRID_LINE_MAX 128

/* Longest line @c may send. */
#define HP_CONN_LINE_MAX(c) ((c)->proto == HP_PROTO_CONTROL ? HP_LINE_MAX : HP_HYBRID_LINE_MAX)
/* Host packets per connection waiting for the switch; reading stops at half. */
#define HP_TXQ 32
/* Largest SEQPACKET message a host program may send. */
#define HP_MSG_MAX (1024u * 1024)
/* Guest packets taken from the host ring in one burst, and per round. */
#define HP_RX_BURST 64
#define HP_RX_BUDGET 1024
/* Reads of one host socket per round (fairness). */
#define HP_READS_PER_ROUND 4
/* A closing connection waits this long for the guest's RST (Linux: 8 s). */
#define HP_CLOSE_TIMEOUT_MS 8000
/* CREDIT_REQUEST: first (STREAM) after, then repeated with a doubling interval. */
#define HP_CREDIT_ASK_MS 5
#define HP_CREDIT_ASK_MAX_MS 1000
/* Timers are looked at this often. */
#define HP_TIMER_PERIOD_MS 1
/* Hash buckets of the connection table. */
#define HP_HASH_SIZE 16384
/* Events taken from epoll at once. */
#define HP_EVENTS 64
/* Connections listed by CONNS at most. */
#define HP_CONNS_MAX 1000
/* Generated RSTs waiting for the switch. */
#define HP_LOOSE_MAX 256

/* Rate-limit buckets of guest-triggered log lines. */
#define HP_LOG_BUCKETS 64

/* LISTEN without a CID. */
#define HP_CID_ANY UINT64_MAX

/* What an epoll registration points at. */
enum hp_obj {
	HP_OBJ_LISTENER = 1,
	HP_OBJ_CONN,
	HP_OBJ_DOORBELL, /* the switch's eventfd: workers handed us packets */
};

enum hp_listener_kind {
	HP_LST_HYBRID = 0, /* <uds>: STREAM hybrid handshake */
	HP_LST_HYBRID_SEQ, /* <uds>_seqpacket */
	HP_LST_CONTROL, /* --control */
};

struct hp_guest;

struct hp_listener {
	uint8_t obj; /* HP_OBJ_LISTENER; first, for epoll dispatch */
	uint8_t kind; /* enum hp_listener_kind */
	int fd;
	uint64_t paused_until_ms; /* out of fds: not polled until then (0: polled) */
	struct hp_guest *guest; /* NULL for the control socket */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* A guest with a hybrid socket. */
struct hp_guest {
	uint64_t cid;
	char uds[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct hp_listener lst[2];
};

/* How a host socket came to us. */
enum hp_proto {
	HP_PROTO_HYBRID = 0, /* hybrid CONNECT line */
	HP_PROTO_CONTROL, /* control socket command */
	HP_PROTO_DIAL, /* we connected to <uds>_<port> for a guest */
	HP_PROTO_ACCEPT, /* socketpair handed to a LISTEN-er */
};

enum hp_state {
	HP_ST_LINE = 0, /* accepted, waiting for a command line */
	HP_ST_LISTEN, /* control connection holding a LISTEN */
	HP_ST_CONNECTING, /* REQUEST sent to the guest */
	HP_ST_DIALING, /* guest's REQUEST: connect() to <uds>_<port> said EAGAIN */
	HP_ST_CONNECTED, /* data flows (either way may be shut down) */
	HP_ST_CLOSING, /* we sent SHUTDOWN RCV|SEND: waiting for the guest's RST */
	HP_ST_DEAD, /* gone; freed at the end of the round */
};

/* Pending control packets, sent in this order. */
#define HP_PEND_RESPONSE 0x1u
#define HP_PEND_CREDIT 0x2u
#define HP_PEND_SHUTDOWN 0x4u

/* Guest data waiting for the host socket: a byte ring of buf_alloc bytes. */
struct hp_ring {
	uint8_t *buf;
	uint32_t cap;
	uint32_t head; /* offset of the first byte */
	uint32_t len;
};

/* Lengths of whole SEQPACKET messages in the byte ring, oldest first. */
struct hp_msgq {
	uint32_t *len;
	uint32_t cap;
	uint32_t head;
	uint32_t n;
};

struct hp_conn {
	uint8_t obj; /* HP_OBJ_CONN; first, for epoll dispatch */
	uint8_t state; /* enum hp_state */
	uint8_t proto; /* enum hp_proto */
	uint16_t type; /* VSOCK_TYPE_* */
	int fd; /* host socket, -1 once closed */

	/* Key: the guest end and our end. */
	uint64_t cid;
	uint32_t gport;
	uint32_t hport;
	bool hashed;
	struct hp_conn *hnext;

	/* Lists: all, active this round, timed, dead. */
	struct hp_conn *next, *prev;
	struct hp_conn *anext;
	bool active;
	struct hp_conn *tnext, *tprev;
	bool timed;
	uint64_t deadline_ms;

	/* Socket readiness (edge-triggered epoll). */
	bool readable;
	bool writable;
	bool rdhup; /* host program shut down writing (or closed) */
	bool hup; /* host socket shut both ways: the program closed */

	/* Handshake and control. */
	char line[HP_LINE_MAX];
	uint32_t line_len;
	struct hp_conn *lnext; /* HP_ST_LISTEN: list of listeners */
	uint32_t listen_port; /* HP_ST_LISTEN */
	uint64_t listen_cid; /* HP_ST_LISTEN: a CID, or HP_CID_ANY */
	struct hp_guest *guest; /* HP_PROTO_HYBRID / HP_PROTO_DIAL */

	/* Credit, guest -> host direction (what we advertise). */
	uint32_t rx_cnt; /* payload bytes received from the guest */
	uint32_t fwd_cnt; /* bytes written to the host socket (or discarded) */
	uint32_t fwd_cnt_sent; /* fwd_cnt in the last packet we built */
	bool credit_req; /* the guest asked (CREDIT_REQUEST) */
	bool credit_short; /* sending waits for credit; cleared by a guest packet, timer */
	uint64_t stall_ms; /* when the credit ran short, 0 if it is not */
	uint64_t ask_ms; /* when we last sent CREDIT_REQUEST in this stall, 0 if never */
	uint32_t ask_every_ms; /* interval between CREDIT_REQUESTs, doubling */
	/* Credit, host -> guest direction (what the guest advertises). */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt; /* payload bytes we sent */
	uint64_t tx_pkts; /* packets the switch took from us (telemetry) */
	uint64_t state_ms; /* when @state was last set (telemetry) */

	/* Shutdown. */
	uint32_t shut; /* VSOCK_SHUTDOWN_* flags we sent */
	uint32_t peer_shut; /* flags the guest sent */
	uint32_t pend; /* HP_PEND_* */
	bool host_eof; /* read returned end of file */
	bool host_gone; /* writing to the host failed: nobody reads any more */
	bool host_wr_shut; /* we did shutdown(fd, SHUT_WR) */
	bool host_rd_shut; /* we did shutdown(fd, SHUT_RD) */

	/* Guest -> host data. */
	struct hp_ring rx;
	struct hp_msgq msgs;
	uint32_t msg_partial; /* bytes of the message being received */

	/* Host -> guest: bytes read but not yet packets (handshake leftovers, no mbuf). */
	uint8_t *stash;
	uint32_t stash_len;
	bool stash_eom; /* SEQPACKET: the stash is one whole message (or its tail) */
	bool stash_admitted; /* its credit was checked already */
	/* Packets the switch did not take yet, in order. */
	struct rte_mbuf *txq[HP_TXQ];
	uint32_t txq_len;
};

/* The whole host endpoint: one instance, one thread. */
struct hp_state_all {
	struct host_port_conf conf;
	struct rte_ring *in;
	int epfd;
	bool ready;

	struct hp_listener control;
	struct hp_guest *guests;
	uint32_t nguests;
	int spare_fd; /* held to be closed for one accept() when out of fds (EMFILE) */
	uint32_t npaused; /* listeners paused for lack of fds */
	uint64_t emfile_logged_ms; /* last "out of file descriptors" warning */

	struct hp_conn *hash[HP_HASH_SIZE];
	struct hp_conn *all; /* every live conn */
	struct hp_conn *active; /* to run this round */
	struct hp_conn *timed; /* with a deadline */
	struct hp_conn *dead; /* free at the end of the round */
	struct hp_conn *listens; /* control connections holding a LISTEN */
	uint32_t nconns;
	uint32_t next_hport;

	struct rte_mbuf *loose[HP_LOOSE_MAX]; /* RSTs for no connection */
	uint32_t nloose;

	uint8_t *scratch; /* HP_MSG_MAX bytes for reads */
	uint64_t now_ms;
	uint64_t round_ms; /* start of the last round */
	uint64_t next_timer_ms;
	uint32_t idle_rounds;
	struct host_port_stats st;
	/* Log lines guests trigger, one bucket per CID modulo HP_LOG_BUCKETS. */
	struct vs_ratelimit log_rl[HP_LOG_BUCKETS];
};

extern struct hp_state_all hp;

/* host_port.c */
uint64_t hp_clock_ms(void);
struct hp_guest *hp_guest_find(uint64_t cid);
void hp_activate(struct hp_conn *c);
void hp_timer_set(struct hp_conn *c, uint64_t deadline_ms);
void hp_timer_clear(struct hp_conn *c);
struct hp_conn *hp_conn_new(int fd, enum hp_proto proto, uint16_t type);
int hp_conn_set_fd(struct hp_conn *c, int fd);
void hp_conn_kill(struct hp_conn *c);
int hp_conn_hash_add(struct hp_conn *c);
struct hp_conn *hp_conn_lookup(uint64_t cid, uint32_t gport, uint32_t hport);
void hp_buffered_add(int64_t delta);

/* hp_line.c: command lines of the hybrid and control sockets. */
unsigned int hp_line_run(struct hp_conn *c);
void hp_line_reply(struct hp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hp_line_error(struct hp_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void hp_connected_reply(struct hp_conn *c);
struct hp_conn *hp_listener_find(uint32_t port, uint64_t cid);
int hp_accept_handover(struct hp_conn *lc, struct hp_conn *c);
int hp_unix_connect(const char *path, uint16_t type, int *fd);

int hp_line_send(struct hp_conn *c, const char *buf, size_t len);

/* hp_guests.c: guests added and deleted from the control socket. */
void hp_control_guest_add(struct hp_conn *c, const char *spec);
void hp_control_guest_del(struct hp_conn *c, uint64_t cid);
void hp_control_guests(struct hp_conn *c);

/* hp_conn.c: the vsock state machine of a connection's host end. */
void hp_guest_rx(struct rte_mbuf *m);
int hp_conn_request(struct hp_conn *c);
unsigned int hp_conn_run(struct hp_conn *c);
void hp_conn_timeout(struct hp_conn *c);
void hp_conn_dial_retry(struct hp_conn *c);
void hp_conn_reset(struct hp_conn *c);
unsigned int hp_loose_flush(void);
void hp_conn_release(struct hp_conn *c);

/* Enter a state; the time is kept for telemetry (state_age_ms). */
static inline void
hp_conn_set_state(struct hp_conn *c, enum hp_state st)
{
	c->state = (uint8_t)st;
	c->state_ms = hp.now_ms;
}

/* hp_telemetry.c: the endpoint's part of /vsock/guest and /vsock/flows. */
void hp_tel_init(void);
void hp_tel_serve(void);

#define HP_LOG(level, fmt, ...) VS_LOG(level, "host: " fmt, ##__VA_ARGS__)
/* A line guest @cid can trigger: rate limited per guest (vs_ratelimit.h). */
#define HP_LOG_RL(cid, level, fmt, ...) \
	VS_LOG_RL(&hp.log_rl[(cid) % HP_LOG_BUCKETS], level, "host: " fmt, ##__VA_ARGS__)

#endif /* HOST_PORT_PVT_H */
