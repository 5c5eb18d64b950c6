/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* NUMA placement: which worker should own a guest, given where its memory is.
 * A pure function, so that it is tested without a machine of several nodes. */

#include "vs_switch.h"

unsigned int
vs_numa_pick_lcore(int mem_node, unsigned int cur, bool pinned, const unsigned int *lcores,
		   const int *nodes, const uint32_t *load, unsigned int n)
{
	unsigned int i, best = n;

	if (pinned || mem_node < 0)
		return cur;
	for (i = 0; i < n; i++) {
		if (lcores[i] == cur && nodes[i] == mem_node)
			return cur; /* already there */
	}
	for (i = 0; i < n; i++) {
		if (nodes[i] != mem_node)
			continue;
		if (best == n || load[i] < load[best])
			best = i;
	}
	return best == n ? cur : lcores[best];
}
