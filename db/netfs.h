/*
 * netfs.h - whether a database would live on a network or cluster filesystem, where
 * SQLite's write-ahead log (which needs shared memory between the processes on one
 * machine, and POSIX locks a network filesystem may not honour) must not be: a tuning
 * run refuses such a path, and each shard of a cluster run writes its own database on a
 * node's local disk, merged afterwards (docs/cluster.md).
 */
#ifndef AT_DB_NETFS_H
#define AT_DB_NETFS_H

#include <stddef.h>

/* The name of the network or cluster filesystem whose statfs f_type is `magic` ("nfs",
 * "lustre", "gpfs", "cifs", ...); NULL for any other (a local one). */
const char *db_netfs_name(unsigned long magic);

/* Whether `path` (a file, or where it will be created: its folder when it does not
 * exist) is on a network filesystem. OUT: name[len] (its name, or "" when local or not
 * known). Returns 1 (network), 0 (local, or statfs failed: nothing to say). */
int db_netfs_check(const char *path, char *name, size_t len);

#endif
