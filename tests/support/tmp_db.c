#include "tmp_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void
tmp_db_new(struct tmp_db *t, const char *tag)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/sotto-%s-XXXXXX", tag);
	if (mkdtemp(t->dir) == NULL)
		abort();
	snprintf(t->path, sizeof(t->path), "%s/db", t->dir);
}

void
tmp_db_remove(struct tmp_db *t)
{
	char p[192];

	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	unlink(t->path);
	rmdir(t->dir);
}
