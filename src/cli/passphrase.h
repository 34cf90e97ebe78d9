/*
 * Getting the store's passphrase: from --passphrase-file FILE (its first line), from the
 * SOTTO_PASSPHRASE environment variable, or asked at the terminal (/dev/tty) with echo
 * off. The passphrase lives in sodium_malloc memory and is wiped by passphrase_free.
 */
#ifndef SOTTO_CLI_PASSPHRASE_H
#define SOTTO_CLI_PASSPHRASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sotto/error.h"
#include "sotto/limits.h"

#define PASSPHRASE_MAX SOTTO_PASSPHRASE_MAX
#define PASSPHRASE_ENV "SOTTO_PASSPHRASE"

struct passphrase {
	uint8_t *p;     /* secret; sodium_malloc'd, NUL-terminated for convenience */
	size_t len;
};

enum passphrase_warning {
	PASSPHRASE_WARN_FILE_READABLE = 1u << 0,   /* group or others may read the file */
};

/* The first line of path (without its line ending). Sets PASSPHRASE_WARN_FILE_READABLE
 * in *warn when a regular file is readable by group or others. SOTTO_ERR_INVALID_ARG for
 * an empty first line, SOTTO_ERR_TOO_LARGE over PASSPHRASE_MAX. */
int passphrase_from_file(const char *path, struct passphrase *out,
    unsigned *warn) SOTTO_MUST_CHECK;

/* $SOTTO_PASSPHRASE; the variable's value is then wiped in place and unset, so neither
 * this process's memory nor its children see it. SOTTO_ERR_NOT_FOUND if unset. */
int passphrase_from_env(struct passphrase *out) SOTTO_MUST_CHECK;

/* Asks on /dev/tty with echo off (restored afterwards, also on SIGINT/SIGTERM/SIGHUP).
 * With confirm, asks twice: SOTTO_ERR_PASSPHRASE if the two differ. SOTTO_ERR_IO if
 * there is no terminal. */
int passphrase_from_tty(const char *prompt, int confirm,
    struct passphrase *out) SOTTO_MUST_CHECK;

/* The CLI's order: file if given, else the environment, else the terminal. Warnings are
 * returned in *warn and, if warn_to is not NULL, printed there. */
int passphrase_get(const char *file, const char *prompt, int confirm, FILE *warn_to,
    struct passphrase *out, unsigned *warn) SOTTO_MUST_CHECK;

/* Wipes and frees; safe on a zeroed struct. */
void passphrase_free(struct passphrase *pp);

#endif
