/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* The identity of a guest's memory and rings, to tell a frontend that comes back
 * after a live update (same memory, same rings: its connections continue) from
 * anything else (reconnect-grace). */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_common.h>
#include <rte_vhost.h>

#include "vhost_port_pvt.h"
#include "vs_switch.h"

/* Guest physical address of host address @hva in @mem, or UINT64_MAX. */
static uint64_t
hva_to_gpa(const struct rte_vhost_memory *mem, const void *hva)
{
	uint64_t a = (uint64_t)(uintptr_t)hva;
	uint32_t i;

	for (i = 0; i < mem->nregions; i++) {
		const struct rte_vhost_mem_region *r = &mem->regions[i];

		if (a >= r->host_user_addr && a - r->host_user_addr < r->size)
			return r->guest_phys_addr + (a - r->host_user_addr);
	}
	return UINT64_MAX;
}

int
vhost_port_ident_get(const struct rte_vhost_memory *mem, const struct vs_port_rings *r,
		     struct vhost_port_ident *id)
{
	uint32_t i, q;

	memset(id, 0, sizeof(*id));
	if (mem->nregions > RTE_DIM(id->regions))
		return -E2BIG;
	id->nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		const struct rte_vhost_mem_region *reg = &mem->regions[i];
		struct stat st;

		if (reg->fd < 0 || fstat(reg->fd, &st) != 0)
			return -EBADF;
		id->regions[i].gpa = reg->guest_phys_addr;
		id->regions[i].size = reg->size;
		id->regions[i].dev = st.st_dev;
		id->regions[i].ino = st.st_ino;
		id->regions[i].offset = reg->host_user_addr - (uint64_t)(uintptr_t)reg->mmap_addr;
	}
	for (q = 0; q < VSOCK_NUM_VQ; q++) {
		id->ring_gpa[q][0] = hva_to_gpa(mem, r->desc[q]);
		id->ring_gpa[q][1] = hva_to_gpa(mem, r->avail[q]);
		id->ring_gpa[q][2] = hva_to_gpa(mem, r->used[q]);
		id->ring_size[q] = r->size[q];
	}
	id->event_idx = r->event_idx;
	id->seqpacket = r->seqpacket;
	return 0;
}

const char *
vhost_port_ident_differs(const struct vhost_port_ident *a, const struct vhost_port_ident *b)
{
	uint32_t i;

	if (a->nregions != b->nregions)
		return "another number of memory regions";
	for (i = 0; i < a->nregions; i++) {
		if (a->regions[i].gpa != b->regions[i].gpa ||
		    a->regions[i].size != b->regions[i].size)
			return "memory regions at other guest addresses or of other sizes";
		if (a->regions[i].dev != b->regions[i].dev ||
		    a->regions[i].ino != b->regions[i].ino ||
		    a->regions[i].offset != b->regions[i].offset)
			return "other guest memory (another file or offset)";
	}
	if (memcmp(a->ring_gpa, b->ring_gpa, sizeof(a->ring_gpa)) != 0 ||
	    memcmp(a->ring_size, b->ring_size, sizeof(a->ring_size)) != 0)
		return "other rings";
	if (a->event_idx != b->event_idx || a->seqpacket != b->seqpacket)
		return "other features";
	return NULL;
}
