/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * rx_burst: the switch takes a receiving guest's rx buffers in bursts, as many
 * as the sender's tx burst likely needs, and gives back those it did not use.
 * This test makes it guess wrong all the time and checks that no buffer is
 * lost: a guest that lost buffers would run dry and its traffic would stall.
 *
 * Guests 3, 4 and 6 on worker 1, guest 5 on worker 2. Each burst guest 3 puts
 * on its tx ring (the emulated guest publishes once per poll) holds SEQPACKET
 * messages alternating between 4 and 6 (the switch changes rx queue at every
 * packet) and then a run of messages to 5 (delivered by the other lcore: the
 * chains taken for 4 or 6 are left over when the round ends). The receivers
 * have 1024 rx buffers each, so the switch always finds 16 to take. Every
 * message must arrive with its content, and at the end, stopped, each
 * receiver's rx queue must report the switch's index (GET_VRING_BASE) equal to
 * the buffers that came back: a chain taken and neither used nor given back is
 * a buffer the guest never sees again (a slow leak: one buffer left still
 * carries the traffic, so only this check sees it). Fails with either give-back
 * removed.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

static const char *test_name = "rx_burst";

#define BURSTS 400
#define ALTERNATE 6 /* messages alternating between 4 and 6 per burst */
#define TO_FIVE 20 /* then messages to 5 */
#define MSG_LEN 64

struct peer {
	struct emu_guest *g;
	int tx; /* guest 3's end */
	int rx; /* the peer's end */
	uint32_t sent, rcvd, bad;
};

static void
fill(uint8_t *buf, uint64_t cid, uint32_t seq)
{
	harness_pattern(cid * 1000003 + seq, 0, buf, MSG_LEN);
}

static int
send_one(struct emu_guest *g3, struct peer *p, uint64_t cid)
{
	uint8_t buf[MSG_LEN];

	fill(buf, cid, p->sent);
	if (emu_send_msg(g3, p->tx, buf, sizeof(buf), true) != MSG_LEN)
		return -1;
	p->sent++;
	return 0;
}

static void
drain(struct peer *p, uint64_t cid)
{
	uint8_t buf[MSG_LEN * 2], want[MSG_LEN];
	ssize_t n;

	while ((n = emu_recv(p->g, p->rx, buf, sizeof(buf), NULL)) > 0) {
		fill(want, cid, p->rcvd);
		if (n != MSG_LEN || memcmp(buf, want, MSG_LEN) != 0)
			p->bad++;
		p->rcvd++;
	}
}

int
main(int argc, char **argv)
{
	const char *sw = harness_switch_path(argc, argv);
	/* The sender last: the receivers' turns in the round come before its
	 * burst, so only the end of the round can give their chains back. */
	uint64_t cids[] = { 4, 5, 6, 3 };
	int pin[] = { 1, 2, 1, 1 };
	struct emu_guest *gs[4], *g3;
	struct peer p4, p5, p6;
	struct lc_switch s;
	unsigned int b, i, sendfail = 0;
	double t0;

	lc_start(&s, sw, "(0-2)@(0-1)", cids, pin, 4, NULL);
	for (i = 0; i < 4; i++) {
		struct emu_guest_opts o;

		/* Receivers with many more rx buffers than a burst fills: the switch
		 * takes 16 at a time and most of them are left over. */
		harness_guest_opts(&s.h, cids[i], &o);
		if (cids[i] != 3) {
			o.queue_size = 1024;
			o.rx_layout = EMU_RX_SINGLE;
			o.tx_pkt_size = 4096;
			o.mem_size = 64u << 20;
		}
		gs[i] = harness_guest(&s.h, cids[i], &o);
	}
	memset(&p4, 0, sizeof(p4));
	memset(&p5, 0, sizeof(p5));
	memset(&p6, 0, sizeof(p6));
	p4.g = gs[0];
	p5.g = gs[1];
	p6.g = gs[2];
	g3 = gs[3];
	harness_pair(g3, p4.g, 7004, VSOCK_TYPE_SEQPACKET, &p4.tx, &p4.rx);
	harness_pair(g3, p5.g, 7005, VSOCK_TYPE_SEQPACKET, &p5.tx, &p5.rx);
	harness_pair(g3, p6.g, 7006, VSOCK_TYPE_SEQPACKET, &p6.tx, &p6.rx);

	t0 = harness_now_ms();
	for (b = 0; b < BURSTS && harness_now_ms() - t0 < 60000; b++) {
		/* One burst on guest 3's ring: nothing is published until its poll. */
		for (i = 0; i < ALTERNATE; i++)
			sendfail += send_one(g3, i % 2 ? &p6 : &p4, i % 2 ? 6 : 4) != 0;
		for (i = 0; i < TO_FIVE; i++)
			sendfail += send_one(g3, &p5, 5) != 0;
		/* Until the peers have everything: a peer out of buffers stalls here. */
		while ((p4.rcvd < p4.sent || p5.rcvd < p5.sent || p6.rcvd < p6.sent) &&
		       harness_now_ms() - t0 < 60000) {
			for (i = 0; i < 4; i++)
				emu_guest_poll(gs[i]);
			drain(&p4, 4);
			drain(&p5, 5);
			drain(&p6, 6);
		}
	}
	CHECK(b == BURSTS && sendfail == 0, "%u bursts of %u messages sent in %.0f ms (%u refused)",
	      b, ALTERNATE + TO_FIVE, harness_now_ms() - t0, sendfail);
	CHECK(p4.rcvd == p4.sent && p4.bad == 0, "guest 4: %u of %u messages, %u bad", p4.rcvd,
	      p4.sent, p4.bad);
	CHECK(p6.rcvd == p6.sent && p6.bad == 0, "guest 6: %u of %u messages, %u bad", p6.rcvd,
	      p6.sent, p6.bad);
	CHECK(p5.rcvd == p5.sent && p5.bad == 0, "guest 5 (other lcore): %u of %u messages, "
	      "%u bad", p5.rcvd, p5.sent, p5.bad);
	/* Every rx buffer the switch took came back to its guest: stopped, the
	 * receivers' rx queues report the switch's index equal to theirs. */
	for (i = 0; i < 4; i++) {
		uint32_t base[2];
		uint16_t used[2];

		if (cids[i] == 3 || cids[i] == 5)
			continue;
		emu_poll_until(gs, 4, NULL, NULL, 100);
		CHECK(emu_guest_stop(gs[i]) == 0, "guest %llu stops its driver",
		      (unsigned long long)cids[i]);
		emu_guest_stop_bases(gs[i], base, used);
		CHECK(base[VSOCK_VQ_RX] == used[VSOCK_VQ_RX],
		      "guest %llu: the switch took rx buffers up to %u, %u came back",
		      (unsigned long long)cids[i], base[VSOCK_VQ_RX], used[VSOCK_VQ_RX]);
	}
	for (i = 0; i < 4; i++) {
		harness_check_clean(gs[i], "guest");
		emu_guest_destroy(gs[i]);
	}
	lc_stop(&s);
	return harness_finish(test_name);
}
