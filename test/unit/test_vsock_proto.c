/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Unit tests of lib/vsock/vsock_proto.h: the wire layout of the 44-byte header,
 * encode/decode, and vsock_hdr_check() with every outcome.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vsock_proto.h"
#include "unit.h"

#define OWN_CID 3

/* A header with a distinct byte in every position, and its wire form written by hand. */
static const struct vsock_hdr ref_hdr = {
	.src_cid = 0x0102030405060708ULL,
	.dst_cid = 0x1112131415161718ULL,
	.src_port = 0x21222324,
	.dst_port = 0x31323334,
	.len = 0x41424344,
	.type = 0x5152,
	.op = 0x6162,
	.flags = 0x71727374,
	.buf_alloc = 0x81828384,
	.fwd_cnt = 0x91929394,
};

static const uint8_t ref_wire[44] = {
	/* 0: src_cid */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	/* 8: dst_cid */
	0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,
	/* 16: src_port */
	0x24, 0x23, 0x22, 0x21,
	/* 20: dst_port */
	0x34, 0x33, 0x32, 0x31,
	/* 24: len */
	0x44, 0x43, 0x42, 0x41,
	/* 28: type */
	0x52, 0x51,
	/* 30: op */
	0x62, 0x61,
	/* 32: flags */
	0x74, 0x73, 0x72, 0x71,
	/* 36: buf_alloc */
	0x84, 0x83, 0x82, 0x81,
	/* 40: fwd_cnt */
	0x94, 0x93, 0x92, 0x91,
};

static bool
hdr_equal(const struct vsock_hdr *a, const struct vsock_hdr *b)
{
	return a->src_cid == b->src_cid && a->dst_cid == b->dst_cid &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->len == b->len && a->type == b->type && a->op == b->op &&
	       a->flags == b->flags && a->buf_alloc == b->buf_alloc &&
	       a->fwd_cnt == b->fwd_cnt;
}

static void
test_layout(void)
{
	unit_group("wire layout constants");
	UNIT_CHECK_EQ(VSOCK_HDR_LEN, 44);
	UNIT_CHECK_EQ(VSOCK_OFF_SRC_CID, 0);
	UNIT_CHECK_EQ(VSOCK_OFF_DST_CID, 8);
	UNIT_CHECK_EQ(VSOCK_OFF_SRC_PORT, 16);
	UNIT_CHECK_EQ(VSOCK_OFF_DST_PORT, 20);
	UNIT_CHECK_EQ(VSOCK_OFF_LEN, 24);
	UNIT_CHECK_EQ(VSOCK_OFF_TYPE, 28);
	UNIT_CHECK_EQ(VSOCK_OFF_OP, 30);
	UNIT_CHECK_EQ(VSOCK_OFF_FLAGS, 32);
	UNIT_CHECK_EQ(VSOCK_OFF_BUF_ALLOC, 36);
	UNIT_CHECK_EQ(VSOCK_OFF_FWD_CNT, 40);
	UNIT_CHECK_EQ(VSOCK_OP_MAX, 7);
	UNIT_CHECK_EQ(VSOCK_MAX_PKT_PAYLOAD, 65536);
	UNIT_CHECK_EQ(VSOCK_TYPE_STREAM, 1);
	UNIT_CHECK_EQ(VSOCK_TYPE_SEQPACKET, 2);
	UNIT_CHECK_EQ(VSOCK_CID_MAX_GUEST, 0xfffffffeULL);
}

static void
test_encode(void)
{
	uint8_t buf[64 + 1];
	uint8_t guard[64];
	unsigned int i;

	unit_group("encode to hand-built wire bytes");
	memset(buf, 0xaa, sizeof(buf));
	vsock_hdr_encode(&ref_hdr, buf);
	UNIT_CHECK_MEM(buf, ref_wire, sizeof(ref_wire));
	for (i = 0; i < sizeof(ref_wire); i++)
		if (!UNIT_CHECK_EQ(buf[i], ref_wire[i]))
			fprintf(stderr, "  at wire offset %u\n", i);
	/* Nothing written past the header. */
	memset(guard, 0xaa, sizeof(guard));
	UNIT_CHECK_MEM(buf + VSOCK_HDR_LEN, guard, sizeof(buf) - VSOCK_HDR_LEN);

	/* Unaligned destination: the helpers must not assume alignment. */
	memset(buf, 0xaa, sizeof(buf));
	vsock_hdr_encode(&ref_hdr, buf + 1);
	UNIT_CHECK_EQ(buf[0], 0xaa);
	UNIT_CHECK_MEM(buf + 1, ref_wire, sizeof(ref_wire));
	UNIT_CHECK_EQ(buf[1 + VSOCK_HDR_LEN], 0xaa);
}

