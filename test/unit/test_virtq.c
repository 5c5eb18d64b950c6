/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Unit tests of lib/virtq: the device side of a split virtqueue, over fake guest
 * memory made of three regions whose guest physical addresses differ from where
 * they are mapped here:
 *
 *   R0  gpa 0x1_0000_0000  64 KiB  rings (desc 0x0, avail 0x1000, used 0x2000), data
 *   R1  gpa 0x1_0001_0000  64 KiB  adjacent to R0 in the guest, elsewhere on the host
 *   R2  gpa 0x2_0000_0000  64 KiB  after a gap
 *
 * The test plays the guest: it writes descriptors and the avail ring, then checks
 * what virtq_pop() returns and what virtq_push()/virtq_flush() write back.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"
#include "unit.h"

#define REG_SIZE 0x10000ULL
#define G0 0x100000000ULL
#define G1 (G0 + REG_SIZE)
#define G2 0x200000000ULL
#define G3 0x1000000000ULL /* a huge region only used where nothing is dereferenced */
#define NREG 3

#define OFF_DESC 0x0
#define OFF_AVAIL 0x1000
#define OFF_USED 0x2000
#define OFF_DATA 0x3000

#define GOOD_LEN 100
#define NCHAINS 16

struct fx {
	uint8_t *host[NREG];
	struct virtq_mem mem;
	struct virtq q;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size;
	uint16_t start;
	uint16_t avail_idx; /* the guest's shadow of avail->idx */
	uint64_t next_gpa[NREG]; /* bump allocator per region */
	uint64_t good_gpa;
};

static struct fx fx;
static struct virtq_chain chains[NCHAINS];

/* --- The guest's view ---------------------------------------------------- */

static uint8_t *
g2h(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < NREG; i++) {
		const struct virtq_region *r = &fx.mem.regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (uint8_t *)(uintptr_t)(r->hva + (gpa - r->gpa));
	}
	fprintf(stderr, "test bug: gpa 0x%" PRIx64 " not mapped\n", gpa);
	abort();
}

static uint64_t
galloc(unsigned int reg, uint32_t len)
{
	uint64_t gpa = fx.next_gpa[reg];

	fx.next_gpa[reg] += (len + 15) & ~15U;
	if (fx.next_gpa[reg] > fx.mem.regions[reg].gpa + REG_SIZE) {
		fprintf(stderr, "test bug: region %u full\n", reg);
		abort();
	}
	return gpa;
}

/* A guest buffer filled with a pattern that starts at @seed. */
static uint64_t
gbuf(unsigned int reg, uint32_t len, uint8_t seed)
{
	uint64_t gpa = galloc(reg, len);
	uint8_t *p = g2h(gpa);
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
	return gpa;
}

static void
desc_set(struct vring_desc *tab, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	 uint16_t next)
{
	tab[i].addr = addr;
	tab[i].len = len;
	tab[i].flags = flags;
	tab[i].next = next;
}

static void
avail_add(uint16_t head)
{
	fx.avail->ring[fx.avail_idx & (fx.size - 1)] = head;
	fx.avail_idx++;
	__atomic_store_n(&fx.avail->idx, fx.avail_idx, __ATOMIC_RELEASE);
}

static uint16_t
used_idx(void)
{
	return __atomic_load_n(&fx.used->idx, __ATOMIC_ACQUIRE);
}

/* used->ring[size]: written by the device. */
static uint16_t
avail_event(void)
{
	uint16_t v;

	memcpy(&v, &fx.used->ring[fx.size], sizeof(v));
	return v;
}

static void
set_avail_event(uint16_t v)
{
	memcpy(&fx.used->ring[fx.size], &v, sizeof(v));
}

/* avail->ring[size]: written by the driver. */
static void
set_used_event(uint16_t v)
{
	fx.avail->ring[fx.size] = v;
}

static struct vring_desc *
gtable(uint16_t n, uint64_t *gpa)
{
	*gpa = galloc(2, n * sizeof(struct vring_desc));
	return (struct vring_desc *)g2h(*gpa);
}

static void
fx_setup_mem(void)
{
	unsigned int i;

	fx.mem.nregions = NREG;
	for (i = 0; i < NREG; i++) {
		memset(fx.host[i], 0, REG_SIZE);
		fx.mem.regions[i].size = REG_SIZE;
		fx.mem.regions[i].hva = (uint64_t)(uintptr_t)fx.host[i];
	}
	fx.mem.regions[0].gpa = G0;
	fx.mem.regions[1].gpa = G1;
	fx.mem.regions[2].gpa = G2;
	fx.next_gpa[0] = G0 + OFF_DATA;
	fx.next_gpa[1] = G1;
	fx.next_gpa[2] = G2;
}

/* A fresh queue of @size, whose indices all start at @start. */
static void
fx_setup(uint16_t size, bool event_idx, bool device_writes, uint16_t start)
{
	int rc;

	fx_setup_mem();
	fx.size = size;
	fx.start = start;
	fx.desc = (struct vring_desc *)g2h(G0 + OFF_DESC);
	fx.avail = (struct vring_avail *)g2h(G0 + OFF_AVAIL);
	fx.used = (struct vring_used *)g2h(G0 + OFF_USED);
	fx.avail->idx = start;
	fx.used->idx = start;
	fx.avail_idx = start;
	rc = virtq_init(&fx.q, fx.desc, fx.avail, fx.used, size, start, start, event_idx,
			device_writes, &fx.mem);
	UNIT_REQUIRE(rc == 0);
	memset(chains, 0xa5, sizeof(chains));
}

/* --- virtq_init, virtq_translate ----------------------------------------- */

