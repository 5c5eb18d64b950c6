/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vsock-switch authors
 */

#ifndef VS_APP_CONFIG_H
#define VS_APP_CONFIG_H

/**
 * @file
 * Configuration file (INI, read with DPDK's rte_cfgfile), equivalent to the
 * command line: it is turned into the same options, so both mean the same.
 *
 *   [switch]                  ; any long option, without the dashes
 *   max-flows = 65536
 *
 *   [guest 3]                 ; one section per guest: "guest", or "guest"
 *                             ; and one of " ._-:" and anything
 *   cid = 3                   ; the keys of --guest
 *   socket = /run/vsock-switch/guest3.sock
 */

/**
 * Read @p file into options.
 *
 * @param argv
 *   Output: NULL-terminated array of options ("--max-flows=65536",
 *   "--guest=cid=3,socket=..."), to be released with vs_config_free().
 * @return
 *   Number of options, or -1 after printing what is wrong (with the file name).
 */
int vs_config_load(const char *file, char ***argv);

/** Release what vs_config_load() returned. */
void vs_config_free(char **argv);

#endif /* VS_APP_CONFIG_H */
