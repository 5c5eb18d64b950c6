/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * fuzz_virtq: the split-virtqueue engine (lib/virtq) over a fake guest whose
 * every byte comes from the fuzzer.
 *
 * Each guest memory region, the descriptor table, the avail ring and the used
 * ring is a separate heap block of exactly its size, so AddressSanitizer stops
 * the run at the first byte read or written outside guest memory. The input
 * describes 1-3 regions (guest physical addresses adjacent, random, or at the
 * top of the address space), a ring of 1-256 entries, descriptors whose
 * addresses and lengths are biased towards the interesting cases (inside a
 * region, straddling its end, huge), indirect tables written into guest memory,
 * the avail ring and its index, then a program of device operations (pop, push,
 * flush, notify, unpop, copies) interleaved with the guest rewriting its rings
 * and tables between them.
 *
 * Beyond memory safety it checks what the engine promises: every piece of a
 * good chain lies inside one region and the pieces add up to the chain length,
 * a chain has at most VIRTQ_MAX_IOV pieces, a bad chain has none, heads are
 * inside the ring, the avail count never exceeds the ring, a broken queue stays
 * broken and silent, and virtq_translate() maps each byte to the right place.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "virtq.h"

#define FZ_MAX_REGIONS 3
#define FZ_MAX_REGION_SIZE 16384
#define FZ_MAX_POP 8
#define FZ_HOST_BUF 16384
#define FZ_MAX_OPS 256

struct fz_guest {
	struct virtq_mem mem;
	uint8_t *host[FZ_MAX_REGIONS];
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	size_t avail_bytes;
	size_t used_bytes;
};

static struct virtq_chain held[FZ_MAX_POP * 4];
static unsigned int nheld; /* popped, not pushed */
#define FZ_HELD_MAX (sizeof(held) / sizeof(held[0]))
static uint8_t host_buf[FZ_HOST_BUF];
static uint8_t host_buf2[FZ_HOST_BUF];

/* A guest physical address, biased towards the regions and their edges. */
static uint64_t
gen_addr(struct fz *f, const struct fz_guest *g)
{
	uint8_t mode = fz_u8(f);
	const struct virtq_region *r = &g->mem.regions[(mode >> 4) % g->mem.nregions];

	switch (mode & 7) {
	case 0:
		return fz_u64(f);
	case 1: /* near the end: straddles into whatever follows */
		return r->gpa + r->size - (fz_u8(f) % 64);
	case 2: /* just before the start */
		return r->gpa - 1 - (fz_u8(f) % 16);
	default:
		return r->gpa + fz_u16(f) % r->size;
	}
}

static uint32_t
gen_len(struct fz *f)
{
	uint8_t mode = fz_u8(f);

	switch (mode & 7) {
	case 0:
		return fz_u32(f);
	case 1:
		return 16u * (fz_u8(f) % 32); /* indirect table sizes */
	case 2:
		return 0;
	case 3:
		return UINT32_MAX - (fz_u8(f) % 4);
	default:
		return fz_u16(f) % 4096;
	}
}

static void
gen_desc(struct fz *f, const struct fz_guest *g, struct vring_desc *d, uint16_t table_size)
{
	uint8_t fl = fz_u8(f);
	uint16_t next = fz_u16(f);

	d->addr = gen_addr(f, g);
	d->len = gen_len(f);
	d->flags = fl & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT);
	/* Mostly a next inside the table, sometimes anything. */
	d->next = (fl & 0x80) ? next : (uint16_t)(next % (table_size ? table_size : 1));
}

/* Write @len bytes at @gpa into guest memory if they fit in one region. */
static void
guest_write(struct fz_guest *g, uint64_t gpa, const void *src, size_t len)
{
	uint32_t i;

	for (i = 0; i < g->mem.nregions; i++) {
		const struct virtq_region *r = &g->mem.regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa)) {
			memcpy(g->host[i] + (gpa - r->gpa), src, len);
			return;
		}
	}
}

