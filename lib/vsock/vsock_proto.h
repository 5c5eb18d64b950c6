/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VSOCK_PROTO_H
#define VSOCK_PROTO_H

/**
 * @file
 * virtio-vsock wire protocol (virtio spec 1.2, section 5.10).
 *
 * Every packet on the rx and tx virtqueues starts with a 44-byte little-endian
 * header, followed by @c len bytes of payload for RW packets and none for any
 * other op. The names below are the only place protocol numbers appear: the rest
 * of the code uses them, never the literals.
 *
 * Nothing here needs DPDK, so the emulated guest, the switch and the unit tests
 * share one definition of the wire format.
 */

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Size of the header on the wire. */
#define VSOCK_HDR_LEN 44

/** Virtio device id and feature bits of a vsock device. */
#define VSOCK_VIRTIO_ID 19
#define VSOCK_F_STREAM 0
#define VSOCK_F_SEQPACKET 1
#define VSOCK_F_NO_IMPLIED_STREAM 2

/** Queue indices as the backend sees them (the event queue stays in the frontend). */
#define VSOCK_VQ_RX 0
#define VSOCK_VQ_TX 1
#define VSOCK_NUM_VQ 2

/** Well-known and reserved CIDs. */
#define VSOCK_CID_HYPERVISOR 0
#define VSOCK_CID_LOCAL 1
#define VSOCK_CID_HOST 2
#define VSOCK_CID_MIN_GUEST 3
#define VSOCK_CID_MAX_GUEST 0xfffffffeULL /* 0xffffffff is VMADDR_CID_ANY */
#define VSOCK_PORT_ANY 0xffffffffU

/** Socket types (header field @c type). */
enum vsock_type {
	VSOCK_TYPE_STREAM = 1,
	VSOCK_TYPE_SEQPACKET = 2,
};

/** Operations (header field @c op). */
enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
	VSOCK_OP_MAX = VSOCK_OP_CREDIT_REQUEST,
};

/** Flags of a SHUTDOWN packet. */
#define VSOCK_SHUTDOWN_RCV 1U
#define VSOCK_SHUTDOWN_SEND 2U
#define VSOCK_SHUTDOWN_MASK (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)

/** Flags of an RW packet on a SEQPACKET connection. */
#define VSOCK_SEQ_EOM 1U
#define VSOCK_SEQ_EOR 2U
#define VSOCK_SEQ_MASK (VSOCK_SEQ_EOM | VSOCK_SEQ_EOR)

/** Largest payload a Linux guest puts in one tx packet (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT_PAYLOAD (64 * 1024)

/**
 * The header in host byte order. The wire form is produced and consumed only by
 * vsock_hdr_decode() and vsock_hdr_encode().
 */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/* Offsets of each field in the 44-byte wire header. */
#define VSOCK_OFF_SRC_CID 0
#define VSOCK_OFF_DST_CID 8
#define VSOCK_OFF_SRC_PORT 16
#define VSOCK_OFF_DST_PORT 20
#define VSOCK_OFF_LEN 24
#define VSOCK_OFF_TYPE 28
#define VSOCK_OFF_OP 30
#define VSOCK_OFF_FLAGS 32
#define VSOCK_OFF_BUF_ALLOC 36
#define VSOCK_OFF_FWD_CNT 40

static inline uint64_t
vsock_get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t
vsock_get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint16_t
vsock_get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline void
vsock_put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
vsock_put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
vsock_put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

/**
 * Decode a wire header.
 *
 * @param wire
 *   VSOCK_HDR_LEN bytes, already copied out of guest memory (never decode in place:
 *   the guest may change the bytes between a check and a use).
 * @param h
 *   Output, host byte order.
 */
static inline void
vsock_hdr_decode(const uint8_t *wire, struct vsock_hdr *h)
{
	h->src_cid = vsock_get_le64(wire + VSOCK_OFF_SRC_CID);
	h->dst_cid = vsock_get_le64(wire + VSOCK_OFF_DST_CID);
	h->src_port = vsock_get_le32(wire + VSOCK_OFF_SRC_PORT);
	h->dst_port = vsock_get_le32(wire + VSOCK_OFF_DST_PORT);
	h->len = vsock_get_le32(wire + VSOCK_OFF_LEN);
	h->type = vsock_get_le16(wire + VSOCK_OFF_TYPE);
	h->op = vsock_get_le16(wire + VSOCK_OFF_OP);
	h->flags = vsock_get_le32(wire + VSOCK_OFF_FLAGS);
	h->buf_alloc = vsock_get_le32(wire + VSOCK_OFF_BUF_ALLOC);
	h->fwd_cnt = vsock_get_le32(wire + VSOCK_OFF_FWD_CNT);
}

