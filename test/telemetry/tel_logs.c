/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

/*
 * logs: a guest cannot flood the switch's log. Guest 3 resets its driver in a
 * tight loop (stop, start: four log-worthy events each time, two seen by the
 * vhost thread, two by the worker). The switch logs at level info; the lines
 * about guest 3 must stay within the rate limit (10 per 5 s per source, plus
 * one "suppressed" line per source and period), a later line must say how many
 * were left out, and guest 4's lines and traffic are not affected. A connection
 * the switch refuses is logged once, with its ends and the reason.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tel_common.h"

static const char *test_name = "logs";

#define CYCLES 60
/* VS_RATELIMIT_BURST of lib/switch/vs_ratelimit.h: lines per source and period. */
#define RL_BURST 10
#define PORT 5000

/* Lines of the switch's log that contain @needle. */
static int
count_lines(const struct harness *h, const char *needle)
{
	char path[320], line[1024];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/switch.log", h->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static int
guest_running(void *arg)
{
	return emu_guest_running(arg);
}

/* Stop and start guest 3's driver, like a guest kernel resetting its device. */
static int
reset_cycle(struct emu_guest **gs)
{
	if (emu_guest_stop(gs[0]) != 0)
		return -1;
	/* Let the worker see the stop before the next start (a line each). */
	tel_settle(gs, 2, 5);
	if (emu_guest_start(gs[0]) != 0)
		return -1;
	tel_settle(gs, 2, 5);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t cids[] = { 3, 4 };
	struct emu_guest *gs[2];
	double t0, elapsed;
	struct tel_env e;
	struct harness h;
	int i, n3, n4, sup, bound, ok = 0, c3, c4;
	char buf[64];

	tel_env_init(&e, argc, argv);
	/* The lifecycle lines are at level info. */
	setenv("VS_TEST_LOG_LEVEL", "info", 1);
	tel_start(&h, e.sw, cids, 2, NULL);
	gs[0] = harness_guest(&h, 3, NULL);
	gs[1] = harness_guest(&h, 4, NULL);
	if (tel_check(&e, "wait-running -f %s 3 4", h.prefix) == TEL_SKIP) {
		emu_guest_destroy(gs[0]);
		emu_guest_destroy(gs[1]);
		tel_stop(&h);
		tel_cleanup(&h);
		return TEL_SKIP;
	}
	tel_settle(gs, 2, 100);

	printf("guest 3 resets its driver %d times\n", CYCLES);
	t0 = harness_now_ms();
	for (i = 0; i < CYCLES; i++)
		if (reset_cycle(gs) == 0)
			ok++;
	elapsed = harness_now_ms() - t0;
	CHECK(ok == CYCLES, "%d of %d driver resets done in %.0f ms", ok, CYCLES, elapsed);
	tel_settle(gs, 2, 200);

	/* Per source: 10 lines and one "suppressed" line per period begun. */
	bound = 2 * (RL_BURST + 1) * (1 + (int)(elapsed / 5000.0 + 1));
	n3 = count_lines(&h, "guest 3:");
	CHECK(n3 > 0 && n3 <= bound, "%d log lines about guest 3 (at most %d; %d unlimited)",
	      n3, bound, 4 * CYCLES);
	CHECK(count_lines(&h, "guest 3: driver started") <= bound / 2,
	      "'driver started' is rate limited (%d lines)",
	      count_lines(&h, "guest 3: driver started"));

	printf("a period later, one more reset: the suppressed lines are reported\n");
	usleep(5500 * 1000);
	CHECK(reset_cycle(gs) == 0, "one more reset");
	tel_settle(gs, 2, 200);
	sup = count_lines(&h, "suppressed by the rate limit");
	CHECK(sup >= 1, "%d lines report suppressed lines", sup);

	printf("guest 4 is not affected\n");
	n4 = count_lines(&h, "guest 4: driver started");
	CHECK(n4 == 1, "guest 4's start was logged once (%d)", n4);
	harness_wait(gs, 2, guest_running, gs[0], 5000, "guest 3 runs again");
	tel_pair(gs, 2, gs[1], gs[0], PORT, VSOCK_TYPE_STREAM, &c4, &c3);
	CHECK(emu_send(gs[1], c4, "hello", 5) == 5, "4 sends to 3 after the storm");
	tel_settle(gs, 2, 100);
	CHECK(emu_recv(gs[0], c3, buf, sizeof(buf), NULL) == 5, "3 receives it");

	printf("a refused connection is logged with its reason\n");
	CHECK(emu_connect(gs[1], 99, 1234, VSOCK_TYPE_STREAM) >= 0, "4 connects to CID 99");
	tel_settle(gs, 2, 200);
	n4 = count_lines(&h, "guest 4: connection 4:");
	CHECK(n4 == 1 && count_lines(&h, " -> 99:1234 refused: no such CID") == 1,
	      "one line names the ends and the reason (%d lines about guest 4's connections)",
	      n4);

	emu_guest_destroy(gs[0]);
	emu_guest_destroy(gs[1]);
	tel_stop(&h);
	tel_cleanup(&h);
	return harness_finish(test_name);
}
