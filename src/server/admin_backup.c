/*
 * `sottod backup`: the database through the store's online backup (one read transaction:
 * whatever was committed when it began, nothing half-written), then the files a data
 * directory needs beside it, each synced, then the directory.
 */
#include "server/admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKUP_PATH_MAX 4096

/* The files of a data directory besides the database; the first is required. */
static const char *const backup_files[] = { "server.key", "ticket.key", "sottod.conf" };

static int
path_join(char out[BACKUP_PATH_MAX], const char *dir, const char *name)
{
	return (size_t)snprintf(out, BACKUP_PATH_MAX, "%s/%s", dir, name) < BACKUP_PATH_MAX ?
	    0 : -1;
}

/* 1 if dir is missing (it is made, 0700) or an empty directory; 0 with the reason said. */
static int
dest_ready(const char *dest)
{
	struct dirent *e;
	DIR *d;
	int empty = 1;

	if (mkdir(dest, 0700) == 0)
		return 1;
	if (errno != EEXIST || (d = opendir(dest)) == NULL) {
		fprintf(stderr, "sottod: %s: %s\n", dest, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty)
		fprintf(stderr, "sottod: %s is not empty: back up into a new directory\n", dest);
	return empty;
}

static int
fsync_path(const char *path, int flags)
{
	int fd, r;

	if ((fd = open(path, flags | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Copies src to a new file dst (0600) and syncs it: 0, 1 if src does not exist, -1. */
static int
copy_file(const char *src, const char *dst)
{
	char buf[8192];
	ssize_t n;
	int in, out, r = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	if (n == 0 && fsync(out) == 0)
		r = 0;
out:
	sodium_memzero(buf, sizeof(buf));       /* the keys passed through it */
	close(in);
	if (close(out) != 0)
		r = -1;
	return r;
}

int
admin_backup(const char *dir, const char *dest, struct server_store *st)
{
	char src[BACKUP_PATH_MAX], dst[BACKUP_PATH_MAX], when[32], copied[64] = "";
	time_t started = time(NULL);
	struct tm tm;
	struct stat sb;
	int r = EXIT_DATA, made = 0;

	/* The copy holds what the data directory holds: for the server's user only. */
	umask(077);
	if (!dest_ready(dest))
		return EXIT_USAGE;
	made = 1;
	if (path_join(dst, dest, "sottod.db") != 0) {
		fprintf(stderr, "sottod: %s: path too long\n", dest);
		goto out;
	}
	if ((r = st->ops->backup(st, dst)) != 0) {
		fprintf(stderr, "sottod: cannot back up the database: %s\n", sotto_strerror(r));
		r = EXIT_DATA;
		goto out;
	}
	r = EXIT_DATA;
	for (size_t i = 0; i < sizeof(backup_files) / sizeof(backup_files[0]); i++) {
		int c;

		if (path_join(src, dir, backup_files[i]) != 0 ||
		    path_join(dst, dest, backup_files[i]) != 0 ||
		    (c = copy_file(src, dst)) < 0 || (c == 1 && i == 0)) {
			fprintf(stderr, "sottod: cannot copy %s to %s\n", src, dest);
			goto out;
		}
		if (c == 0)
			snprintf(copied + strlen(copied), sizeof(copied) - strlen(copied), ", %s",
			    backup_files[i]);
	}
	if (fsync_path(dest, O_RDONLY | O_DIRECTORY) != 0) {
		fprintf(stderr, "sottod: %s: %s\n", dest, strerror(errno));
		goto out;
	}
	if (path_join(dst, dest, "sottod.db") != 0 || stat(dst, &sb) != 0)
		goto out;
	gmtime_r(&started, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(stderr, "sottod: backed up %s into %s: sottod.db as committed at %s "
	    "(%lld bytes)%s. Restore: stop the server and `sottod run --data %s`, or copy "
	    "these files into its data directory.\n", dir, dest, when, (long long)sb.st_size,
	    copied, dest);
	r = EXIT_OK;
	made = 0;
out:
	if (made) {
		/* Nothing half-made is left to be mistaken for a backup. */
		if (path_join(dst, dest, "sottod.db") == 0)
			(void)unlink(dst);
		for (size_t i = 0; i < sizeof(backup_files) / sizeof(backup_files[0]); i++)
			if (path_join(dst, dest, backup_files[i]) == 0)
				(void)unlink(dst);
		(void)rmdir(dest);
	}
	return r;
}