static void
test_init(void)
{
	static const uint16_t bad_size[] = { 0, 3, 6, 100, 0x8001, 0xffff };
	static const uint16_t good_size[] = { 1, 2, 8, 256, 0x8000 };
	struct virtq q;
	unsigned int i;

	unit_group("init");
	fx_setup(8, false, false, 0);
	for (i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
		UNIT_CHECK_EQ(virtq_init(&q, fx.desc, fx.avail, fx.used, bad_size[i], 0, 0,
					 false, false, &fx.mem), -EINVAL);
	for (i = 0; i < sizeof(good_size) / sizeof(good_size[0]); i++) {
		UNIT_CHECK_EQ(virtq_init(&q, fx.desc, fx.avail, fx.used, good_size[i], 7, 5,
					 true, true, &fx.mem), 0);
		UNIT_CHECK_EQ(q.size, good_size[i]);
		UNIT_CHECK_EQ(q.mask, good_size[i] - 1);
	}
	UNIT_CHECK_EQ(q.last_avail, 7);
	UNIT_CHECK_EQ(q.last_used, 5);
	UNIT_CHECK(q.event_idx && q.device_writes && !q.broken);
	UNIT_CHECK_EQ(virtq_init(&q, NULL, fx.avail, fx.used, 8, 0, 0, false, false, &fx.mem),
		      -EINVAL);
	UNIT_CHECK_EQ(virtq_init(&q, fx.desc, NULL, fx.used, 8, 0, 0, false, false, &fx.mem),
		      -EINVAL);
	UNIT_CHECK_EQ(virtq_init(&q, fx.desc, fx.avail, NULL, 8, 0, 0, false, false, &fx.mem),
		      -EINVAL);
	UNIT_CHECK_EQ(virtq_init(&q, fx.desc, fx.avail, fx.used, 8, 0, 0, false, false, NULL),
		      -EINVAL);
}

static void
test_translate(void)
{
	struct virtq_iov iov[4];
	struct virtq_mem m;

	unit_group("translate");
	fx_setup_mem();
	memset(iov, 0, sizeof(iov));
	/* Length 0 needs no piece, wherever it points. */
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G0, 0, iov, 4), 0);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, 0x1234, 0, iov, 4), 0);
	/* Inside one region. */
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G0 + 0x100, 0x200, iov, 4), 1);
	UNIT_CHECK_PTR(iov[0].base, fx.host[0] + 0x100);
	UNIT_CHECK_EQ(iov[0].len, 0x200);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G2, REG_SIZE, iov, 4), 1);
	UNIT_CHECK_PTR(iov[0].base, fx.host[2]);
	UNIT_CHECK_EQ(iov[0].len, REG_SIZE);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G2 + REG_SIZE - 1, 1, iov, 4), 1);
	UNIT_CHECK_PTR(iov[0].base, fx.host[2] + REG_SIZE - 1);
	/* Across two adjacent regions: one piece each, at their own host addresses. */
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G1 - 10, 30, iov, 4), 2);
	UNIT_CHECK_PTR(iov[0].base, fx.host[0] + REG_SIZE - 10);
	UNIT_CHECK_EQ(iov[0].len, 10);
	UNIT_CHECK_PTR(iov[1].base, fx.host[1]);
	UNIT_CHECK_EQ(iov[1].len, 20);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G0, 2 * REG_SIZE, iov, 4), 2);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G1 - 10, 30, iov, 1), -E2BIG);
	/* Outside every region, or partly. */
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, 0, 1, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G0 - 1, 2, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G1 + REG_SIZE, 1, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G1 + REG_SIZE - 8, 16, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G2 - 8, 16, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G2 + REG_SIZE - 1, 2, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G0, 2 * REG_SIZE + 1, iov, 4), -EFAULT);
	/* gpa + len past 2^64. */
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, UINT64_MAX - 15, 32, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&fx.mem, G2 + 16, UINT64_MAX, iov, 4), -EFAULT);

	/* Regions listed in any order. */
	m = fx.mem;
	m.regions[0] = fx.mem.regions[2];
	m.regions[2] = fx.mem.regions[0];
	UNIT_CHECK_EQ(virtq_translate(&m, G1 - 10, 30, iov, 4), 2);
	UNIT_CHECK_PTR(iov[0].base, fx.host[0] + REG_SIZE - 10);
	UNIT_CHECK_PTR(iov[1].base, fx.host[1]);
	/* Only nregions count. */
	m = fx.mem;
	m.nregions = 2;
	UNIT_CHECK_EQ(virtq_translate(&m, G2, 1, iov, 4), -EFAULT);

	/* A region at the top of the address space and one at 0: no wrap. */
	memset(&m, 0, sizeof(m));
	m.nregions = 2;
	m.regions[0].gpa = 0 - 0x1000ULL;
	m.regions[0].size = 0x1000;
	m.regions[0].hva = (uint64_t)(uintptr_t)fx.host[0];
	m.regions[1].gpa = 0;
	m.regions[1].size = 0x1000;
	m.regions[1].hva = (uint64_t)(uintptr_t)fx.host[1];
	UNIT_CHECK_EQ(virtq_translate(&m, UINT64_MAX - 15, 16, iov, 4), 1);
	UNIT_CHECK_PTR(iov[0].base, fx.host[0] + 0x1000 - 16);
	UNIT_CHECK_EQ(virtq_translate(&m, UINT64_MAX - 15, 32, iov, 4), -EFAULT);
	UNIT_CHECK_EQ(virtq_translate(&m, 0, 0x1000, iov, 4), 1);

	/* A piece over 4 GiB does not fit a 32-bit length. */
	memset(&m, 0, sizeof(m));
	m.nregions = 1;
	m.regions[0].gpa = G3;
	m.regions[0].size = 1ULL << 33;
	m.regions[0].hva = (uint64_t)(uintptr_t)fx.host[0];
	UNIT_CHECK_EQ(virtq_translate(&m, G3, UINT32_MAX, iov, 4), 1);
	UNIT_CHECK_EQ(iov[0].len, UINT32_MAX);
	UNIT_CHECK_EQ(virtq_translate(&m, G3, 1ULL << 32, iov, 4), -E2BIG);
}

/* --- Well-formed chains ---------------------------------------------------- */

