#include "tmp_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/store.h"

struct server_store *
tmp_db_store_open(const char *path, int create)
{
	struct store_open_opts o = { .create = create, .durability_full = 1 };
	struct server_store *s = NULL;

	return store_sqlite_open(&s, path, &o) == 0 ? s : NULL;
}

void
tmp_db_make(char dir[TMP_DB_DIR_MAX], char path[TMP_DB_PATH_MAX], const char *prefix)
{
	if (snprintf(dir, TMP_DB_DIR_MAX, "/tmp/%s-XXXXXX", prefix) >= TMP_DB_DIR_MAX ||
	    mkdtemp(dir) == NULL)
		abort();
	snprintf(path, TMP_DB_PATH_MAX, "%s/db", dir);
}

void
tmp_db_remove(const char *dir, const char *path)
{
	char p[TMP_DB_PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	unlink(path);
	rmdir(dir);
}