/* An indirect table somewhere in guest memory. */
static void
gen_indirect(struct fz *f, struct fz_guest *g)
{
	const struct virtq_region *r = &g->mem.regions[fz_u8(f) % g->mem.nregions];
	unsigned int n = 1 + fz_u8(f) % 16, i;
	uint64_t gpa = r->gpa + (fz_u16(f) % r->size & ~(uint64_t)15);
	struct vring_desc d;

	for (i = 0; i < n; i++, gpa += sizeof(d)) {
		gen_desc(f, g, &d, (uint16_t)n);
		guest_write(g, gpa, &d, sizeof(d));
	}
}

/* True if [p, p + len) lies inside one region's host memory. */
static bool
in_region(const struct fz_guest *g, const uint8_t *p, uint32_t len, uint64_t *gpa)
{
	uint32_t i;

	for (i = 0; i < g->mem.nregions; i++) {
		const uint8_t *b = g->host[i];
		size_t size = (size_t)g->mem.regions[i].size;

		if (p >= b && p < b + size && len <= (size_t)(b + size - p)) {
			if (gpa != NULL)
				*gpa = g->mem.regions[i].gpa + (uint64_t)(p - b);
			return true;
		}
	}
	return false;
}

static void
check_chain(const struct fz_guest *g, const struct virtq_chain *c)
{
	uint64_t total = 0;
	unsigned int i;

	FZ_ASSERT(c->head < g->size, "head %u, ring %u", c->head, g->size);
	FZ_ASSERT(c->niov <= VIRTQ_MAX_IOV, "%u pieces", c->niov);
	FZ_ASSERT(c->err < VIRTQ_ERR_MAX, "err %u", c->err);
	if (c->err != VIRTQ_OK) {
		FZ_ASSERT(c->niov == 0 && c->len == 0, "bad chain with %u pieces, %u bytes",
			  c->niov, c->len);
		return;
	}
	for (i = 0; i < c->niov; i++) {
		FZ_ASSERT(in_region(g, c->iov[i].base, c->iov[i].len, NULL),
			  "piece %u (%p, %u) outside guest memory", i, (void *)c->iov[i].base,
			  c->iov[i].len);
		total += c->iov[i].len;
	}
	FZ_ASSERT(total == c->len, "pieces add up to %llu, chain says %u",
		  (unsigned long long)total, c->len);
}

static void
check_translate(const struct fz_guest *g, uint64_t gpa, uint64_t len, unsigned int max)
{
	struct virtq_iov iov[8];
	uint64_t at = gpa, got;
	int n, i;

	if (max > 8)
		max = 8;
	n = virtq_translate(&g->mem, gpa, len, iov, max);
	if (n < 0) {
		FZ_ASSERT(n == -EFAULT || n == -E2BIG, "error %d", n);
		return;
	}
	FZ_ASSERT((unsigned int)n <= max, "%d pieces, room for %u", n, max);
	FZ_ASSERT(len > 0 || n == 0, "%d pieces for nothing", n);
	for (i = 0; i < n; i++) {
		FZ_ASSERT(iov[i].len > 0, "empty piece");
		FZ_ASSERT(in_region(g, iov[i].base, iov[i].len, &got), "piece %d outside", i);
		FZ_ASSERT(got == at, "piece %d maps gpa %#llx, expected %#llx", i,
			  (unsigned long long)got, (unsigned long long)at);
		at += iov[i].len;
	}
	FZ_ASSERT(at - gpa == len, "translated %llu of %llu bytes",
		  (unsigned long long)(at - gpa), (unsigned long long)len);
}

/* Host-side pieces: the scratch buffer cut at input-chosen points. */
static unsigned int
host_iov(struct fz *f, uint8_t *buf, struct virtq_iov *iov, unsigned int max)
{
	uint32_t off = 0;
	unsigned int n = 0;

	while (n < max && off < FZ_HOST_BUF) {
		uint32_t len = 1 + fz_u16(f) % 5000;

		if (len > FZ_HOST_BUF - off)
			len = FZ_HOST_BUF - off;
		iov[n].base = buf + off;
		iov[n].len = len;
		off += len;
		n++;
		if (!fz_more(f))
			break;
	}
	return n;
}

