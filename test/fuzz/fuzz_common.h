/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

/*
 * Shared by the libFuzzer harnesses: a reader that turns the fuzzer's bytes into
 * numbers (zeros once they run out, so every input is a valid program), and the
 * check macro that turns a broken invariant into a crash libFuzzer records.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void
fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
}

static inline int
fz_more(const struct fz *f)
{
	return f->n > 0;
}

static inline uint64_t
fz_get(struct fz *f, unsigned int bytes)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < bytes && f->n > 0; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

#define fz_u8(f) ((uint8_t)fz_get((f), 1))
#define fz_u16(f) ((uint16_t)fz_get((f), 2))
#define fz_u32(f) ((uint32_t)fz_get((f), 4))
#define fz_u64(f) fz_get((f), 8)

/* Copy up to @len bytes of input into @dst, zero the rest. */
static inline void
fz_bytes(struct fz *f, void *dst, size_t len)
{
	size_t k = len < f->n ? len : f->n;

	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	f->p += k;
	f->n -= k;
}

/* An invariant of the code under test broke: abort, so libFuzzer keeps the input. */
#define FZ_ASSERT(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FUZZ INVARIANT %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

#endif /* FUZZ_COMMON_H */
