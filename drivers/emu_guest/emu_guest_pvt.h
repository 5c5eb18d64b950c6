/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef EMU_GUEST_PVT_H
#define EMU_GUEST_PVT_H

/*
 * Internals of the emulated guest, shared by its source files:
 *   emu_mem.c     guest memory (memfd) and GPA <-> pointer translation
 *   vhost_user.c  frontend side of the vhost-user protocol
 *   vring.c       driver side of split virtqueues
 *   transport.c   packets <-> descriptors: tx layouts, rx buffers, control queue
 *   vsock_sock.c  socket layer: connections, state machine, credit
 *   emu_guest.c   lifecycle and polling
 */

#include <stdint.h>
#include <linux/virtio_ring.h>

#include "emu_guest.h"

/* ---- vhost-user protocol (docs/interop/vhost-user.rst in QEMU) ---- */

enum emu_vu_request {
	EMU_VU_GET_FEATURES = 1,
	EMU_VU_SET_FEATURES = 2,
	EMU_VU_SET_OWNER = 3,
	EMU_VU_SET_MEM_TABLE = 5,
	EMU_VU_SET_VRING_NUM = 8,
	EMU_VU_SET_VRING_ADDR = 9,
	EMU_VU_SET_VRING_BASE = 10,
	EMU_VU_GET_VRING_BASE = 11,
	EMU_VU_SET_VRING_KICK = 12,
	EMU_VU_SET_VRING_CALL = 13,
	EMU_VU_GET_PROTOCOL_FEATURES = 15,
	EMU_VU_SET_PROTOCOL_FEATURES = 16,
	EMU_VU_GET_QUEUE_NUM = 17,
	EMU_VU_SET_VRING_ENABLE = 18,
	EMU_VU_GET_CONFIG = 24,
};

#define EMU_VU_VERSION 0x1u
#define EMU_VU_VERSION_MASK 0x3u
#define EMU_VU_FLAG_REPLY 0x4u
#define EMU_VU_FLAG_NEED_REPLY 0x8u
#define EMU_VU_VRING_NOFD (1u << 8)
#define EMU_VU_MAX_REGIONS 8
#define EMU_VU_MAX_CONFIG 256
#define EMU_VU_CONFIG_HDR_LEN 12

/* Virtio feature bit of vhost-user itself. */
#define EMU_VU_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define EMU_VU_PROTOCOL_F_MQ 0
#define EMU_VU_PROTOCOL_F_REPLY_ACK 3
#define EMU_VU_PROTOCOL_F_CONFIG 9

/* Bytes of the vsock config space the frontend reads: le64 guest_cid. */
#define EMU_VSOCK_CONFIG_LEN 8

struct emu_vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct emu_vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct emu_vu_region regions[EMU_VU_MAX_REGIONS];
};

struct emu_vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct emu_vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct emu_vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[EMU_VU_MAX_CONFIG];
};

struct __attribute__((packed)) emu_vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct emu_vu_vring_state state;
		struct emu_vu_vring_addr addr;
		struct emu_vu_mem_table mem;
		struct emu_vu_config cfg;
	} payload;
};

#define EMU_VU_HDR_LEN 12

/* ---- guest memory ---- */

struct emu_mem_region {
	uint8_t *hva;      /* where this process maps it */
	uint64_t gpa;      /* first guest physical address */
	uint64_t size;
	uint64_t offset;   /* offset in the memfd */
	uint64_t brk;      /* bytes handed out by emu_mem_alloc() */
};

struct emu_mem {
	int fd;
	int nregions;
	struct emu_mem_region r[2];
};

int emu_mem_init(struct emu_mem *m, size_t size, int nregions);
void emu_mem_fini(struct emu_mem *m);
void *emu_mem_alloc(struct emu_mem *m, int region, size_t size, size_t align);
uint64_t emu_mem_gpa(const struct emu_mem *m, const void *p);

/* ---- driver side of a split virtqueue ---- */

struct emu_vring {
	uint16_t num;
	bool event_idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kickfd;
	int callfd;
	/* driver-private state, never read back from shared memory */
	uint16_t avail_idx;       /* next avail->idx to publish */
	uint16_t kicked_idx;      /* avail idx when we last considered kicking */
	uint16_t last_used;       /* next used entry to consume */
	uint16_t free_head;
	uint16_t num_free;
	uint16_t *next;           /* free list and chain links */
	uint16_t *chain_len;      /* descriptors per allocated head, 0 = free */
	uint8_t *inflight;        /* head is on the avail ring, not yet used */
	struct vring_desc *indirect; /* EMU_VRING_MAX_INDIRECT entries per head */
	uint64_t indirect_gpa;
};

#define EMU_VRING_MAX_INDIRECT 4

int emu_vring_init(struct emu_vring *vr, struct emu_mem *m, uint16_t num);
void emu_vring_fini(struct emu_vring *vr);
void emu_vring_reset(struct emu_vring *vr, bool event_idx);
int emu_vring_get_chain(struct emu_vring *vr, uint16_t n, uint16_t *head);
void emu_vring_put_chain(struct emu_vring *vr, uint16_t head);
void emu_vring_make_avail(struct emu_vring *vr, uint16_t head);
void emu_vring_publish(struct emu_vring *vr);
bool emu_vring_kick(struct emu_vring *vr);
int emu_vring_used(struct emu_vring *vr, uint16_t *head, uint32_t *len);
void emu_vring_used_done(struct emu_vring *vr);
uint64_t emu_vring_drain_call(struct emu_vring *vr);