static void
test_pop_single(void)
{
	uint64_t b;
	unsigned int n;

	unit_group("pop: single descriptor");
	fx_setup(8, false, false, 0);
	b = gbuf(0, 64, 1);
	desc_set(fx.desc, 5, b, 64, 0, 0);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	avail_add(5);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 1);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, 0), 0);
	n = virtq_pop(&fx.q, chains, NCHAINS);
	UNIT_CHECK_EQ(n, 1);
	UNIT_CHECK_EQ(chains[0].head, 5);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 1);
	UNIT_CHECK_EQ(chains[0].len, 64);
	UNIT_CHECK_PTR(chains[0].iov[0].base, fx.host[0] + (b - G0));
	UNIT_CHECK_EQ(chains[0].iov[0].len, 64);
	UNIT_CHECK_EQ(fx.q.last_avail, 1);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	/* Nothing visible before flush. */
	virtq_push(&fx.q, 5, 0);
	UNIT_CHECK_EQ(used_idx(), 0);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 1);
	UNIT_CHECK_EQ(fx.used->ring[0].id, 5);
	UNIT_CHECK_EQ(fx.used->ring[0].len, 0);
	UNIT_CHECK(!virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 1);
}

static void
test_pop_hdr_payload(void)
{
	uint8_t buf[44 + 100], want[44 + 100];
	uint64_t h, p;
	unsigned int i;

	unit_group("pop: header + payload");
	fx_setup(8, false, false, 0);
	h = gbuf(0, 44, 0);
	p = gbuf(2, 100, 44);
	desc_set(fx.desc, 2, h, 44, VRING_DESC_F_NEXT, 6);
	desc_set(fx.desc, 6, p, 100, 0, 0);
	avail_add(2);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].head, 2);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 2);
	UNIT_CHECK_EQ(chains[0].len, 144);
	UNIT_CHECK_PTR(chains[0].iov[0].base, g2h(h));
	UNIT_CHECK_EQ(chains[0].iov[0].len, 44);
	UNIT_CHECK_PTR(chains[0].iov[1].base, g2h(p));
	UNIT_CHECK_EQ(chains[0].iov[1].len, 100);
	for (i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	memset(buf, 0, sizeof(buf));
	UNIT_CHECK_EQ(virtq_iov_read(chains[0].iov, chains[0].niov, 0, buf, sizeof(buf)),
		      sizeof(buf));
	UNIT_CHECK_MEM(buf, want, sizeof(want));
	/* The payload alone, the way the switch reads it. */
	memset(buf, 0, sizeof(buf));
	UNIT_CHECK_EQ(virtq_iov_read(chains[0].iov, chains[0].niov, 44, buf, 100), 100);
	UNIT_CHECK_MEM(buf, want + 44, 100);
}

static void
test_pop_span_regions(void)
{
	uint8_t buf[300], want[300];
	uint64_t b = G1 - 100;
	unsigned int i;

	unit_group("pop: buffer spanning two regions");
	fx_setup(8, false, false, 0);
	for (i = 0; i < sizeof(want); i++) {
		want[i] = (uint8_t)(i * 7);
		*g2h(b + i) = want[i];
	}
	desc_set(fx.desc, 0, b, 300, 0, 0);
	avail_add(0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 2);
	UNIT_CHECK_EQ(chains[0].len, 300);
	UNIT_CHECK_PTR(chains[0].iov[0].base, fx.host[0] + REG_SIZE - 100);
	UNIT_CHECK_EQ(chains[0].iov[0].len, 100);
	UNIT_CHECK_PTR(chains[0].iov[1].base, fx.host[1]);
	UNIT_CHECK_EQ(chains[0].iov[1].len, 200);
	UNIT_CHECK_EQ(virtq_iov_read(chains[0].iov, chains[0].niov, 0, buf, 300), 300);
	UNIT_CHECK_MEM(buf, want, sizeof(want));
}

static void
test_pop_full_chain(void)
{
	uint16_t i;

	unit_group("pop: chain using every descriptor");
	fx_setup(8, false, false, 0);
	for (i = 0; i < 8; i++)
		desc_set(fx.desc, i, gbuf(2, 16, (uint8_t)i), 16,
			 i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	avail_add(0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 8);
	UNIT_CHECK_EQ(chains[0].len, 128);
}

static void
test_pop_indirect(void)
{
	struct vring_desc *t;
	uint64_t tg, h, p, e;
	uint8_t buf[152], want[152];
	unsigned int i;

	unit_group("pop: indirect table");
	fx_setup(8, false, false, 0);
	t = gtable(3, &tg);
	h = gbuf(0, 44, 0);
	p = G1 - 50; /* spans R0 and R1 */
	for (i = 0; i < 100; i++)
		*g2h(p + i) = (uint8_t)(44 + i);
	e = gbuf(2, 8, 144);
	/* Out of order in the table: 0 -> 2 -> 1. */
	desc_set(t, 0, h, 44, VRING_DESC_F_NEXT, 2);
	desc_set(t, 2, p, 100, VRING_DESC_F_NEXT, 1);
	desc_set(t, 1, e, 8, 0, 0);
	desc_set(fx.desc, 3, tg, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	avail_add(3);
	/* The WRITE flag of the descriptor pointing to the table is ignored. */
	desc_set(fx.desc, 4, tg, 3 * sizeof(struct vring_desc),
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	avail_add(4);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 2);
	UNIT_CHECK_EQ(chains[0].head, 3);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 4);
	UNIT_CHECK_EQ(chains[0].len, 152);
	UNIT_CHECK_PTR(chains[0].iov[0].base, g2h(h));
	UNIT_CHECK_PTR(chains[0].iov[1].base, g2h(p));
	UNIT_CHECK_EQ(chains[0].iov[1].len, 50);
	UNIT_CHECK_PTR(chains[0].iov[2].base, fx.host[1]);
	UNIT_CHECK_EQ(chains[0].iov[2].len, 50);
	UNIT_CHECK_PTR(chains[0].iov[3].base, g2h(e));
	for (i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	UNIT_CHECK_EQ(virtq_iov_read(chains[0].iov, chains[0].niov, 0, buf, sizeof(buf)),
		      sizeof(buf));
	UNIT_CHECK_MEM(buf, want, sizeof(want));
	UNIT_CHECK_EQ(chains[1].head, 4);
	UNIT_CHECK_EQ(chains[1].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[1].niov, 4);
}

static void
test_rx_write(void)
{
	uint8_t src[244], back[244];
	uint64_t h, p;
	unsigned int i;

	unit_group("rx queue: write into writable chain");
	fx_setup(8, true, true, 0);
	h = galloc(2, 44);
	p = G1 - 60; /* 60 bytes in R0, 140 in R1 */
	desc_set(fx.desc, 1, h, 44, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 7);
	desc_set(fx.desc, 7, p, 200, VRING_DESC_F_WRITE, 0);
	avail_add(1);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 3);
	UNIT_CHECK_EQ(chains[0].len, 244);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(255 - i);
	UNIT_CHECK_EQ(virtq_iov_write(chains[0].iov, chains[0].niov, 0, src, 44), 44);
	UNIT_CHECK_EQ(virtq_iov_write(chains[0].iov, chains[0].niov, 44, src + 44, 1000), 200);
	UNIT_CHECK_MEM(g2h(h), src, 44);
	for (i = 0; i < 200; i++)
		back[i] = *g2h(p + i);
	UNIT_CHECK_MEM(back, src + 44, 200);
	UNIT_CHECK_EQ(*g2h(p + 200), 0);
	virtq_push(&fx.q, chains[0].head, 244);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 1);
	UNIT_CHECK_EQ(fx.used->ring[0].id, 1);
	UNIT_CHECK_EQ(fx.used->ring[0].len, 244);
}