static void
test_decode(void)
{
	uint8_t buf[VSOCK_HDR_LEN + 1];
	struct vsock_hdr h;

	unit_group("decode from hand-built wire bytes");
	memset(&h, 0, sizeof(h));
	vsock_hdr_decode(ref_wire, &h);
	UNIT_CHECK_EQ(h.src_cid, 0x0102030405060708ULL);
	UNIT_CHECK_EQ(h.dst_cid, 0x1112131415161718ULL);
	UNIT_CHECK_EQ(h.src_port, 0x21222324);
	UNIT_CHECK_EQ(h.dst_port, 0x31323334);
	UNIT_CHECK_EQ(h.len, 0x41424344);
	UNIT_CHECK_EQ(h.type, 0x5152);
	UNIT_CHECK_EQ(h.op, 0x6162);
	UNIT_CHECK_EQ(h.flags, 0x71727374);
	UNIT_CHECK_EQ(h.buf_alloc, 0x81828384);
	UNIT_CHECK_EQ(h.fwd_cnt, 0x91929394);

	/* Unaligned source. */
	memcpy(buf + 1, ref_wire, VSOCK_HDR_LEN);
	memset(&h, 0, sizeof(h));
	vsock_hdr_decode(buf + 1, &h);
	UNIT_CHECK(hdr_equal(&h, &ref_hdr));
}

/* Small deterministic generator, so a failure reproduces. */
static uint64_t
next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s ^ (*s >> 29);
}

static void
test_round_trip(void)
{
	uint64_t seed = 42;
	unsigned int i, bad = 0;

	unit_group("encode/decode round trip");
	for (i = 0; i < 1000; i++) {
		struct vsock_hdr a, b;
		uint8_t wire[VSOCK_HDR_LEN];

		a.src_cid = next_rand(&seed);
		a.dst_cid = next_rand(&seed);
		a.src_port = (uint32_t)next_rand(&seed);
		a.dst_port = (uint32_t)next_rand(&seed);
		a.len = (uint32_t)next_rand(&seed);
		a.type = (uint16_t)next_rand(&seed);
		a.op = (uint16_t)next_rand(&seed);
		a.flags = (uint32_t)next_rand(&seed);
		a.buf_alloc = (uint32_t)next_rand(&seed);
		a.fwd_cnt = (uint32_t)next_rand(&seed);
		vsock_hdr_encode(&a, wire);
		memset(&b, 0x5a, sizeof(b));
		vsock_hdr_decode(wire, &b);
		if (!hdr_equal(&a, &b))
			bad++;
		/* And the other way: bytes -> header -> the same bytes. */
		{
			uint8_t again[VSOCK_HDR_LEN];

			vsock_hdr_encode(&b, again);
			if (memcmp(wire, again, sizeof(wire)) != 0)
				bad++;
		}
	}
	UNIT_CHECK_EQ(bad, 0);

	/* Extremes. */
	{
		struct vsock_hdr a, b;
		uint8_t wire[VSOCK_HDR_LEN];

		memset(&a, 0xff, sizeof(a));
		vsock_hdr_encode(&a, wire);
		vsock_hdr_decode(wire, &b);
		UNIT_CHECK(hdr_equal(&a, &b));
		memset(&a, 0, sizeof(a));
		vsock_hdr_encode(&a, wire);
		vsock_hdr_decode(wire, &b);
		UNIT_CHECK(hdr_equal(&a, &b));
	}
}

/* A header vsock_hdr_check() accepts from guest OWN_CID. */
static struct vsock_hdr
good_hdr(uint16_t op)
{
	struct vsock_hdr h = {
		.src_cid = OWN_CID,
		.dst_cid = 4,
		.src_port = 1024,
		.dst_port = 5000,
		.len = 0,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = 0,
		.buf_alloc = 262144,
		.fwd_cnt = 0,
	};

	return h;
}

static unsigned int seen_outcome[VSOCK_HDR_ERR_MAX];

static enum vsock_hdr_err
check(const struct vsock_hdr *h, uint32_t avail, bool seqpacket)
{
	enum vsock_hdr_err e = vsock_hdr_check(h, OWN_CID, avail, seqpacket);

	if ((unsigned int)e < VSOCK_HDR_ERR_MAX)
		seen_outcome[e]++;
	return e;
}