static int
setup(struct fz *f, struct fz_guest *g, struct virtq *q)
{
	uint8_t b = fz_u8(f);
	uint32_t i;
	bool event_idx = b & 0x10, device_writes = b & 0x20;
	uint16_t last_avail, last_used;

	memset(g, 0, sizeof(*g));
	g->mem.nregions = 1 + b % FZ_MAX_REGIONS;
	for (i = 0; i < g->mem.nregions; i++) {
		struct virtq_region *r = &g->mem.regions[i];
		uint8_t mode = fz_u8(f);

		r->size = 1 + fz_u16(f) % FZ_MAX_REGION_SIZE;
		switch (mode % 4) {
		case 0:
			r->gpa = i == 0 ? 0 : g->mem.regions[i - 1].gpa + g->mem.regions[i - 1].size;
			break;
		case 1:
			r->gpa = fz_u64(f);
			break;
		case 2:
			r->gpa = 0x100000000ULL * (1 + i) + fz_u16(f);
			break;
		default: /* ends at the top of the address space */
			r->gpa = (uint64_t)0 - r->size;
			break;
		}
		g->host[i] = malloc(r->size);
		if (g->host[i] == NULL)
			return -1;
		fz_bytes(f, g->host[i], (size_t)r->size < 64 ? (size_t)r->size : 64);
		if (r->size > 64)
			memset(g->host[i] + 64, 0xa5, (size_t)r->size - 64);
		r->hva = (uint64_t)(uintptr_t)g->host[i];
	}
	g->size = (uint16_t)(1u << (fz_u8(f) % 9));
	g->desc = malloc(sizeof(*g->desc) * g->size);
	g->avail_bytes = sizeof(struct vring_avail) + sizeof(uint16_t) * (g->size + 1);
	g->used_bytes = sizeof(struct vring_used) + sizeof(struct vring_used_elem) * g->size +
			sizeof(uint16_t);
	g->avail = malloc(g->avail_bytes);
	g->used = malloc(g->used_bytes);
	if (g->desc == NULL || g->avail == NULL || g->used == NULL)
		return -1;
	memset(g->used, 0, g->used_bytes);
	for (i = 0; i < g->size; i++)
		gen_desc(f, g, &g->desc[i], g->size);
	for (i = fz_u8(f) % 4; i > 0; i--)
		gen_indirect(f, g);
	last_avail = fz_u16(f);
	last_used = fz_u16(f);
	g->avail->flags = fz_u16(f);
	for (i = 0; i <= g->size; i++) /* the last one is used_event */
		g->avail->ring[i] = (b & 0x40) ? fz_u16(f) : (uint16_t)(fz_u16(f) % g->size);
	g->avail->idx = (b & 0x80) ? fz_u16(f) :
		(uint16_t)(last_avail + fz_u8(f) % (g->size + 2));
	if (virtq_init(q, g->desc, g->avail, g->used, g->size, last_avail, last_used,
		       event_idx, device_writes, &g->mem) != 0)
		return -1;
	return 0;
}

static void
teardown(struct fz_guest *g)
{
	uint32_t i;

	for (i = 0; i < FZ_MAX_REGIONS; i++)
		free(g->host[i]);
	free(g->desc);
	free(g->avail);
	free(g->used);
}

static void
op_pop(struct fz *f, struct fz_guest *g, struct virtq *q)
{
	struct virtq_chain *c = &held[nheld];
	unsigned int want = 1 + fz_u8(f) % FZ_MAX_POP, got, i;
	uint16_t before = virtq_avail_count(q);
	bool was_broken = q->broken;

	if (nheld + want > FZ_HELD_MAX)
		want = FZ_HELD_MAX - nheld;
	got = virtq_pop(q, c, want);
	FZ_ASSERT(got <= want && got <= before, "popped %u, asked %u, %u available", got, want,
		  before);
	if (was_broken)
		FZ_ASSERT(got == 0, "a broken queue gave %u chains", got);
	for (i = 0; i < got; i++)
		check_chain(g, &c[i]);
	nheld += got;
}

static void
op_push(struct fz *f, struct virtq *q)
{
	unsigned int n = fz_u8(f) % (nheld + 1), i;

	for (i = 0; i < n; i++) {
		struct virtq_chain *c = &held[i];
		uint32_t len = c->len ? fz_u32(f) % (c->len + 1) : 0;

		/* What the switch does with an rx buffer: header, then data. */
		if (q->device_writes && len > 0)
			virtq_iov_write(c->iov, c->niov, 0, host_buf, len < FZ_HOST_BUF ?
					len : FZ_HOST_BUF);
		virtq_push(q, c->head, len);
	}
	memmove(held, held + n, (nheld - n) * sizeof(held[0]));
	nheld -= n;
}