/* ---- sockets ---- */

struct emu_chunk {
	struct emu_chunk *next;
	uint32_t len;
	uint32_t off;
	uint32_t flags;  /* SEQ_EOM / SEQ_EOR of the piece */
	uint8_t data[];
};

struct emu_conn {
	int state;            /* 0: slot free, else enum emu_conn_state */
	bool orphan;          /* emu_close() done; waiting for the peer's RST */
	int error;
	uint16_t type;
	uint32_t local_port;
	uint64_t peer_cid;
	uint32_t peer_port;
	uint32_t shut;        /* SHUTDOWN flags we sent */
	uint32_t peer_shut;   /* SHUTDOWN flags received */
	/* credit, as in struct virtio_vsock_sock */
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
	uint32_t last_fwd_cnt;
	uint32_t rx_bytes;
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;
	bool credit_requested; /* CREDIT_REQUEST sent, no packet from the peer since */
	/* received data, oldest first */
	struct emu_chunk *rx_head;
	struct emu_chunk *rx_tail;
	uint32_t msg_count;   /* SEQPACKET: complete messages queued */
	uint32_t rx_sunk;     /* STREAM sink: bytes received, counted not stored */
	bool rx_sink;         /* emu_set_rx_sink() */
	uint64_t close_deadline_ns;
	int hnext;            /* hash chain */
};

#define EMU_ACCEPT_BACKLOG 128

struct emu_listener {
	uint32_t port;
	uint16_t type;
	int q[EMU_ACCEPT_BACKLOG];
	unsigned int q_head;
	unsigned int q_len;
};

#define EMU_CONN_HASH 1024
#define EMU_CLOSE_TIMEOUT_NS (8ull * 1000 * 1000 * 1000) /* VSOCK_CLOSE_TIMEOUT */

/* ---- the guest ---- */

struct emu_guest {
	struct emu_guest_opts o;
	char name[64];
	int sock;                 /* vhost-user connection, -1 after crash */
	int lsock;                /* server mode: listening socket, else -1 */
	bool running;             /* driver started, rings enabled */
	bool dead;                /* backend gone or crashed */
	uint64_t cid;
	uint64_t backend_features;
	uint64_t features;        /* negotiated */
	uint64_t protocol_features;
	bool reply_ack;
	bool seqpacket;

	struct emu_mem mem;
	struct emu_vring vq[VSOCK_NUM_VQ];
	/* rx buffers: one per head of the rx ring */
	uint8_t *rx_buf;
	uint32_t rx_stride;
	/* tx buffers: one packet slot per head of the tx ring */
	uint8_t *tx_buf;
	uint32_t tx_stride;
	bool tx_pending_kick;

	/* control packets waiting for tx descriptors (headers only) */
	struct vsock_hdr *ctrl_q;
	unsigned int ctrl_head;
	unsigned int ctrl_len;
	unsigned int ctrl_cap;

	struct emu_conn *conns;
	int nconns;
	int conn_hash[EMU_CONN_HASH];
	struct emu_listener *listeners;
	int nlisteners;
	uint32_t next_port;

	uint64_t poll_count;
	struct emu_stats st;
	uint32_t stop_base[VSOCK_NUM_VQ]; /* GET_VRING_BASE answers of the last stop */
	uint16_t stop_used[VSOCK_NUM_VQ]; /* our used index then */
};

/* vhost_user.c */
int emu_vu_connect(struct emu_guest *g);
int emu_vu_handshake(struct emu_guest *g);
int emu_vu_start_device(struct emu_guest *g);
int emu_vu_enable_rings(struct emu_guest *g, bool enable);
int emu_vu_get_vring_base(struct emu_guest *g, uint32_t index, uint32_t *base);
uint64_t emu_vu_wanted_features(const struct emu_guest *g);

/* vsock_sock.c */
void emu_sock_init(struct emu_guest *g);
void emu_sock_fini(struct emu_guest *g);
void emu_sock_reset_all(struct emu_guest *g);
void emu_sock_rx(struct emu_guest *g, const struct vsock_hdr *h, const uint8_t *payload);
int emu_sock_expire(struct emu_guest *g, uint64_t now_ns);

/* transport.c: the vhost-user socket in server mode */
int emu_vu_listen(struct emu_guest *g);
int emu_vu_accept(struct emu_guest *g, int timeout_ms);
void emu_vu_unlisten(struct emu_guest *g);

/* transport.c: packets <-> descriptors */
unsigned int emu_tx_descs(const struct emu_guest *g, uint32_t len);
unsigned int emu_tx_free_descs(const struct emu_guest *g);
int emu_tx_pkt(struct emu_guest *g, const struct vsock_hdr *h, const void *payload,
		uint32_t len);
int emu_tx_ctrl(struct emu_guest *g, const struct vsock_hdr *h);
int emu_tx_flush_ctrl(struct emu_guest *g);
void emu_tx_done(struct emu_guest *g);
int emu_tx_reclaim(struct emu_guest *g);
void emu_rx_fill(struct emu_guest *g);
int emu_rx_poll(struct emu_guest *g, int budget);

/* emu_guest.c */
struct emu_guest *emu_guest_new(const struct emu_guest_opts *o, int *err);
int emu_guest_attach(struct emu_guest *g);
uint64_t emu_now_ns(void);
void emu_log(const struct emu_guest *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* EMU_GUEST_PVT_H */
