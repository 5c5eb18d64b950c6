/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VIRTQ_H
#define VIRTQ_H

/**
 * @file
 * Device side of a virtio split virtqueue, over guest memory the guest does not
 * trust us with and we do not trust it with.
 *
 * The guest owns the descriptor table and the avail ring and may rewrite them at
 * any moment. So every descriptor is copied once before it is looked at, every
 * guest physical address and length is translated through the guest's memory
 * regions (a range must lie inside regions, nothing outside is ever touched), a
 * chain may visit at most as many descriptors as its table holds (loops end), an
 * indirect table may not hold another indirect table, and an avail index that
 * runs more than a ring ahead breaks the queue. A chain that breaks a rule is
 * returned to the guest unused and counted; a queue whose indices break a rule is
 * marked broken and is not touched again until it is set up anew. (Counting the
 * refusals is the caller's job: struct virtq_chain carries the reason.)
 *
 * A zero-length descriptor adds no piece, wherever it points. An indirect table
 * must be aligned to 16 bytes and lie in one region: stricter than the spec, and
 * no driver we know does otherwise.
 *
 * Indices are kept here, not in guest memory: last_avail is how far we consumed,
 * last_used how far we completed. Completions are batched: virtq_push() writes
 * used elements, virtq_flush() publishes them with one store of used->idx, and
 * virtq_need_notify() says whether the guest asked to be interrupted for them
 * (VIRTIO_RING_F_EVENT_IDX or VRING_AVAIL_F_NO_INTERRUPT).
 *
 * Nothing here needs DPDK or an EAL; it is tested over fake guest memory.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Memory regions a vhost-user frontend may hand over (VHOST_MEMORY_MAX_NREGIONS). */
#define VIRTQ_MAX_REGIONS 8
/** Most pieces one chain may be made of after translation; more is a bad chain. */
#define VIRTQ_MAX_IOV 64
/** Largest ring the split layout allows. */
#define VIRTQ_MAX_SIZE 32768
/** Chains whose heads virtq_pop() reads (and descriptors it prefetches) ahead. */
#define VIRTQ_POP_PREFETCH 8

/** One guest memory region, as mapped into this process. */
struct virtq_region {
	uint64_t gpa; /**< guest physical address of the first byte */
	uint64_t size; /**< bytes */
	uint64_t hva; /**< where the first byte is mapped here */
};

/** A guest's memory map. */
struct virtq_mem {
	uint32_t nregions;
	struct virtq_region regions[VIRTQ_MAX_REGIONS];
};

/** A piece of guest buffer, translated. */
struct virtq_iov {
	uint8_t *base;
	uint32_t len;
};

/** Why a chain was refused. */
enum virtq_err {
	VIRTQ_OK = 0,
	VIRTQ_ERR_ADDR, /**< address not inside the guest's regions */
	VIRTQ_ERR_LOOP, /**< more descriptors than the table holds */
	VIRTQ_ERR_NEXT, /**< next index outside the table */
	VIRTQ_ERR_INDIRECT, /**< bad indirect table (nested, size, NEXT with INDIRECT) */
	VIRTQ_ERR_DIR, /**< buffer writable where it must be readable, or the reverse */
	VIRTQ_ERR_TOO_LONG, /**< more pieces than VIRTQ_MAX_IOV, or over 4 GiB */
	VIRTQ_ERR_MAX,
};

/** A descriptor chain taken from the avail ring, translated into host pieces. */
struct virtq_chain {
	uint16_t head; /**< id to hand back in the used ring */
	uint16_t niov;
	uint8_t err; /**< enum virtq_err: a bad chain has no usable pieces */
	uint32_t len; /**< total bytes of all pieces */
	struct virtq_iov iov[VIRTQ_MAX_IOV];
};