static void
test_check_src(void)
{
	static const uint64_t bad_src[] = {
		0, 1, 2, 4, OWN_CID + 0x100000000ULL, 0xffffffffULL, UINT64_MAX,
	};
	struct vsock_hdr h;
	unsigned int i;

	unit_group("hdr_check: spoofed source");
	for (i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		h = good_hdr(VSOCK_OP_REQUEST);
		h.src_cid = bad_src[i];
		if (!UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_SPOOFED_SRC))
			fprintf(stderr, "  src_cid 0x%" PRIx64 "\n", bad_src[i]);
	}
	h = good_hdr(VSOCK_OP_REQUEST);
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	/* The same header is spoofed when it comes from another guest. */
	UNIT_CHECK_EQ(vsock_hdr_check(&h, 5, 0, false), VSOCK_HDR_ERR_SPOOFED_SRC);
}

static void
test_check_dst(void)
{
	static const uint64_t reserved[] = {
		VSOCK_CID_HYPERVISOR, VSOCK_CID_LOCAL, 0xffffffffULL, 0x100000000ULL,
		0x100000003ULL, UINT64_MAX,
	};
	static const uint64_t allowed[] = {
		VSOCK_CID_HOST, OWN_CID, 4, 1000, 0x7fffffffULL, 0xfffffffeULL,
	};
	struct vsock_hdr h;
	unsigned int i;

	unit_group("hdr_check: destination CID");
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		h = good_hdr(VSOCK_OP_REQUEST);
		h.dst_cid = reserved[i];
		if (!UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_RESERVED_DST))
			fprintf(stderr, "  dst_cid 0x%" PRIx64 "\n", reserved[i]);
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		h = good_hdr(VSOCK_OP_REQUEST);
		h.dst_cid = allowed[i];
		if (!UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK))
			fprintf(stderr, "  dst_cid 0x%" PRIx64 "\n", allowed[i]);
	}
}

static void
test_check_type(void)
{
	static const uint16_t bad_type[] = { 0, 3, 4, 0x100, 0xffff };
	struct vsock_hdr h;
	unsigned int i;

	unit_group("hdr_check: socket type");
	for (i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++) {
		h = good_hdr(VSOCK_OP_REQUEST);
		h.type = bad_type[i];
		UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_TYPE);
		UNIT_CHECK_EQ(check(&h, 0, true), VSOCK_HDR_ERR_TYPE);
	}
	h = good_hdr(VSOCK_OP_REQUEST);
	h.type = VSOCK_TYPE_SEQPACKET;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_TYPE);
	UNIT_CHECK_EQ(check(&h, 0, true), VSOCK_HDR_OK);
	h.type = VSOCK_TYPE_STREAM;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	UNIT_CHECK_EQ(check(&h, 0, true), VSOCK_HDR_OK);
}

static void
test_check_op(void)
{
	static const uint16_t bad_op[] = { VSOCK_OP_INVALID, 8, 9, 0x100, 0xffff };
	struct vsock_hdr h;
	unsigned int i;

	unit_group("hdr_check: op");
	for (i = 0; i < sizeof(bad_op) / sizeof(bad_op[0]); i++) {
		h = good_hdr(bad_op[i]);
		UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_OP);
	}
	for (i = VSOCK_OP_REQUEST; i <= VSOCK_OP_MAX; i++) {
		h = good_hdr((uint16_t)i);
		if (!UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK))
			fprintf(stderr, "  op %u\n", i);
	}
}

static void
test_check_len(void)
{
	struct vsock_hdr h;
	unsigned int i;

	unit_group("hdr_check: length");
	h = good_hdr(VSOCK_OP_RW);
	h.len = 100;
	UNIT_CHECK_EQ(check(&h, 100, false), VSOCK_HDR_OK);
	UNIT_CHECK_EQ(check(&h, 4096, false), VSOCK_HDR_OK);
	UNIT_CHECK_EQ(check(&h, 99, false), VSOCK_HDR_ERR_LEN);
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_LEN);
	h.len = 0;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	h.len = VSOCK_MAX_PKT_PAYLOAD;
	UNIT_CHECK_EQ(check(&h, VSOCK_MAX_PKT_PAYLOAD, false), VSOCK_HDR_OK);
	h.len = VSOCK_MAX_PKT_PAYLOAD + 1;
	UNIT_CHECK_EQ(check(&h, VSOCK_MAX_PKT_PAYLOAD + 1, false), VSOCK_HDR_ERR_LEN);
	UNIT_CHECK_EQ(check(&h, UINT32_MAX, false), VSOCK_HDR_ERR_LEN);
	h.len = UINT32_MAX;
	UNIT_CHECK_EQ(check(&h, UINT32_MAX, false), VSOCK_HDR_ERR_LEN);

	/* Every op but RW carries no payload. */
	for (i = VSOCK_OP_REQUEST; i <= VSOCK_OP_MAX; i++) {
		if (i == VSOCK_OP_RW)
			continue;
		h = good_hdr((uint16_t)i);
		h.len = 1;
		UNIT_CHECK_EQ(check(&h, 1, false), VSOCK_HDR_ERR_LEN);
		h.len = UINT32_MAX;
		UNIT_CHECK_EQ(check(&h, UINT32_MAX, false), VSOCK_HDR_ERR_LEN);
		/* Payload bytes after a header that announces none are ignored. */
		h.len = 0;
		UNIT_CHECK_EQ(check(&h, 1000, false), VSOCK_HDR_OK);
	}
}

