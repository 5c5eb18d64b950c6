/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/* vs_numa_pick_lcore(): which worker owns a guest, given its memory's node. */

#include "vs_switch.h"
#include "unit.h"

/* Two nodes: lcores 1, 2 on node 0; 3, 4 on node 1. */
static const unsigned int lcores[] = { 1, 2, 3, 4 };
static const int nodes[] = { 0, 0, 1, 1 };

static unsigned int
pick(int mem_node, unsigned int cur, bool pinned, const uint32_t *load)
{
	return vs_numa_pick_lcore(mem_node, cur, pinned, lcores, nodes, load, RTE_DIM(lcores));
}

int
main(int argc __rte_unused, char **argv)
{
	static const uint32_t even[] = { 0, 0, 0, 0 };
	static const uint32_t busy3[] = { 0, 0, 5, 1 };
	static const uint32_t busy4[] = { 0, 0, 1, 5 };
	static const int one_node[] = { 0, 0, 0, 0 };

	unit_start(argv[0]);

	unit_group("stays where it is");
	UNIT_CHECK_EQ(pick(0, 1, false, even), 1u); /* already on the node */
	UNIT_CHECK_EQ(pick(1, 3, false, busy3), 3u); /* on the node, even if busier */
	UNIT_CHECK_EQ(pick(-1, 1, false, even), 1u); /* node unknown */
	UNIT_CHECK_EQ(pick(1, 1, true, even), 1u); /* pinned with lcore= */
	UNIT_CHECK_EQ(pick(2, 1, false, even), 1u); /* no worker on that node */
	UNIT_CHECK_EQ(vs_numa_pick_lcore(1, 2, false, lcores, one_node, even, 4), 2u);
	UNIT_CHECK_EQ(vs_numa_pick_lcore(0, 7, false, lcores, nodes, even, 0), 7u); /* none */

	unit_group("moves to the node of its memory");
	UNIT_CHECK_EQ(pick(1, 1, false, even), 3u); /* first of equals */
	UNIT_CHECK_EQ(pick(1, 2, false, busy3), 4u); /* least loaded there */
	UNIT_CHECK_EQ(pick(1, 1, false, busy4), 3u);
	UNIT_CHECK_EQ(pick(0, 4, false, busy3), 1u);

	unit_group("a lcore unknown to the list");
	UNIT_CHECK_EQ(pick(0, 9, false, even), 1u);
	return unit_done();
}