/** One split virtqueue as the device sees it. */
struct virtq {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	const struct virtq_mem *mem;
	uint16_t size;
	uint16_t mask;
	uint16_t last_avail; /**< next avail slot to consume */
	uint16_t last_used; /**< next used slot to fill */
	uint16_t published_used; /**< used->idx as last written */
	uint16_t signalled_used; /**< used index at the last interrupt */
	bool signalled_valid;
	bool event_idx; /**< VIRTIO_RING_F_EVENT_IDX negotiated */
	bool broken; /**< indices went wrong: never touch again */
	bool device_writes; /**< rx queue: buffers must be writable */
};

/**
 * Set up a queue over rings already translated to host addresses.
 *
 * @return
 *   0, or -EINVAL if the size is not a power of two in [1, VIRTQ_MAX_SIZE] or a
 *   ring pointer is NULL.
 */
int virtq_init(struct virtq *q, struct vring_desc *desc, struct vring_avail *avail,
	       struct vring_used *used, uint16_t size, uint16_t last_avail,
	       uint16_t last_used, bool event_idx, bool device_writes,
	       const struct virtq_mem *mem);

/**
 * Translate a guest physical range into host pieces.
 *
 * A range that spans several adjacent regions gives one piece per region.
 *
 * @return
 *   Number of pieces written (0 for len 0), or -EFAULT if any byte lies outside
 *   every region, or -E2BIG if more than @p max pieces are needed or one piece
 *   would exceed 4 GiB.
 */
int virtq_translate(const struct virtq_mem *mem, uint64_t gpa, uint64_t len,
		    struct virtq_iov *iov, unsigned int max);

/**
 * How many chains the guest has made available and we have not consumed.
 * Marks the queue broken (and returns 0) if the guest's index ran more than a
 * ring ahead.
 */
uint16_t virtq_avail_count(struct virtq *q);

/**
 * Take up to @p n chains from the avail ring, in order.
 *
 * Each returned chain either has err == VIRTQ_OK and its pieces, or err set and
 * no pieces: the caller hands every chain back through virtq_push() (a bad one
 * with length 0). A head index outside the ring cannot be handed back: the queue
 * is marked broken and the chains before it are returned.
 *
 * @return
 *   Number of chains taken.
 */
unsigned int virtq_pop(struct virtq *q, struct virtq_chain *chains, unsigned int n);

/**
 * Give back the last @p n chains taken by virtq_pop() without using them: they
 * will be taken again next time. Only chains not yet pushed may be given back.
 */
static inline void
virtq_unpop(struct virtq *q, unsigned int n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

/** Write one used element; it is visible to the guest after virtq_flush(). */
static inline void
virtq_push(struct virtq *q, uint16_t id, uint32_t len)
{
	struct vring_used_elem *e = &q->used->ring[q->last_used & q->mask];

	e->id = id;
	e->len = len;
	q->last_used++;
}

/**
 * Publish all pushed elements with one store of used->idx, and tell the guest
 * not to kick us: we poll.
 *
 * @return
 *   True if anything new was published.
 */
bool virtq_flush(struct virtq *q);

/**
 * After virtq_flush(): whether the guest wants an interrupt for what was
 * published since the last one. Records that it is getting one.
 */
bool virtq_need_notify(struct virtq *q);

/** Copy @p len bytes out of pieces, starting @p off bytes in. Returns bytes copied. */
uint32_t virtq_iov_read(const struct virtq_iov *iov, unsigned int niov, uint32_t off,
			void *dst, uint32_t len);

/** Copy @p len bytes into pieces, starting @p off bytes in. Returns bytes copied. */
uint32_t virtq_iov_write(const struct virtq_iov *iov, unsigned int niov, uint32_t off,
			 const void *src, uint32_t len);

/**
 * Copy between two piece lists: @p len bytes from @p src at @p soff to @p dst at
 * @p doff. Returns bytes copied (less if either list ends first).
 */
uint32_t virtq_iov_copy(const struct virtq_iov *dst, unsigned int ndst, uint32_t doff,
			const struct virtq_iov *src, unsigned int nsrc, uint32_t soff,
			uint32_t len);

/** Printable name of a chain error. */
const char *virtq_err_name(enum virtq_err err);

#ifdef __cplusplus
}
#endif

#endif /* VIRTQ_H */
