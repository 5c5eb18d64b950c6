/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>

#include "config.h"

#define VS_CONFIG_MAX_ENTRIES 64

static int
push(char ***argv, int *n, int *cap, char *opt)
{
	if (opt == NULL)
		return -1;
	if (*n + 2 > *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		char **na = realloc(*argv, (size_t)ncap * sizeof(char *));

		if (na == NULL) {
			free(opt);
			return -1;
		}
		*argv = na;
		*cap = ncap;
	}
	(*argv)[(*n)++] = opt;
	(*argv)[*n] = NULL;
	return 0;
}

static char *
format(const char *fmt, const char *a, const char *b)
{
	size_t len = strlen(fmt) + strlen(a) + strlen(b) + 1;
	char *s = malloc(len);

	if (s != NULL)
		snprintf(s, len, fmt, a, b);
	return s;
}

/* One guest section: "--guest=k=v,k=v,...". */
static char *
guest_option(struct rte_cfgfile *cfg, const char *sec, const char *file)
{
	struct rte_cfgfile_entry entries[VS_CONFIG_MAX_ENTRIES];
	int i, n = rte_cfgfile_section_entries(cfg, sec, entries, VS_CONFIG_MAX_ENTRIES);
	size_t len = sizeof("--guest=");
	char *s;

	if (n <= 0) {
		fprintf(stderr, "error: %s: section [%s] is empty\n", file, sec);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strchr(entries[i].value, ',') != NULL) {
			fprintf(stderr, "error: %s: [%s] %s: a value may not contain ','\n",
				file, sec, entries[i].name);
			return NULL;
		}
		len += strlen(entries[i].name) + strlen(entries[i].value) + 2;
	}
	s = malloc(len);
	if (s == NULL)
		return NULL;
	strcpy(s, "--guest=");
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, entries[i].name);
		strcat(s, "=");
		strcat(s, entries[i].value);
	}
	return s;
}

/*
 * rte_cfgfile skips a line without '=' silently: a guest's "client" written as
 * on the command line would quietly leave the guest in server mode. Refuse
 * such lines (comments start with ';', as for rte_cfgfile, or '#').
 */
static int
check_lines(const char *file)
{
	char line[1024];
	int lineno = 0, ret = 0;
	FILE *f = fopen(file, "r");

	if (f == NULL)
		return 0; /* rte_cfgfile_load() reports it */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *c = strchr(line, ';');
		size_t len;

		lineno++;
		if (c != NULL)
			*c = '\0';
		while (isspace((unsigned char)*p))
			p++;
		len = strlen(p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			p[--len] = '\0';
		if (len == 0 || *p == '#' || *p == '[' || strchr(p, '=') != NULL)
			continue;
		fprintf(stderr, "error: %s:%d: '%s' has no value (write '%s = yes' for a flag)\n",
			file, lineno, p, p);
		ret = -1;
	}
	fclose(f);
	return ret;
}

int
vs_config_load(const char *file, char ***argv)
{
	struct rte_cfgfile *cfg = rte_cfgfile_load(file, 0);
	char **sections = NULL;
	int i, n = 0, cap = 0, nsec;

	*argv = NULL;
	if (cfg != NULL && check_lines(file) != 0) {
		rte_cfgfile_close(cfg);
		return -1;
	}
	if (cfg == NULL) {
		fprintf(stderr, "error: cannot read configuration file %s (missing, unreadable "
			"or not INI)\n", file);
		return -1;
	}
	nsec = rte_cfgfile_num_sections(cfg, NULL, 0);
	if (nsec > 0) {
		sections = calloc((size_t)nsec, sizeof(char *));
		for (i = 0; sections != NULL && i < nsec; i++)
			sections[i] = malloc(CFG_NAME_LEN);
		if (sections == NULL || rte_cfgfile_sections(cfg, sections, nsec) != nsec)
			goto fail;
	}
	for (i = 0; i < nsec; i++) {
		const char *sec = sections[i];

		if (strcmp(sec, "switch") == 0) {
			struct rte_cfgfile_entry e[VS_CONFIG_MAX_ENTRIES];
			int j, ne = rte_cfgfile_section_entries(cfg, sec, e, VS_CONFIG_MAX_ENTRIES);

			for (j = 0; j < ne; j++)
				if (push(argv, &n, &cap, format("--%s=%s", e[j].name, e[j].value)) != 0)
					goto fail;
		} else if (strncmp(sec, "guest", 5) == 0 &&
			   (sec[5] == '\0' || strchr(" ._-:", sec[5]) != NULL)) {
			char *opt = guest_option(cfg, sec, file);

			if (opt == NULL || push(argv, &n, &cap, opt) != 0)
				goto fail;
		} else {
			fprintf(stderr, "error: %s: unknown section [%s]; expected [switch] or "
				"[guest ...]\n", file, sec);
			goto fail;
		}
	}
	/* An empty file is a valid, empty configuration. */
	if (*argv == NULL)
		*argv = calloc(1, sizeof(char *));
	if (*argv == NULL)
		goto fail;
	for (i = 0; sections != NULL && i < nsec; i++)
		free(sections[i]);
	free(sections);
	rte_cfgfile_close(cfg);
	return n;
fail:
	for (i = 0; sections != NULL && i < nsec; i++)
		free(sections[i]);
	free(sections);
	vs_config_free(*argv);
	*argv = NULL;
	rte_cfgfile_close(cfg);
	return -1;
}

void
vs_config_free(char **argv)
{
	int i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