/** Encode @p h into VSOCK_HDR_LEN bytes at @p wire. */
static inline void
vsock_hdr_encode(const struct vsock_hdr *h, uint8_t *wire)
{
	vsock_put_le64(wire + VSOCK_OFF_SRC_CID, h->src_cid);
	vsock_put_le64(wire + VSOCK_OFF_DST_CID, h->dst_cid);
	vsock_put_le32(wire + VSOCK_OFF_SRC_PORT, h->src_port);
	vsock_put_le32(wire + VSOCK_OFF_DST_PORT, h->dst_port);
	vsock_put_le32(wire + VSOCK_OFF_LEN, h->len);
	vsock_put_le16(wire + VSOCK_OFF_TYPE, h->type);
	vsock_put_le16(wire + VSOCK_OFF_OP, h->op);
	vsock_put_le32(wire + VSOCK_OFF_FLAGS, h->flags);
	vsock_put_le32(wire + VSOCK_OFF_BUF_ALLOC, h->buf_alloc);
	vsock_put_le32(wire + VSOCK_OFF_FWD_CNT, h->fwd_cnt);
}

/** True for a CID a guest may own (not 0, 1, 2, nor VMADDR_CID_ANY and above). */
static inline bool
vsock_cid_is_guest(uint64_t cid)
{
	return cid >= VSOCK_CID_MIN_GUEST && cid <= VSOCK_CID_MAX_GUEST;
}

/** Why a header was refused by vsock_hdr_check(). */
enum vsock_hdr_err {
	VSOCK_HDR_OK = 0,
	VSOCK_HDR_ERR_SPOOFED_SRC, /**< src_cid is not the sender's own CID */
	VSOCK_HDR_ERR_RESERVED_DST, /**< dst_cid is 0, 1 or >= VMADDR_CID_ANY */
	VSOCK_HDR_ERR_TYPE, /**< unknown or not negotiated socket type */
	VSOCK_HDR_ERR_OP, /**< unknown op */
	VSOCK_HDR_ERR_LEN, /**< len does not match the op or the buffer */
	VSOCK_HDR_ERR_FLAGS, /**< flags not allowed for the op */
	VSOCK_HDR_ERR_MAX,
};

/**
 * Validate a header received from a guest's tx queue.
 *
 * @param h
 *   Decoded header.
 * @param own_cid
 *   CID of the guest the packet came from.
 * @param payload_avail
 *   Bytes of payload the descriptor chain carries after the header.
 * @param seqpacket
 *   True if VIRTIO_VSOCK_F_SEQPACKET was negotiated with this guest.
 * @return
 *   VSOCK_HDR_OK or the reason the packet must be dropped.
 */
static inline enum vsock_hdr_err
vsock_hdr_check(const struct vsock_hdr *h, uint64_t own_cid, uint32_t payload_avail,
		bool seqpacket)
{
	if (h->src_cid != own_cid)
		return VSOCK_HDR_ERR_SPOOFED_SRC;
	if (h->dst_cid == VSOCK_CID_HYPERVISOR || h->dst_cid == VSOCK_CID_LOCAL ||
	    h->dst_cid > VSOCK_CID_MAX_GUEST)
		return VSOCK_HDR_ERR_RESERVED_DST;
	if (h->type != VSOCK_TYPE_STREAM && !(h->type == VSOCK_TYPE_SEQPACKET && seqpacket))
		return VSOCK_HDR_ERR_TYPE;
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_MAX)
		return VSOCK_HDR_ERR_OP;
	if (h->op == VSOCK_OP_RW) {
		if (h->len > payload_avail || h->len > VSOCK_MAX_PKT_PAYLOAD)
			return VSOCK_HDR_ERR_LEN;
		if (h->flags & ~VSOCK_SEQ_MASK)
			return VSOCK_HDR_ERR_FLAGS;
	} else if (h->len != 0) {
		return VSOCK_HDR_ERR_LEN;
	}
	if (h->op == VSOCK_OP_SHUTDOWN && (h->flags & ~VSOCK_SHUTDOWN_MASK))
		return VSOCK_HDR_ERR_FLAGS;
	return VSOCK_HDR_OK;
}

/** Printable name of an op, for logs and tests. */
static inline const char *
vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
		"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW",
		"CREDIT_UPDATE", "CREDIT_REQUEST",
	};

	return op <= VSOCK_OP_MAX ? names[op] : "UNKNOWN";
}

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_PROTO_H */
