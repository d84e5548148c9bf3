// One coordinator per database file: an exclusive lock on the file itself (its inode),
// so hard links, symlinks, "..", relative paths and bind mounts all meet the same lock.
#ifndef ACTGRID_SERVER_STORE_DATABASE_LOCK_H_
#define ACTGRID_SERVER_STORE_DATABASE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace actgrid::store {

// Holds flock(LOCK_EX) on the database file for as long as it lives. flock is kept
// apart from SQLite's own fcntl byte-range locks on Linux's local file systems, so the
// two never interfere (on NFS flock is emulated with fcntl locks: keep databases local).
class DatabaseLock final {
 public:
  // Creates `path` when absent (empty: SQLite reads that as a new database) and locks
  // it. FailedPrecondition when another process (or another lock in this one) holds
  // it, naming the holder from /proc/locks ("pid 123: actgrid-server --db a.db") when
  // it can be seen; Unavailable when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<DatabaseLock>> Acquire(const std::string& path);

  ~DatabaseLock();
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_;
};

// The process that holds a flock on the file open as `fd`, as "pid N: command line",
// or "" when /proc/locks does not show one (another pid namespace, or none).
std::string FlockHolder(int fd);

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_DATABASE_LOCK_H_