static void
test_check_flags(void)
{
	struct vsock_hdr h;

	unit_group("hdr_check: flags");
	h = good_hdr(VSOCK_OP_SHUTDOWN);
	h.flags = VSOCK_SHUTDOWN_RCV;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	h.flags = VSOCK_SHUTDOWN_SEND;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	h.flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_OK);
	h.flags = 4;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_FLAGS);
	h.flags = VSOCK_SHUTDOWN_MASK | 0x80000000U;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_FLAGS);
	h.flags = UINT32_MAX;
	UNIT_CHECK_EQ(check(&h, 0, false), VSOCK_HDR_ERR_FLAGS);

	h = good_hdr(VSOCK_OP_RW);
	h.type = VSOCK_TYPE_SEQPACKET;
	h.len = 10;
	h.flags = VSOCK_SEQ_EOM;
	UNIT_CHECK_EQ(check(&h, 10, true), VSOCK_HDR_OK);
	h.flags = VSOCK_SEQ_EOM | VSOCK_SEQ_EOR;
	UNIT_CHECK_EQ(check(&h, 10, true), VSOCK_HDR_OK);
	h.flags = 4;
	UNIT_CHECK_EQ(check(&h, 10, true), VSOCK_HDR_ERR_FLAGS);
	h.flags = 0x80000000U;
	UNIT_CHECK_EQ(check(&h, 10, true), VSOCK_HDR_ERR_FLAGS);
	h.type = VSOCK_TYPE_STREAM;
	h.flags = 8;
	UNIT_CHECK_EQ(check(&h, 10, false), VSOCK_HDR_ERR_FLAGS);
	h.flags = 0;
	UNIT_CHECK_EQ(check(&h, 10, false), VSOCK_HDR_OK);
}

static void
test_check_outcomes(void)
{
	unsigned int e;

	unit_group("hdr_check: every outcome reached");
	for (e = VSOCK_HDR_OK; e < VSOCK_HDR_ERR_MAX; e++)
		if (!UNIT_CHECK(seen_outcome[e] > 0))
			fprintf(stderr, "  outcome %u never returned\n", e);
}

static void
test_helpers(void)
{
	unsigned int op;

	unit_group("cid and op helpers");
	UNIT_CHECK(!vsock_cid_is_guest(0));
	UNIT_CHECK(!vsock_cid_is_guest(1));
	UNIT_CHECK(!vsock_cid_is_guest(2));
	UNIT_CHECK(vsock_cid_is_guest(3));
	UNIT_CHECK(vsock_cid_is_guest(0xfffffffeULL));
	UNIT_CHECK(!vsock_cid_is_guest(0xffffffffULL));
	UNIT_CHECK(!vsock_cid_is_guest(0x100000003ULL));
	UNIT_CHECK(!vsock_cid_is_guest(UINT64_MAX));
	UNIT_CHECK(strcmp(vsock_op_name(VSOCK_OP_INVALID), "INVALID") == 0);
	UNIT_CHECK(strcmp(vsock_op_name(VSOCK_OP_RW), "RW") == 0);
	UNIT_CHECK(strcmp(vsock_op_name(VSOCK_OP_CREDIT_REQUEST), "CREDIT_REQUEST") == 0);
	UNIT_CHECK(strcmp(vsock_op_name(8), "UNKNOWN") == 0);
	UNIT_CHECK(strcmp(vsock_op_name(0xffff), "UNKNOWN") == 0);
	for (op = 0; op <= VSOCK_OP_MAX; op++)
		UNIT_CHECK(vsock_op_name((uint16_t)op) != NULL);
}

int
main(void)
{
	unit_start("unit-vsock");
	test_layout();
	test_encode();
	test_decode();
	test_round_trip();
	test_check_src();
	test_check_dst();
	test_check_type();
	test_check_op();
	test_check_len();
	test_check_flags();
	test_check_outcomes();
	test_helpers();
	return unit_done();
}
