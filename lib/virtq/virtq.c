/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <errno.h>
#include <string.h>

#include "virtq.h"

/* Descriptor tables larger than this are refused when indirect. */
#define VIRTQ_MAX_INDIRECT VIRTQ_MAX_SIZE

int
virtq_init(struct virtq *q, struct vring_desc *desc, struct vring_avail *avail,
	   struct vring_used *used, uint16_t size, uint16_t last_avail, uint16_t last_used,
	   bool event_idx, bool device_writes, const struct virtq_mem *mem)
{
	if (desc == NULL || avail == NULL || used == NULL || mem == NULL)
		return -EINVAL;
	if (size == 0 || (size & (size - 1)) != 0)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->mem = mem;
	q->size = size;
	q->mask = size - 1;
	q->last_avail = last_avail;
	q->last_used = last_used;
	q->published_used = last_used;
	q->signalled_used = last_used;
	q->event_idx = event_idx;
	q->device_writes = device_writes;
	return 0;
}

static const struct virtq_region *
find_region(const struct virtq_mem *mem, uint64_t gpa)
{
	uint32_t i;

	for (i = 0; i < mem->nregions && i < VIRTQ_MAX_REGIONS; i++) {
		const struct virtq_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

int
virtq_translate(const struct virtq_mem *mem, uint64_t gpa, uint64_t len,
		struct virtq_iov *iov, unsigned int max)
{
	unsigned int n = 0;

	while (len > 0) {
		const struct virtq_region *r = find_region(mem, gpa);
		uint64_t off, chunk;

		if (r == NULL)
			return -EFAULT;
		if (n == max)
			return -E2BIG;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		/* Pieces carry 32-bit lengths; descriptors never exceed that. */
		if (chunk > UINT32_MAX)
			return -E2BIG;
		iov[n].base = (uint8_t *)(uintptr_t)(r->hva + off);
		iov[n].len = (uint32_t)chunk;
		n++;
		gpa += chunk;
		len -= chunk;
		/* A range that wraps the address space cannot be in a region. */
		if (len > 0 && gpa == 0)
			return -EFAULT;
	}
	return (int)n;
}

uint16_t
virtq_avail_count(struct virtq *q)
{
	uint16_t idx, n;

	if (q->broken)
		return 0;
	idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	n = (uint16_t)(idx - q->last_avail);
	if (n > q->size) {
		q->broken = true;
		return 0;
	}
	return n;
}

/* Walk one chain starting at descriptor @head into @c. */
static enum virtq_err
walk_chain(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const struct vring_desc *table = q->desc;
	uint32_t table_size = q->size;
	uint32_t idx = head, seen = 0;
	uint64_t total = 0;
	bool indirect = false;

	c->niov = 0;
	for (;;) {
		struct vring_desc d;
		int n;

		/* One read of the guest's descriptor; only the copy is used. */
		memcpy(&d, (const void *)&table[idx], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (++seen > table_size)
			return VIRTQ_ERR_LOOP;

		if (d.flags & VRING_DESC_F_INDIRECT) {
			struct virtq_iov tab;

			if (indirect || (d.flags & VRING_DESC_F_NEXT))
				return VIRTQ_ERR_INDIRECT;
			if (d.len == 0 || d.len % sizeof(struct vring_desc) != 0 ||
			    d.len / sizeof(struct vring_desc) > VIRTQ_MAX_INDIRECT)
				return VIRTQ_ERR_INDIRECT;
			/* The table must be contiguous in one region. */
			if (virtq_translate(q->mem, d.addr, d.len, &tab, 1) != 1)
				return VIRTQ_ERR_ADDR;
			if (((uintptr_t)tab.base & (__alignof__(struct vring_desc) - 1)) != 0)
				return VIRTQ_ERR_INDIRECT;
			table = (const struct vring_desc *)tab.base;
			table_size = d.len / sizeof(struct vring_desc);
			indirect = true;
			idx = 0;
			seen = 0;
			continue;
		}

		if (!!(d.flags & VRING_DESC_F_WRITE) != q->device_writes)
			return VIRTQ_ERR_DIR;
		n = virtq_translate(q->mem, d.addr, d.len, &c->iov[c->niov],
				    VIRTQ_MAX_IOV - c->niov);
		if (n == -E2BIG)
			return VIRTQ_ERR_TOO_LONG;
		if (n < 0)
			return VIRTQ_ERR_ADDR;
		c->niov += n;
		total += d.len;
		if (total > UINT32_MAX)
			return VIRTQ_ERR_TOO_LONG;

		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return VIRTQ_ERR_NEXT;
		idx = d.next;
	}
	c->len = (uint32_t)total;
	return VIRTQ_OK;
}

/* Start loading the first lines of a chain's first two pieces (the header and
 * the first payload bytes in every layout drivers use): the guest wrote them
 * last, on another core, and a burst's misses overlap instead of queueing. */
static inline void
prefetch_chain(const struct virtq_chain *c)
{
	if (c->niov > 0)
		__builtin_prefetch(c->iov[0].base);
	if (c->niov > 1)
		__builtin_prefetch(c->iov[1].base);
}

unsigned int
virtq_pop(struct virtq *q, struct virtq_chain *chains, unsigned int n)
{
	uint16_t avail = virtq_avail_count(q);
	uint16_t heads[VIRTQ_POP_PREFETCH];
	unsigned int i, j, k;

	if (n > avail)
		n = avail;
	for (i = 0; i < n; i += k) {
		/* The heads of a few chains first, and their descriptors loading. */
		k = n - i < VIRTQ_POP_PREFETCH ? n - i : VIRTQ_POP_PREFETCH;
		for (j = 0; j < k; j++) {
			heads[j] = __atomic_load_n(&q->avail->ring[(q->last_avail + j) & q->mask],
						   __ATOMIC_RELAXED);
			if (heads[j] < q->size)
				__builtin_prefetch(&q->desc[heads[j]], 0);
		}
		for (j = 0; j < k; j++) {
			struct virtq_chain *c = &chains[i + j];

			if (heads[j] >= q->size) {
				q->broken = true;
				return i + j;
			}
			c->head = heads[j];
			c->err = walk_chain(q, heads[j], c);
			if (c->err != VIRTQ_OK) {
				c->niov = 0;
				c->len = 0;
			}
			prefetch_chain(c);
			q->last_avail++;
		}
	}
	return n;
}

bool
virtq_flush(struct virtq *q)
{
	if (q->last_used == q->published_used)
		return false;
	__atomic_store_n(&q->used->idx, q->last_used, __ATOMIC_RELEASE);
	q->published_used = q->last_used;
	/* We poll: ask for no kicks. With EVENT_IDX a guest kicks only once its avail
	 * index passes avail_event, which we keep half a ring-space ahead. */
	if (q->event_idx)
		__atomic_store_n((uint16_t *)&q->used->ring[q->size],
				 (uint16_t)(q->last_avail + 0x7fff), __ATOMIC_RELAXED);
	else
		__atomic_store_n(&q->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	return true;
}

bool
virtq_need_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->published_used;
	bool valid = q->signalled_valid;

	if (valid && old == now)
		return false;
	/* used->idx must be visible before we read the guest's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (q->event_idx) {
		uint16_t event = __atomic_load_n(&q->avail->ring[q->size], __ATOMIC_RELAXED);

		return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	}
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

uint32_t
virtq_iov_read(const struct virtq_iov *iov, unsigned int niov, uint32_t off, void *dst,
	       uint32_t len)
{
	uint8_t *d = dst;
	uint32_t done = 0;
	unsigned int i;

	for (i = 0; i < niov && done < len; i++) {
		uint32_t chunk;

		if (off >= iov[i].len) {
			off -= iov[i].len;
			continue;
		}
		chunk = iov[i].len - off;
		if (chunk > len - done)
			chunk = len - done;
		memcpy(d + done, iov[i].base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

uint32_t
virtq_iov_write(const struct virtq_iov *iov, unsigned int niov, uint32_t off,
		const void *src, uint32_t len)
{
	const uint8_t *s = src;
	uint32_t done = 0;
	unsigned int i;

	for (i = 0; i < niov && done < len; i++) {
		uint32_t chunk;

		if (off >= iov[i].len) {
			off -= iov[i].len;
			continue;
		}
		chunk = iov[i].len - off;
		if (chunk > len - done)
			chunk = len - done;
		memcpy(iov[i].base + off, s + done, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

uint32_t
virtq_iov_copy(const struct virtq_iov *dst, unsigned int ndst, uint32_t doff,
	       const struct virtq_iov *src, unsigned int nsrc, uint32_t soff, uint32_t len)
{
	unsigned int di = 0, si = 0;
	uint32_t done = 0;

	while (di < ndst && doff >= dst[di].len)
		doff -= dst[di++].len;
	while (si < nsrc && soff >= src[si].len)
		soff -= src[si++].len;
	while (done < len && di < ndst && si < nsrc) {
		uint32_t chunk = dst[di].len - doff;

		if (chunk > src[si].len - soff)
			chunk = src[si].len - soff;
		if (chunk > len - done)
			chunk = len - done;
		memcpy(dst[di].base + doff, src[si].base + soff, chunk);
		done += chunk;
		doff += chunk;
		soff += chunk;
		if (doff == dst[di].len) {
			di++;
			doff = 0;
		}
		if (soff == src[si].len) {
			si++;
			soff = 0;
		}
	}
	return done;
}

const char *
virtq_err_name(enum virtq_err err)
{
	static const char *const names[VIRTQ_ERR_MAX] = {
		[VIRTQ_OK] = "ok",
		[VIRTQ_ERR_ADDR] = "address outside guest memory",
		[VIRTQ_ERR_LOOP] = "descriptor loop",
		[VIRTQ_ERR_NEXT] = "next index out of table",
		[VIRTQ_ERR_INDIRECT] = "bad indirect table",
		[VIRTQ_ERR_DIR] = "wrong buffer direction",
		[VIRTQ_ERR_TOO_LONG] = "chain too long",
	};

	return (unsigned int)err < VIRTQ_ERR_MAX ? names[err] : "unknown";
}