static void
op_copy(struct fz *f, struct virtq *q)
{
	struct virtq_iov hiov[16];
	struct virtq_chain *c;
	unsigned int nh;
	uint32_t off, len, done;

	if (nheld == 0)
		return;
	c = &held[fz_u8(f) % nheld];
	nh = host_iov(f, fz_u8(f) & 1 ? host_buf : host_buf2, hiov, 16);
	off = fz_u32(f) % (c->len + 2);
	len = fz_u32(f) % (FZ_HOST_BUF + 1);
	switch (fz_u8(f) % 4) {
	case 0:
		done = virtq_iov_read(c->iov, c->niov, off, host_buf, len);
		break;
	case 1:
		done = q->device_writes ? virtq_iov_write(c->iov, c->niov, off, host_buf2, len) : 0;
		break;
	case 2: /* tx buffer -> host pieces (backlog mbufs, handover) */
		done = virtq_iov_copy(hiov, nh, fz_u16(f) % 64, c->iov, c->niov, off, len);
		break;
	default: /* host pieces -> rx buffer */
		done = q->device_writes ?
			virtq_iov_copy(c->iov, c->niov, off, hiov, nh, fz_u16(f) % 64, len) : 0;
		break;
	}
	FZ_ASSERT(done <= len, "copied %u of %u", done, len);
	FZ_ASSERT(off >= c->len || done == len || done <= c->len - off,
		  "copied %u from %u bytes at %u", done, c->len, off);
}

/* The guest changes its rings between two device steps. */
static void
op_guest(struct fz *f, struct fz_guest *g)
{
	switch (fz_u8(f) % 5) {
	case 0:
		gen_desc(f, g, &g->desc[fz_u16(f) % g->size], g->size);
		break;
	case 1:
		__atomic_store_n(&g->avail->idx, (uint16_t)(g->avail->idx + fz_u8(f) % 8),
				 __ATOMIC_RELEASE);
		break;
	case 2:
		g->avail->ring[fz_u16(f) % (g->size + 1)] = fz_u16(f);
		break;
	case 3:
		gen_indirect(f, g);
		break;
	default:
		g->avail->flags ^= VRING_AVAIL_F_NO_INTERRUPT;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_guest g;
	struct virtq q;
	struct fz f;
	unsigned int ops = 0, i;
	bool broken;

	fz_init(&f, data, size);
	nheld = 0;
	if (setup(&f, &g, &q) != 0) {
		teardown(&g);
		return 0;
	}
	while (fz_more(&f) && ops++ < FZ_MAX_OPS) {
		broken = q.broken;
		switch (fz_u8(&f) % 10) {
		case 0:
		case 1:
			op_pop(&f, &g, &q);
			break;
		case 2:
			op_push(&f, &q);
			break;
		case 3:
			virtq_flush(&q);
			virtq_need_notify(&q);
			break;
		case 4: { /* give back chains never pushed */
			unsigned int n = fz_u8(&f) % (nheld + 1);

			virtq_unpop(&q, n);
			nheld -= n;
			break;
		}
		case 5:
			op_copy(&f, &q);
			break;
		case 6:
		case 7:
			op_guest(&f, &g);
			break;
		case 8:
			check_translate(&g, gen_addr(&f, &g), fz_u8(&f) & 1 ? fz_u64(&f) :
					fz_u16(&f), 1 + fz_u8(&f) % 8);
			break;
		default:
			FZ_ASSERT(virtq_avail_count(&q) <= g.size, "more available than the ring");
			break;
		}
		if (broken)
			FZ_ASSERT(q.broken, "a broken queue came back");
	}
	/* Everything taken goes back, as the switch always does. */
	for (i = 0; i < nheld; i++)
		virtq_push(&q, held[i].head, 0);
	nheld = 0;
	virtq_flush(&q);
	virtq_need_notify(&q);
	for (i = 0; i < VIRTQ_ERR_MAX + 1; i++)
		FZ_ASSERT(virtq_err_name((enum virtq_err)i) != NULL, "no name");
	teardown(&g);
	return 0;
}