static void
test_len_zero(void)
{
	uint64_t h, p;

	unit_group("pop: zero-length descriptors");
	fx_setup(8, false, false, 0);
	/* A lone empty descriptor: nothing to translate, nothing touched. */
	desc_set(fx.desc, 0, 0x1000, 0, 0, 0);
	avail_add(0);
	h = gbuf(0, 44, 0);
	p = gbuf(0, 10, 0);
	desc_set(fx.desc, 1, h, 44, VRING_DESC_F_NEXT, 2);
	desc_set(fx.desc, 2, UINT64_MAX, 0, VRING_DESC_F_NEXT, 3);
	desc_set(fx.desc, 3, p, 10, 0, 0);
	avail_add(1);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 2);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, 0);
	UNIT_CHECK_EQ(chains[0].len, 0);
	UNIT_CHECK_EQ(chains[1].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[1].niov, 2);
	UNIT_CHECK_EQ(chains[1].len, 54);
	UNIT_CHECK_EQ(chains[1].iov[0].len, 44);
	UNIT_CHECK_EQ(chains[1].iov[1].len, 10);
}

/* --- Hostile chains ---------------------------------------------------------- */

/*
 * Start a queue for one hostile chain. Indices start just before the 16-bit wrap;
 * the last descriptor is a good chain that follows the bad one.
 */
static void
bad_setup(uint16_t size, bool device_writes)
{
	fx_setup(size, false, device_writes, 0xffff);
	fx.good_gpa = gbuf(2, GOOD_LEN, 0x33);
	desc_set(fx.desc, (uint16_t)(size - 1), fx.good_gpa, GOOD_LEN,
		 device_writes ? VRING_DESC_F_WRITE : 0, 0);
}

/* Offer @head then the good chain; the first must fail with @want, the second work. */
static void
expect_bad(uint16_t head, enum virtq_err want)
{
	uint16_t good = (uint16_t)(fx.size - 1);
	uint16_t first = fx.start;

	avail_add(head);
	avail_add(good);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 2);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 2);
	UNIT_CHECK_EQ(chains[0].head, head);
	if (!UNIT_CHECK_EQ(chains[0].err, want))
		fprintf(stderr, "  got \"%s\", want \"%s\"\n",
			virtq_err_name((enum virtq_err)chains[0].err), virtq_err_name(want));
	UNIT_CHECK_EQ(chains[0].niov, 0);
	UNIT_CHECK_EQ(chains[0].len, 0);
	UNIT_CHECK_EQ(chains[1].head, good);
	UNIT_CHECK_EQ(chains[1].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[1].niov, 1);
	UNIT_CHECK_EQ(chains[1].len, GOOD_LEN);
	UNIT_CHECK_PTR(chains[1].iov[0].base, g2h(fx.good_gpa));
	UNIT_CHECK(!fx.q.broken);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	/* A bad chain goes back unused. */
	virtq_push(&fx.q, chains[0].head, 0);
	virtq_push(&fx.q, chains[1].head, GOOD_LEN);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), (uint16_t)(first + 2));
	UNIT_CHECK_EQ(fx.used->ring[first & (fx.size - 1)].id, head);
	UNIT_CHECK_EQ(fx.used->ring[first & (fx.size - 1)].len, 0);
	UNIT_CHECK_EQ(fx.used->ring[(uint16_t)(first + 1) & (fx.size - 1)].id, good);
	UNIT_CHECK_EQ(fx.used->ring[(uint16_t)(first + 1) & (fx.size - 1)].len, GOOD_LEN);
}

