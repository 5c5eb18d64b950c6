/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * fuzz_vsock_hdr: the header a guest puts in front of every packet
 * (lib/vsock/vsock_proto.h). Input: a 44-byte wire header, then the checker's
 * context (the sender's own CID, payload bytes its chain carries, SEQPACKET
 * negotiated). Decoding must be the exact inverse of encoding, and
 * vsock_hdr_check() must accept a header exactly when the rules of
 * doc/security.rst hold (written out again here, independently), and refuse it
 * for the first rule it breaks, in the documented order.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "vsock_proto.h"

/* The rules, spelled out without looking at the implementation. */
static enum vsock_hdr_err
model_check(const struct vsock_hdr *h, uint64_t own, uint32_t avail, bool seqpacket)
{
	bool reserved = h->dst_cid == 0 || h->dst_cid == 1 || h->dst_cid >= 0xffffffffULL;
	bool type_ok = h->type == 1 || (h->type == 2 && seqpacket);
	bool op_ok = h->op >= 1 && h->op <= 7;

	if (h->src_cid != own)
		return VSOCK_HDR_ERR_SPOOFED_SRC;
	if (reserved)
		return VSOCK_HDR_ERR_RESERVED_DST;
	if (!type_ok)
		return VSOCK_HDR_ERR_TYPE;
	if (!op_ok)
		return VSOCK_HDR_ERR_OP;
	if (h->op == 5) {
		if (h->len > avail || h->len > 65536)
			return VSOCK_HDR_ERR_LEN;
		if (h->flags > 3)
			return VSOCK_HDR_ERR_FLAGS;
	} else if (h->len != 0) {
		return VSOCK_HDR_ERR_LEN;
	}
	if (h->op == 4 && h->flags > 3)
		return VSOCK_HDR_ERR_FLAGS;
	return VSOCK_HDR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t wire[VSOCK_HDR_LEN], again[VSOCK_HDR_LEN];
	struct vsock_hdr h, h2;
	struct fz f;
	uint64_t own;
	uint32_t avail;
	bool seqpacket;
	uint8_t ctx;
	enum vsock_hdr_err got, want;

	fz_init(&f, data, size);
	fz_bytes(&f, wire, sizeof(wire));
	ctx = fz_u8(&f);
	/* Mostly the sender is who the header says, to get past the first rule. */
	own = (ctx & 1) ? fz_u64(&f) : vsock_get_le64(wire + VSOCK_OFF_SRC_CID);
	avail = (ctx & 2) ? fz_u32(&f) : fz_u16(&f) % (VSOCK_MAX_PKT_PAYLOAD + 2);
	seqpacket = ctx & 4;

	vsock_hdr_decode(wire, &h);
	vsock_hdr_encode(&h, again);
	FZ_ASSERT(memcmp(wire, again, sizeof(wire)) == 0, "encode(decode(x)) != x");
	vsock_hdr_decode(again, &h2);
	FZ_ASSERT(h.src_cid == h2.src_cid && h.dst_cid == h2.dst_cid &&
		  h.src_port == h2.src_port && h.dst_port == h2.dst_port && h.len == h2.len &&
		  h.type == h2.type && h.op == h2.op && h.flags == h2.flags &&
		  h.buf_alloc == h2.buf_alloc && h.fwd_cnt == h2.fwd_cnt,
		  "decode is not stable");

	got = vsock_hdr_check(&h, own, avail, seqpacket);
	want = model_check(&h, own, avail, seqpacket);
	FZ_ASSERT(got == want, "check says %d, the rules say %d (op %u type %u len %u flags %#x "
		  "dst %llu)", got, want, h.op, h.type, h.len, h.flags,
		  (unsigned long long)h.dst_cid);
	FZ_ASSERT(got < VSOCK_HDR_ERR_MAX, "unknown verdict");
	if (got == VSOCK_HDR_OK) {
		FZ_ASSERT(vsock_cid_is_guest(h.dst_cid) || h.dst_cid == VSOCK_CID_HOST,
			  "accepted a packet for CID %llu", (unsigned long long)h.dst_cid);
		FZ_ASSERT(h.op != VSOCK_OP_RW || h.len <= avail, "RW longer than its chain");
	}
	FZ_ASSERT(vsock_op_name(h.op) != NULL, "no name for op %u", h.op);
	return 0;
}
