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

struct vhost_port {
	struct vhost_port_conf conf;
	struct vs_port *port;
	int vid; /* -1 while no frontend is attached */
	bool registered;
	struct vs_ratelimit log_rl; /* lines the frontend triggers (vhost thread) */
};

#endif /* VHOST_PORT_PVT_H */