static void
test_bad_loop(void)
{
	uint16_t i;

	unit_group("hostile: descriptor loops");
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 0);
	expect_bad(0, VIRTQ_ERR_LOOP);

	bad_setup(8, false);
	desc_set(fx.desc, 2, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 2);
	expect_bad(2, VIRTQ_ERR_LOOP);

	/* Longer than the ring: 0 -> 1 -> ... -> 6 -> 0 -> ... */
	bad_setup(8, false);
	for (i = 0; i < 7; i++)
		desc_set(fx.desc, i, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 7));
	expect_bad(3, VIRTQ_ERR_LOOP);

	/* Zero-length descriptors loop too. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, 0, 0, VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, 0, 0, VRING_DESC_F_NEXT, 0);
	expect_bad(0, VIRTQ_ERR_LOOP);
}

static void
test_bad_next(void)
{
	unit_group("hostile: next index out of range");
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 8);
	expect_bad(0, VIRTQ_ERR_NEXT);
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 0xffff);
	expect_bad(0, VIRTQ_ERR_NEXT);
}

static void
test_bad_addr(void)
{
	unit_group("hostile: addresses");
	/* Outside every region. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, 0x1000, 16, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G1 + REG_SIZE, 16, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	/* Straddling the gap after R1, and the one before R2. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, G1 + REG_SIZE - 8, 16, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G2 - 8, 16, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	/* gpa + len past 2^64. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, UINT64_MAX - 15, 32, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G2 + 16, UINT32_MAX, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	/* A bad descriptor after good ones: no piece survives. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 2);
	desc_set(fx.desc, 2, 0x2000, 8, 0, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
}

static void
test_bad_dir(void)
{
	struct vring_desc *t;
	uint64_t tg;

	unit_group("hostile: buffer direction");
	/* Writable buffer on a queue the device reads. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_WRITE, 0);
	expect_bad(0, VIRTQ_ERR_DIR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, VRING_DESC_F_WRITE, 0);
	expect_bad(0, VIRTQ_ERR_DIR);
	/* Read-only buffer on a queue the device writes. */
	bad_setup(8, true);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, 0, 0);
	expect_bad(0, VIRTQ_ERR_DIR);
	bad_setup(8, true);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, 0, 0);
	expect_bad(0, VIRTQ_ERR_DIR);
	/* Inside an indirect table too. */
	bad_setup(8, true);
	t = gtable(2, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc_set(t, 1, gbuf(2, 8, 0), 8, 0, 0);
	desc_set(fx.desc, 0, tg, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_DIR);
}

static void
test_bad_indirect(void)
{
	struct vring_desc *t;
	uint64_t tg;

	unit_group("hostile: indirect tables");
	/* Indirect inside indirect. */
	bad_setup(8, false);
	t = gtable(2, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 1);
	desc_set(t, 1, tg, 32, VRING_DESC_F_INDIRECT, 0);
	desc_set(fx.desc, 0, tg, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	/* INDIRECT with NEXT. */
	bad_setup(8, false);
	t = gtable(1, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, 0, 0);
	desc_set(fx.desc, 0, tg, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, 0, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	/* Length not a multiple of 16, or 0, or more entries than a ring may have. */
	bad_setup(8, false);
	t = gtable(2, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, 0, 0);
	desc_set(fx.desc, 0, tg, 20, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	bad_setup(8, false);
	t = gtable(1, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, 0, 0);
	desc_set(fx.desc, 0, tg, 8, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G2, 0, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G2, (VIRTQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	/* Table outside memory, or split over two regions. */
	bad_setup(8, false);
	desc_set(fx.desc, 0, 0x5000, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G2 - 16, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	bad_setup(8, false);
	desc_set(fx.desc, 0, G1 - 16, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
	/* Misaligned table. */
	bad_setup(8, false);
	tg = galloc(2, 64) + 4;
	desc_set(fx.desc, 0, tg, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_INDIRECT);
	/* Next out of the table, and loops inside it. */
	bad_setup(8, false);
	t = gtable(2, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 2);
	desc_set(t, 1, gbuf(2, 8, 0), 8, 0, 0);
	desc_set(fx.desc, 0, tg, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_NEXT);
	bad_setup(8, false);
	t = gtable(3, &tg);
	desc_set(t, 0, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 1);
	desc_set(t, 1, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 2);
	desc_set(t, 2, gbuf(2, 8, 0), 8, VRING_DESC_F_NEXT, 0);
	desc_set(fx.desc, 0, tg, 48, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_LOOP);
	/* A buffer outside memory listed in the table. */
	bad_setup(8, false);
	t = gtable(1, &tg);
	desc_set(t, 0, 0x3000, 8, 0, 0);
	desc_set(fx.desc, 0, tg, 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_ADDR);
}

static void
test_bad_too_long(void)
{
	struct vring_desc *t;
	uint64_t tg;
	uint16_t i;

	unit_group("hostile: too many pieces");
	/* VIRTQ_MAX_IOV descriptors are fine... */
	bad_setup(128, false);
	for (i = 0; i < VIRTQ_MAX_IOV; i++)
		desc_set(fx.desc, i, gbuf(2, 8, 0), 8,
			 i + 1 < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	avail_add(0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].niov, VIRTQ_MAX_IOV);
	UNIT_CHECK_EQ(chains[0].len, VIRTQ_MAX_IOV * 8);
	/* ...one more is not. */
	bad_setup(128, false);
	for (i = 0; i <= VIRTQ_MAX_IOV; i++)
		desc_set(fx.desc, i, gbuf(2, 8, 0), 8,
			 i < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	expect_bad(0, VIRTQ_ERR_TOO_LONG);
	/* Pieces from descriptors that span regions count twice. */
	bad_setup(128, false);
	for (i = 0; i < VIRTQ_MAX_IOV / 2 + 1; i++)
		desc_set(fx.desc, i, G1 - 4, 8,
			 i < VIRTQ_MAX_IOV / 2 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	expect_bad(0, VIRTQ_ERR_TOO_LONG);
	/* In an indirect table. */
	bad_setup(8, false);
	t = gtable(VIRTQ_MAX_IOV + 1, &tg);
	for (i = 0; i <= VIRTQ_MAX_IOV; i++)
		desc_set(t, i, gbuf(2, 8, 0), 8, i < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	desc_set(fx.desc, 0, tg, (VIRTQ_MAX_IOV + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad(0, VIRTQ_ERR_TOO_LONG);

	/* Over 4 GiB in total, in a huge region nobody dereferences. */
	bad_setup(8, false);
	fx.mem.nregions = NREG + 1;
	fx.mem.regions[NREG].gpa = G3;
	fx.mem.regions[NREG].size = 1ULL << 33;
	fx.mem.regions[NREG].hva = (uint64_t)(uintptr_t)fx.host[2];
	desc_set(fx.desc, 0, G3, 0x80000000U, VRING_DESC_F_NEXT, 1);
	desc_set(fx.desc, 1, G3 + 0x80000000U, 0x80000000U, 0, 0);
	expect_bad(0, VIRTQ_ERR_TOO_LONG);
	desc_set(fx.desc, 0, G3, UINT32_MAX, 0, 0);
	avail_add(0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK_EQ(chains[0].len, UINT32_MAX);
}

/* --- Broken queues ------------------------------------------------------------ */

static void
test_broken_avail_idx(void)
{
	uint16_t i;

	unit_group("broken: avail index runs ahead");
	/* Exactly a ring ahead is fine. */
	fx_setup(8, false, false, 0xfffc);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, 0, 0);
	for (i = 0; i < 8; i++)
		avail_add(0);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 8);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 8);
	UNIT_CHECK(!fx.q.broken);
	/* More than a ring ahead breaks the queue for good. */
	fx_setup(8, false, false, 0xfffc);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, 0, 0);
	for (i = 0; i < 9; i++)
		avail_add(0);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	UNIT_CHECK(fx.q.broken);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	fx.avail->idx = (uint16_t)(fx.start + 1);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	UNIT_CHECK_EQ(fx.q.last_avail, fx.start);
	/* Going backwards is running 65535 ahead. */
	fx_setup(8, false, false, 10);
	fx.avail->idx = 9;
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	UNIT_CHECK(fx.q.broken);
	/* Pop is what notices it too. */
	fx_setup(8, false, false, 0);
	fx.avail->idx = 0x8000;
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	UNIT_CHECK(fx.q.broken);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
}

static void
test_broken_head(void)
{
	unit_group("broken: head index out of ring");
	fx_setup(8, false, false, 0xfffe);
	desc_set(fx.desc, 1, gbuf(2, 8, 0), 8, 0, 0);
	avail_add(1);
	avail_add(8);
	avail_add(1);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 3);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	UNIT_CHECK_EQ(chains[0].head, 1);
	UNIT_CHECK_EQ(chains[0].err, VIRTQ_OK);
	UNIT_CHECK(fx.q.broken);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);

	fx_setup(8, false, false, 0);
	avail_add(0xffff);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 0);
	UNIT_CHECK(fx.q.broken);
	UNIT_CHECK_EQ(fx.q.last_avail, 0);
}

/* --- Completion, notification, unpop ------------------------------------------- */

static void
test_flush(void)
{
	uint16_t i;

	unit_group("flush: used idx, avail_event, NO_NOTIFY");
	/* EVENT_IDX: avail_event half a ring-space ahead of what we consumed. */
	fx_setup(8, true, false, 0xfffd);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, 0, 0);
	set_avail_event(0xbeef);
	for (i = 0; i < 5; i++)
		avail_add(0);
	UNIT_CHECK(!virtq_flush(&fx.q));
	UNIT_CHECK_EQ(avail_event(), 0xbeef);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 5);
	UNIT_CHECK_EQ(fx.q.last_avail, 2);
	/* Three of five completed: avail_event follows what we took, not completed. */
	for (i = 0; i < 3; i++)
		virtq_push(&fx.q, chains[i].head, i);
	UNIT_CHECK_EQ(used_idx(), 0xfffd);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 0);
	UNIT_CHECK_EQ(avail_event(), (uint16_t)(2 + 0x7fff));
	for (i = 3; i < 5; i++)
		virtq_push(&fx.q, chains[i].head, i);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 2);
	UNIT_CHECK_EQ(avail_event(), (uint16_t)(2 + 0x7fff));
	UNIT_CHECK_EQ(fx.used->flags, 0);
	for (i = 0; i < 5; i++)
		UNIT_CHECK_EQ(fx.used->ring[(uint16_t)(0xfffd + i) & 7].len, i);
	UNIT_CHECK(!virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 2);

	/* No EVENT_IDX: the flag, and the event slot is left alone. */
	fx_setup(8, false, false, 0);
	desc_set(fx.desc, 0, gbuf(2, 8, 0), 8, 0, 0);
	set_avail_event(0xbeef);
	avail_add(0);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 1);
	virtq_push(&fx.q, 0, 0);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 1);
	UNIT_CHECK_EQ(fx.used->flags, VRING_USED_F_NO_NOTIFY);
	UNIT_CHECK_EQ(avail_event(), 0xbeef);
}

