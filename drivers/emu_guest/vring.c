/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Driver side of a split virtqueue (virtio 1.2, 2.7). The device is another
 * process on another core: descriptors and ring entries are written before a
 * release store of avail->idx, and used entries are read after an acquire load
 * of used->idx. Chain bookkeeping lives in private arrays, never read back
 * from the shared descriptor table.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "emu_guest_pvt.h"

#define EMU_RING_ALIGN 4096

static inline uint16_t *
emu_vring_used_event(struct emu_vring *vr)
{
	return &vr->avail->ring[vr->num];
}

static inline uint16_t *
emu_vring_avail_event(struct emu_vring *vr)
{
	return (uint16_t *)&vr->used->ring[vr->num];
}

int
emu_vring_init(struct emu_vring *vr, struct emu_mem *m, uint16_t num)
{
	size_t avail_len = sizeof(struct vring_avail) + sizeof(uint16_t) * (num + 1);
	size_t used_len = sizeof(struct vring_used) + sizeof(struct vring_used_elem) * num +
			sizeof(uint16_t);

	memset(vr, 0, sizeof(*vr));
	vr->kickfd = -1;
	vr->callfd = -1;
	vr->num = num;
	vr->desc = emu_mem_alloc(m, 0, sizeof(struct vring_desc) * num, EMU_RING_ALIGN);
	vr->avail = emu_mem_alloc(m, 0, avail_len, EMU_RING_ALIGN);
	vr->used = emu_mem_alloc(m, 0, used_len, EMU_RING_ALIGN);
	vr->indirect = emu_mem_alloc(m, 0, sizeof(struct vring_desc) * num *
			EMU_VRING_MAX_INDIRECT, EMU_RING_ALIGN);
	if (vr->desc == NULL || vr->avail == NULL || vr->used == NULL || vr->indirect == NULL)
		return -ENOMEM;
	vr->indirect_gpa = emu_mem_gpa(m, vr->indirect);
	vr->next = calloc(num, sizeof(*vr->next));
	vr->chain_len = calloc(num, sizeof(*vr->chain_len));
	vr->inflight = calloc(num, sizeof(*vr->inflight));
	if (vr->next == NULL || vr->chain_len == NULL || vr->inflight == NULL)
		return -ENOMEM;
	vr->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vr->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->kickfd < 0 || vr->callfd < 0)
		return -errno;
	emu_vring_reset(vr, false);
	return 0;
}

void
emu_vring_fini(struct emu_vring *vr)
{
	free(vr->next);
	free(vr->chain_len);
	free(vr->inflight);
	vr->next = NULL;
	vr->chain_len = NULL;
	vr->inflight = NULL;
	if (vr->kickfd >= 0)
		close(vr->kickfd);
	if (vr->callfd >= 0)
		close(vr->callfd);
	vr->kickfd = -1;
	vr->callfd = -1;
}

/* Back to the state after device reset: all descriptors free, indices 0. */
void
emu_vring_reset(struct emu_vring *vr, bool event_idx)
{
	uint16_t i;

	memset(vr->desc, 0, sizeof(struct vring_desc) * vr->num);
	memset(vr->avail, 0, sizeof(struct vring_avail) + sizeof(uint16_t) * (vr->num + 1));
	memset(vr->used, 0, sizeof(struct vring_used) +
			sizeof(struct vring_used_elem) * vr->num + sizeof(uint16_t));
	vr->event_idx = event_idx;
	vr->avail_idx = 0;
	vr->kicked_idx = 0;
	vr->last_used = 0;
	for (i = 0; i < vr->num; i++) {
		vr->next[i] = i + 1;
		vr->chain_len[i] = 0;
		vr->inflight[i] = 0;
	}
	vr->free_head = 0;
	vr->num_free = vr->num;
}

/*
 * Take @n linked descriptors. desc[].next is set; the caller fills addr, len
 * and flags (including VRING_DESC_F_NEXT on all but the last).
 */
int
emu_vring_get_chain(struct emu_vring *vr, uint16_t n, uint16_t *head)
{
	uint16_t d, i;

	if (n == 0 || vr->num_free < n)
		return -ENOSPC;
	*head = d = vr->free_head;
	for (i = 0; i < n; i++) {
		vr->desc[d].next = vr->next[d];
		if (i + 1 < n)
			d = vr->next[d];
	}
	vr->free_head = vr->next[d];
	vr->num_free -= n;
	vr->chain_len[*head] = n;
	return 0;
}

void
emu_vring_put_chain(struct emu_vring *vr, uint16_t head)
{
	uint16_t n = vr->chain_len[head];
	uint16_t d = head, i;

	for (i = 1; i < n; i++)
		d = vr->next[d];
	vr->next[d] = vr->free_head;
	vr->free_head = head;
	vr->num_free += n;
	vr->chain_len[head] = 0;
}

/* Put @head on the avail ring; the device sees it after emu_vring_publish(). */
void
emu_vring_make_avail(struct emu_vring *vr, uint16_t head)
{
	vr->avail->ring[vr->avail_idx & (vr->num - 1)] = head;
	vr->inflight[head] = 1;
	vr->avail_idx++;
}

void
emu_vring_publish(struct emu_vring *vr)
{
	__atomic_store_n(&vr->avail->idx, vr->avail_idx, __ATOMIC_RELEASE);
}

/*
 * Notify the device of new avail entries if it asked for it (avail_event with
 * EVENT_IDX, else the NO_NOTIFY flag). Returns true if the kick fd was written.
 */
bool
emu_vring_kick(struct emu_vring *vr)
{
	uint16_t old = vr->kicked_idx, new = vr->avail_idx;
	uint64_t one = 1;
	bool need;

	if (old == new)
		return false;
	vr->kicked_idx = new;
	/* the idx store must be visible before we read the device's suppression */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vr->event_idx)
		need = vring_need_event(__atomic_load_n(emu_vring_avail_event(vr),
				__ATOMIC_RELAXED), new, old);
	else
		need = !(__atomic_load_n(&vr->used->flags, __ATOMIC_RELAXED) &
				VRING_USED_F_NO_NOTIFY);
	if (need && write(vr->kickfd, &one, sizeof(one)) != sizeof(one))
		need = false;
	return need;
}

/*
 * Next used entry: 1 and *head, *len; 0 if none; -EPROTO if the device gave
 * back a head that was not on the avail ring.
 */
int
emu_vring_used(struct emu_vring *vr, uint16_t *head, uint32_t *len)
{
	uint16_t used_idx = __atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem *e;
	uint32_t id;

	if (used_idx == vr->last_used)
		return 0;
	e = &vr->used->ring[vr->last_used & (vr->num - 1)];
	id = e->id;
	*len = e->len;
	vr->last_used++;
	if (id >= vr->num || !vr->inflight[id])
		return -EPROTO;
	vr->inflight[id] = 0;
	*head = id;
	return 1;
}

/* After a batch of emu_vring_used(): tell an EVENT_IDX device where we are. */
void
emu_vring_used_done(struct emu_vring *vr)
{
	if (vr->event_idx)
		__atomic_store_n(emu_vring_used_event(vr), vr->last_used, __ATOMIC_RELEASE);
}

/* Consume pending call fd signals; returns how many the device sent. */
uint64_t
emu_vring_drain_call(struct emu_vring *vr)
{
	uint64_t v;

	if (vr->callfd < 0 || read(vr->callfd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}
