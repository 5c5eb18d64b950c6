/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VHOST_PORT_PVT_H
#define VHOST_PORT_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost_port.h"
#include "vs_ratelimit.h"

struct vs_port;

/* librte_vhost hands out vids below RTE_MAX_VHOST_DEVICE (1024). */
#define VHOST_PORT_MAX_VID 1024

/* vhost-user requests answered here (vhost-user spec numbering). */
#define VHOST_PORT_GET_QUEUE_NUM 17
#define VHOST_PORT_GET_CONFIG 24

/* Protocol features offered: MQ (0), REPLY_ACK (3), CONFIG (9). */
#define VHOST_PORT_PROTOCOL_FEATURES ((1ULL << 0) | (1ULL << 3) | (1ULL << 9))

/* Size of the vsock device config space: le64 guest_cid. */
#define VHOST_PORT_CONFIG_SPACE 8

/* Payload of GET_CONFIG/SET_CONFIG. */
struct vhost_port_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[256];
};

/* A vhost-user message as librte_vhost passes it to a message hook. */
struct vhost_port_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct vhost_port_config config;
	};
} __attribute__((packed));

/* What tells a frontend coming back after a live update from another guest:
 * the memory (each region's guest address, size, file and offset in it) and
 * the rings (guest addresses, sizes, negotiated ring features). */
struct vhost_port_ident {
	uint32_t nregions;
	struct {
		uint64_t gpa;
		uint64_t size;
		uint64_t dev; /* st_dev and st_ino of the region's file (a memfd) */
		uint64_t ino;
		uint64_t offset; /* of the region in its file */
	} regions[8];
	uint64_t ring_gpa[2][3]; /* per queue: desc, avail, used */
	uint16_t ring_size[2];
	bool event_idx;
	bool seqpacket;
};

struct vhost_port {
	struct vhost_port_conf conf;
	struct vs_port *port;
	int vid; /* -1 while no frontend is attached */
	int pending_vid; /* a frontend that connected before the last one's end was seen */
	bool registered;
	struct vs_ratelimit log_rl; /* lines the frontend triggers (vhost thread) */
	/* vhost thread only (librte_vhost's callbacks and message hooks): */
	bool in_msg; /* a message is being handled: a destroy_device now is a stop */
	bool deleting; /* the guest is being removed: no suspension */
	bool suspended; /* we suspended the port; ident is what may resume it */
	struct vhost_port_ident ident; /* of the running device */
};

/* vhost_port_ident.c */
struct rte_vhost_memory;
struct vs_port_rings;
int vhost_port_ident_get(const struct rte_vhost_memory *mem, const struct vs_port_rings *r,
			 struct vhost_port_ident *id);
/* Why @b cannot continue @a, or NULL if it can. */
const char *vhost_port_ident_differs(const struct vhost_port_ident *a,
				     const struct vhost_port_ident *b);

#endif /* VHOST_PORT_PVT_H */