/*
 * The guest's answer when @n_new used elements are published after it was last
 * interrupted at @old, and its used_event is @event.
 */
static bool
notify_case(bool event_idx, uint16_t old, uint16_t n_new, uint16_t event, uint16_t flags)
{
	uint16_t i;

	fx_setup(8, event_idx, false, old);
	(void)virtq_need_notify(&fx.q); /* the first interrupt always goes */
	for (i = 0; i < n_new; i++)
		virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q);
	set_used_event(event);
	fx.avail->flags = flags;
	return virtq_need_notify(&fx.q);
}

static void
test_notify_event_idx(void)
{
	unit_group("need_notify: EVENT_IDX");
	/* Published 10..12: interrupt iff used_event is one of them. */
	UNIT_CHECK(!notify_case(true, 10, 3, 9, 0));
	UNIT_CHECK(notify_case(true, 10, 3, 10, 0));
	UNIT_CHECK(notify_case(true, 10, 3, 11, 0));
	UNIT_CHECK(notify_case(true, 10, 3, 12, 0));
	UNIT_CHECK(!notify_case(true, 10, 3, 13, 0));
	UNIT_CHECK(!notify_case(true, 10, 3, 1000, 0));
	UNIT_CHECK(!notify_case(true, 10, 3, 0xffff, 0));
	/* NO_INTERRUPT means nothing with EVENT_IDX. */
	UNIT_CHECK(notify_case(true, 10, 3, 11, VRING_AVAIL_F_NO_INTERRUPT));
	/* Published 65534, 65535, 0, 1 across the wrap. */
	UNIT_CHECK(!notify_case(true, 0xfffe, 4, 0xfffd, 0));
	UNIT_CHECK(notify_case(true, 0xfffe, 4, 0xfffe, 0));
	UNIT_CHECK(notify_case(true, 0xfffe, 4, 0xffff, 0));
	UNIT_CHECK(notify_case(true, 0xfffe, 4, 0, 0));
	UNIT_CHECK(notify_case(true, 0xfffe, 4, 1, 0));
	UNIT_CHECK(!notify_case(true, 0xfffe, 4, 2, 0));
	UNIT_CHECK(!notify_case(true, 0xfffe, 4, 3, 0));
	UNIT_CHECK(notify_case(true, 0xffff, 1, 0xffff, 0));
	UNIT_CHECK(!notify_case(true, 0xffff, 1, 0, 0));

	/* Nothing new since the last one: no interrupt, whatever used_event says. */
	fx_setup(8, true, false, 0);
	virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q);
	set_used_event(0);
	UNIT_CHECK(virtq_need_notify(&fx.q));
	UNIT_CHECK(!virtq_need_notify(&fx.q));
	UNIT_CHECK(!virtq_flush(&fx.q));
	UNIT_CHECK(!virtq_need_notify(&fx.q));
	/* A skipped interrupt still moves the window: used_event 5 fires at 6. */
	virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q); /* published 1, now 2 */
	set_used_event(5);
	UNIT_CHECK(!virtq_need_notify(&fx.q));
	virtq_push(&fx.q, 0, 0);
	virtq_push(&fx.q, 0, 0);
	virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q); /* published 2..4, now 5 */
	UNIT_CHECK(!virtq_need_notify(&fx.q));
	virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q); /* published 5, now 6 */
	UNIT_CHECK(virtq_need_notify(&fx.q));
	/* Pushed but not flushed is not published. */
	virtq_push(&fx.q, 0, 0);
	set_used_event(6);
	UNIT_CHECK(!virtq_need_notify(&fx.q));
	virtq_flush(&fx.q);
	UNIT_CHECK(virtq_need_notify(&fx.q));
}

