/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * g2g_seqpacket: SEQPACKET message boundaries survive the switch. Messages from
 * 1 byte to 256 KiB (the receiver's buf_alloc) leave the sender in up to four
 * 64 KiB packets and reach the receiver split over 4 KiB rx buffers; each must
 * come out of emu_recv() whole, in order, with its EOR flag, and only its last
 * piece may carry SEQ_EOM.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const char *test_name = "g2g_seqpacket";

static const uint32_t fixed_sizes[] = {
	1, 2, 43, 44, 45, 100, 4095, 4096, 4097, 8191, 8192, 12289, 65535, 65536, 65537,
	131072, 131073, 200000, 262143, 262144, 1, 262144, 1,
};

#define NFIXED ((int)(sizeof(fixed_sizes) / sizeof(fixed_sizes[0])))
#define NRANDOM 300

static uint32_t
rand_size(uint64_t *state)
{
	uint64_t x;

	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	x = *state >> 33;
	/* mostly small messages, some large ones */
	switch (x % 4) {
	case 0:
		return 1 + x % 64;
	case 1:
		return 1 + x % 5000;
	case 2:
		return 1 + x % 70000;
	default:
		return 1 + x % 262144;
	}
}

static uint64_t
min_pieces(const uint32_t *sizes, int n, uint32_t buf)
{
	uint64_t p = 0;
	int i;

	for (i = 0; i < n; i++)
		p += (sizes[i] + buf - 1) / buf;
	return p;
}

static int
peer_eof(void *p)
{
	struct harness_conn *a = p;
	uint8_t b[16];

	return emu_recv(a->g, a->conn, b, sizeof(b), NULL) == 0;
}

static int
msg_ready(void *p)
{
	struct harness_conn *a = p;
	uint8_t b[16];

	return emu_recv(a->g, a->conn, b, sizeof(b), NULL) == 10;
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	uint64_t cids[] = { 3, 4 };
	uint32_t sizes[NRANDOM];
	uint64_t rng = 42, before;
	struct emu_guest *gs[2];
	struct emu_stats s, s4;
	struct harness_conn eof;
	struct harness h;
	int c3, c4, i;
	static uint8_t big[262145];

	harness_start(&h, sw, cids, 2);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	harness_pair(gs[0], gs[1], 6000, VSOCK_TYPE_SEQPACKET, &c3, &c4);

	printf("fixed sizes, guest 3 -> guest 4, one at a time in order\n");
	emu_guest_stats(gs[1], &s);
	before = s.rx_pkts[VSOCK_OP_RW];
	harness_msgs(gs, 2, gs[0], c3, gs[1], c4, fixed_sizes, NFIXED, 100, "3->4 fixed");
	emu_guest_stats(gs[1], &s);
	CHECK(s.rx_pkts[VSOCK_OP_RW] - before >= min_pieces(fixed_sizes, NFIXED, 4096),
	      "messages were split over 4 KiB rx buffers (%llu RW pieces, at least %llu)",
	      (unsigned long long)(s.rx_pkts[VSOCK_OP_RW] - before),
	      (unsigned long long)min_pieces(fixed_sizes, NFIXED, 4096));

	printf("%d random sizes up to 256 KiB, guest 4 -> guest 3\n", NRANDOM);
	for (i = 0; i < NRANDOM; i++)
		sizes[i] = rand_size(&rng);
	harness_msgs(gs, 2, gs[1], c4, gs[0], c3, sizes, NRANDOM, 1000, "4->3 random");

	printf("more traffic, both directions\n");
	harness_msgs(gs, 2, gs[0], c3, gs[1], c4, sizes, NRANDOM / 3, 2000, "3->4 random");
	harness_msgs(gs, 2, gs[1], c4, gs[0], c3, fixed_sizes, NFIXED, 3000, "4->3 fixed");

	emu_guest_stats(gs[0], &s);
	emu_guest_stats(gs[1], &s4);
	CHECK(s.tx_pkts[VSOCK_OP_CREDIT_REQUEST] > 0 && s4.rx_pkts[VSOCK_OP_CREDIT_REQUEST] > 0 &&
	      s4.tx_pkts[VSOCK_OP_CREDIT_UPDATE] >= s4.rx_pkts[VSOCK_OP_CREDIT_REQUEST],
	      "credit stalls: guest 3 sent %llu CREDIT_REQUEST, guest 4 got %llu and sent %llu "
	      "CREDIT_UPDATE", (unsigned long long)s.tx_pkts[VSOCK_OP_CREDIT_REQUEST],
	      (unsigned long long)s4.rx_pkts[VSOCK_OP_CREDIT_REQUEST],
	      (unsigned long long)s4.tx_pkts[VSOCK_OP_CREDIT_UPDATE]);

	printf("limits\n");
	memset(big, 0x5a, sizeof(big));
	CHECK(emu_send(gs[0], c3, big, sizeof(big)) == -EMSGSIZE,
	      "a message larger than the peer's buf_alloc is refused with EMSGSIZE");

	CHECK(emu_shutdown(gs[0], c3, SHUT_WR) == 0, "guest 3 shuts down writing");
	eof.g = gs[1];
	eof.conn = c4;
	harness_wait(gs, 2, peer_eof, &eof, 1000, "guest 4 reads EOF after guest 3's SHUTDOWN");
	CHECK(emu_send(gs[1], c4, big, 10) == 10, "guest 4 can still send (half close)");
	eof.g = gs[0];
	eof.conn = c3;
	harness_wait(gs, 2, msg_ready, &eof, 1000, "guest 3 still receives after its SHUT_WR");
	harness_check_clean(gs[0], "guest 3");
	harness_check_clean(gs[1], "guest 4");
	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	harness_stop(&h);
	return harness_finish(test_name);
}
