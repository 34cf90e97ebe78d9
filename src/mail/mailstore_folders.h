/*
 * The folders every mail store backend serves: INBOX, Sent, Drafts and Trash, in that
 * order, with their special-use roles. A backend keeps its per-folder state in an array
 * indexed like this table.
 */
#ifndef SOTTO_MAIL_MAILSTORE_FOLDERS_H
#define SOTTO_MAIL_MAILSTORE_FOLDERS_H

#include <stddef.h>

#include "sotto/mailstore.h"

#define MAILSTORE_DEFAULT_FOLDERS 4

extern const struct mailstore_folder mailstore_default_folders[MAILSTORE_DEFAULT_FOLDERS];

/* The index of the folder called name (exact match; NULL allowed), or -1. */
int mailstore_folder_index(const char *name);
/* The folders operation of a backend that serves the default folders. */
int mailstore_folders_default(void *impl, struct mailstore_folder *out, size_t max,
    size_t *n);

#endif