static void
test_notify_flags(void)
{
	unit_group("need_notify: without EVENT_IDX");
	UNIT_CHECK(notify_case(false, 10, 3, 0x1234, 0));
	UNIT_CHECK(!notify_case(false, 10, 3, 11, VRING_AVAIL_F_NO_INTERRUPT));
	UNIT_CHECK(notify_case(false, 0xffff, 2, 0, 0));
	UNIT_CHECK(!notify_case(false, 0xffff, 2, 0, VRING_AVAIL_F_NO_INTERRUPT));
	/* Nothing new: no interrupt even if the guest would take one. */
	fx_setup(8, false, false, 0);
	virtq_push(&fx.q, 0, 0);
	virtq_flush(&fx.q);
	UNIT_CHECK(virtq_need_notify(&fx.q));
	UNIT_CHECK(!virtq_need_notify(&fx.q));
}

static void
test_unpop(void)
{
	struct virtq_chain first[3];
	uint16_t i;

	unit_group("unpop");
	fx_setup(8, false, false, 0xfffe);
	for (i = 0; i < 3; i++) {
		desc_set(fx.desc, (uint16_t)(i * 2), gbuf(2, 16, 0), (uint32_t)(16 + i), 0, 0);
		avail_add((uint16_t)(i * 2));
	}
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, 1), 1);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 2);
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains + 1, 2), 2);
	memcpy(first, chains, sizeof(first));
	UNIT_CHECK_EQ(first[0].head, 0);
	UNIT_CHECK_EQ(first[1].head, 2);
	UNIT_CHECK_EQ(first[2].head, 4);
	UNIT_CHECK_EQ(fx.q.last_avail, 1);
	/* The last two come back, in order. */
	virtq_unpop(&fx.q, 2);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 2);
	memset(chains, 0, sizeof(chains));
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 2);
	UNIT_CHECK_EQ(chains[0].head, 2);
	UNIT_CHECK_EQ(chains[1].head, 4);
	UNIT_CHECK_PTR(chains[0].iov[0].base, first[1].iov[0].base);
	UNIT_CHECK_EQ(chains[1].len, first[2].len);
	/* All three, across the index wrap. */
	virtq_unpop(&fx.q, 3);
	UNIT_CHECK_EQ(fx.q.last_avail, 0xfffe);
	UNIT_CHECK_EQ(virtq_avail_count(&fx.q), 3);
	memset(chains, 0, sizeof(chains));
	UNIT_CHECK_EQ(virtq_pop(&fx.q, chains, NCHAINS), 3);
	for (i = 0; i < 3; i++) {
		UNIT_CHECK_EQ(chains[i].head, first[i].head);
		UNIT_CHECK_EQ(chains[i].err, VIRTQ_OK);
		UNIT_CHECK_EQ(chains[i].niov, first[i].niov);
		UNIT_CHECK_EQ(chains[i].len, first[i].len);
		UNIT_CHECK_PTR(chains[i].iov[0].base, first[i].iov[0].base);
	}
	for (i = 0; i < 3; i++)
		virtq_push(&fx.q, chains[i].head, chains[i].len);
	UNIT_CHECK(virtq_flush(&fx.q));
	UNIT_CHECK_EQ(used_idx(), 1);
	UNIT_CHECK_EQ(fx.used->ring[0xfffe & 7].id, 0);
	UNIT_CHECK_EQ(fx.used->ring[0xffff & 7].id, 2);
	UNIT_CHECK_EQ(fx.used->ring[0].id, 4);
	UNIT_CHECK_EQ(fx.used->ring[0].len, 18);
}

/* --- Piece lists ------------------------------------------------------------------ */

#define GUARD 0xee

static uint8_t arena[64];

/* Pieces of 3, 0, 5 and 7 bytes at arena + 1, 10, 10, 20; guard bytes elsewhere. */
static void
iov_setup(struct virtq_iov *iov)
{
	memset(arena, GUARD, sizeof(arena));
	iov[0].base = arena + 1;
	iov[0].len = 3;
	iov[1].base = arena + 10;
	iov[1].len = 0;
	iov[2].base = arena + 10;
	iov[2].len = 5;
	iov[3].base = arena + 20;
	iov[3].len = 7;
}

static bool
guards_intact(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(arena); i++) {
		bool in = (i >= 1 && i < 4) || (i >= 10 && i < 15) || (i >= 20 && i < 27);

		if (!in && arena[i] != GUARD)
			return false;
	}
	return true;
}

