/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * Guest memory: one memfd shared with the backend, mapped in one or two
 * regions. Region 1 (if any) sits at a GPA gap of 1 GiB after region 0 and at
 * a different mmap offset of the same memfd, so a backend mixing up GPA,
 * frontend addresses and mmap offsets reads the wrong bytes. Each mapping is
 * followed by an inaccessible guard.
 */

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu_guest_pvt.h"

#define EMU_MEM_GUARD (2u << 20)
#define EMU_MEM_GPA_GAP (1ull << 30)

static size_t
emu_mem_span(const struct emu_mem *m)
{
	size_t span = 0;
	int i;

	for (i = 0; i < m->nregions; i++)
		span += m->r[i].size + EMU_MEM_GUARD;
	return span;
}

int
emu_mem_init(struct emu_mem *m, size_t size, int nregions)
{
	uint8_t *base, *area;
	uint64_t off = 0;
	size_t half;
	int i;

	if (nregions < 1 || nregions > 2 || size == 0 || size % (EMU_MEM_GUARD * nregions))
		return -EINVAL;
	m->nregions = nregions;
	half = size / nregions;
	m->fd = memfd_create("emu_guest", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, size) < 0)
		goto fail;
	for (i = 0; i < nregions; i++) {
		m->r[i].size = half;
		m->r[i].offset = off;
		m->r[i].gpa = EMU_GPA_BASE + off + i * EMU_MEM_GPA_GAP;
		m->r[i].brk = 0;
		off += half;
	}
	base = mmap(NULL, emu_mem_span(m), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	area = base;
	for (i = 0; i < nregions; i++) {
		void *p = mmap(area, m->r[i].size, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_FIXED, m->fd, m->r[i].offset);

		if (p == MAP_FAILED) {
			int err = errno;

			munmap(base, emu_mem_span(m));
			errno = err;
			goto fail;
		}
		m->r[i].hva = p;
		area += m->r[i].size + EMU_MEM_GUARD;
	}
	return 0;
fail:
	i = -errno;
	close(m->fd);
	m->fd = -1;
	return i;
}

void
emu_mem_fini(struct emu_mem *m)
{
	if (m->fd < 0)
		return;
	munmap(m->r[0].hva, emu_mem_span(m));
	close(m->fd);
	m->fd = -1;
}

void *
emu_mem_alloc(struct emu_mem *m, int region, size_t size, size_t align)
{
	struct emu_mem_region *r = &m->r[region < m->nregions ? region : m->nregions - 1];
	uint64_t start = (r->brk + align - 1) & ~(uint64_t)(align - 1);

	if (start + size > r->size)
		return NULL;
	r->brk = start + size;
	return r->hva + start;
}

uint64_t
emu_mem_gpa(const struct emu_mem *m, const void *p)
{
	const uint8_t *b = p;
	int i;

	for (i = 0; i < m->nregions; i++)
		if (b >= m->r[i].hva && b < m->r[i].hva + m->r[i].size)
			return m->r[i].gpa + (uint64_t)(b - m->r[i].hva);
	return 0;
}
