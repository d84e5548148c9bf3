// DatabaseLock (see database_lock.h): flock on the database file, the holder read
// back from /proc/locks.
#include "server/store/database_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace actgrid::store {
namespace {

// The command line of `pid`, arguments joined by spaces and cut at 200 bytes.
std::string CommandLine(long pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\0') text.pop_back();
  for (char& c : text)
    if (c == '\0') c = ' ';
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

}  // namespace

std::string FlockHolder(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return "";
  // Lines read "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (major:minor in hex);
  // lines of waiters carry "->" after the number and are skipped.
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, device;
    long pid = 0;
    if (!(fields >> number >> kind)) continue;
    if (kind == "->" || kind != "FLOCK") continue;
    if (!(fields >> mode >> access >> pid >> device)) continue;
    unsigned major_dev = 0, minor_dev = 0;
    unsigned long long inode = 0;
    if (std::sscanf(device.c_str(), "%x:%x:%llu", &major_dev, &minor_dev, &inode) != 3) continue;
    if (inode != st.st_ino || major_dev != major(st.st_dev) || minor_dev != minor(st.st_dev)) continue;
    const std::string command = CommandLine(pid);
    return command.empty() ? absl::StrCat("pid ", pid) : absl::StrCat("pid ", pid, ": ", command);
  }
  return "";
}

absl::StatusOr<std::unique_ptr<DatabaseLock>> DatabaseLock::Acquire(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open database ", path, ": ", std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = error == EWOULDBLOCK ? FlockHolder(fd) : "";
    close(fd);
    if (error != EWOULDBLOCK)
      return absl::UnavailableError(absl::StrCat("cannot lock database ", path, ": ", std::strerror(error)));
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", path, " is in use by another coordinator (",
        holder.empty() ? "a process this one cannot see" : holder,
        "), whatever path or link reaches it; submit to that one with --server, or give another --db"));
  }
  return std::unique_ptr<DatabaseLock>(new DatabaseLock(fd));
}

DatabaseLock::~DatabaseLock() { close(fd_); }  // releases the flock

}  // namespace actgrid::store