/* Byte @k of the 15 bytes the pieces hold, in order. */
static uint8_t *
iov_byte(struct virtq_iov *iov, unsigned int k)
{
	if (k < 3)
		return iov[0].base + k;
	if (k < 8)
		return iov[2].base + k - 3;
	return iov[3].base + k - 8;
}

static void
test_iov_read_write(void)
{
	struct virtq_iov iov[4];
	uint8_t src[32], dst[32];
	unsigned int k;
	bool ok;

	unit_group("iov_read / iov_write");
	for (k = 0; k < sizeof(src); k++)
		src[k] = (uint8_t)(k + 1);
	iov_setup(iov);
	UNIT_CHECK_EQ(virtq_iov_write(iov, 4, 0, src, 15), 15);
	for (ok = true, k = 0; k < 15; k++)
		ok = ok && *iov_byte(iov, k) == src[k];
	UNIT_CHECK(ok);
	UNIT_CHECK(guards_intact());
	memset(dst, 0, sizeof(dst));
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 0, dst, 15), 15);
	UNIT_CHECK_MEM(dst, src, 15);
	/* Offsets inside, at and past the end of pieces. */
	memset(dst, 0, sizeof(dst));
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 2, dst, 9), 9);
	UNIT_CHECK_MEM(dst, src + 2, 9);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 3, dst, 5), 5);
	UNIT_CHECK_MEM(dst, src + 3, 5);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 14, dst, 10), 1);
	UNIT_CHECK_EQ(dst[0], src[14]);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 15, dst, 10), 0);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, UINT32_MAX, dst, 10), 0);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 4, 0, dst, 0), 0);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 0, 0, dst, 10), 0);
	UNIT_CHECK_EQ(virtq_iov_read(iov, 2, 0, dst, 10), 3);
	/* A write longer than the pieces stops at their end. */
	iov_setup(iov);
	UNIT_CHECK_EQ(virtq_iov_write(iov, 4, 7, src, 100), 8);
	for (ok = true, k = 0; k < 7; k++)
		ok = ok && *iov_byte(iov, k) == GUARD;
	for (k = 7; k < 15; k++)
		ok = ok && *iov_byte(iov, k) == src[k - 7];
	UNIT_CHECK(ok);
	UNIT_CHECK(guards_intact());
	UNIT_CHECK_EQ(virtq_iov_write(iov, 4, 15, src, 1), 0);
	UNIT_CHECK(guards_intact());
}

static void
test_iov_copy(void)
{
	static uint8_t dbuf[4][4];
	struct virtq_iov src[4], dst[4];
	uint8_t flat[16], want[16];
	unsigned int k;

	unit_group("iov_copy");
	for (k = 0; k < 4; k++) {
		dst[k].base = dbuf[k];
		dst[k].len = 4;
	}
	iov_setup(src);
	for (k = 0; k < 15; k++)
		*iov_byte(src, k) = (uint8_t)(0x80 + k);
	memset(dbuf, 0, sizeof(dbuf));
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 0, src, 4, 0, 15), 15);
	for (k = 0; k < 15; k++)
		want[k] = (uint8_t)(0x80 + k);
	UNIT_CHECK_EQ(virtq_iov_read(dst, 4, 0, flat, 15), 15);
	UNIT_CHECK_MEM(flat, want, 15);
	UNIT_CHECK_EQ(dbuf[3][3], 0);
	/* Offsets on both sides; the shorter list ends the copy. */
	memset(dbuf, 0, sizeof(dbuf));
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 5, src, 4, 2, 100), 11);
	UNIT_CHECK_EQ(virtq_iov_read(dst, 4, 5, flat, 11), 11);
	UNIT_CHECK_MEM(flat, want + 2, 11);
	UNIT_CHECK_EQ(virtq_iov_read(dst, 4, 0, flat, 5), 5);
	memset(want, 0, sizeof(want));
	UNIT_CHECK_MEM(flat, want, 5);
	memset(dbuf, 0, sizeof(dbuf));
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 10, src, 4, 0, 100), 6);
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 0, src, 4, 0, 0), 0);
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 16, src, 4, 0, 5), 0);
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 0, src, 4, 15, 5), 0);
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 0, 0, src, 4, 0, 5), 0);
	UNIT_CHECK_EQ(virtq_iov_copy(dst, 4, 0, src, 0, 0, 5), 0);
	UNIT_CHECK(guards_intact());
}

static void
test_err_name(void)
{
	unsigned int e, f;
	bool distinct = true;

	unit_group("err_name");
	for (e = 0; e < VIRTQ_ERR_MAX; e++) {
		UNIT_CHECK(virtq_err_name((enum virtq_err)e) != NULL);
		for (f = 0; f < e; f++)
			if (strcmp(virtq_err_name((enum virtq_err)e),
				   virtq_err_name((enum virtq_err)f)) == 0)
				distinct = false;
	}
	UNIT_CHECK(distinct);
	UNIT_CHECK(strcmp(virtq_err_name(VIRTQ_ERR_MAX), "unknown") == 0);
	UNIT_CHECK(strcmp(virtq_err_name((enum virtq_err)200), "unknown") == 0);
}

int
main(void)
{
	unsigned int i;

	unit_start("unit-virtq");
	for (i = 0; i < NREG; i++) {
		fx.host[i] = aligned_alloc(4096, REG_SIZE);
		if (fx.host[i] == NULL) {
			perror("aligned_alloc");
			return 2;
		}
	}
	test_init();
	test_translate();
	test_pop_single();
	test_pop_hdr_payload();
	test_pop_span_regions();
	test_pop_full_chain();
	test_pop_indirect();
	test_rx_write();
	test_len_zero();
	test_bad_loop();
	test_bad_next();
	test_bad_addr();
	test_bad_dir();
	test_bad_indirect();
	test_bad_too_long();
	test_broken_avail_idx();
	test_broken_head();
	test_flush();
	test_notify_event_idx();
	test_notify_flags();
	test_unpop();
	test_iov_read_write();
	test_iov_copy();
	test_err_name();
	for (i = 0; i < NREG; i++)
		free(fx.host[i]);
	return unit_done();
}
