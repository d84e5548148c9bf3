// Child processes for the end-to-end tests: the actgrid binaries started with their
// output in files, waited for with a timeout, signalled; free ports; the database's
// integrity check.
#ifndef ACTGRID_TESTS_E2E_PROCESS_UTIL_H_
#define ACTGRID_TESTS_E2E_PROCESS_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/free_port.h"

namespace actgrid::e2e {

inline const std::string kBin = ACTGRID_BINARY_DIR;

using actgrid::testing::FreePort;  // a TCP port nobody listens on right now

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with stdout and stderr in files.
struct Process {
  pid_t pid = -1;
  std::string out, err;

  static Process Start(const std::vector<std::string>& argv, const std::string& name) {
    // Named per test process and call: tests run in parallel processes (ctest -j) share
    // the temporary directory, and must never read each other's output.
    static std::atomic<int> calls{0};
    const std::string base =
        ::testing::TempDir() + "/" + name + "." + std::to_string(getpid()) + "." + std::to_string(calls++);
    Process p;
    p.out = base + ".out";
    p.err = base + ".err";
    std::fflush(nullptr);  // or the child's freopen writes our buffered output again
    p.pid = fork();
    if (p.pid == 0) {
      freopen(p.out.c_str(), "w", stdout);
      freopen(p.err.c_str(), "w", stderr);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return p;
  }

  // Waits up to `timeout` for the exit code; kills the process and returns -1 after.
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill(SIGKILL);
    return -1;
  }

  void Kill(int signal) {
    if (pid <= 0) return;
    kill(pid, signal);
    if (signal == SIGKILL) {
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

  Process() = default;
  Process(const Process&) = delete;
  Process(Process&& other) noexcept : pid(other.pid), out(std::move(other.out)), err(std::move(other.err)) {
    other.pid = -1;  // the moved-from handle must not kill the child
  }
  ~Process() { Kill(SIGKILL); }
};

// Runs the actgrid command to completion.
inline int Actgrid(const std::vector<std::string>& args, const std::string& name, std::string* out, std::string* err) {
  std::vector<std::string> argv = {kBin + "/client/cli/actgrid"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p = Process::Start(argv, name);
  const int code = p.Wait();
  *out = Slurp(p.out);
  *err = Slurp(p.err);
  std::remove(p.out.c_str());
  std::remove(p.err.c_str());
  return code;
}

// Polls `actgrid workers` until `worker` holds a lease (about 15 s at most).
inline bool WaitUntilHolding(const std::string& address, const std::string& worker) {
  std::string out, err;
  for (int i = 0; i < 300; ++i) {
    Actgrid({"workers", "--server", address}, "workers", &out, &err);
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string id, host;
      int slots = 0, leased = 0;
      if (fields >> id >> host >> slots >> leased && id == worker && leased > 0) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Runs the actgrid command until it succeeds, up to 50 times 200 ms apart (a
// coordinator that is starting or restarting); returns the last exit code.
inline int ActgridWithRetry(const std::vector<std::string>& args, const std::string& name, std::string* out,
                            std::string* err) {
  int code = -1;
  for (int i = 0; i < 50 && code != 0; ++i) {
    code = Actgrid(args, name, out, err);
    if (code != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return code;
}

// PRAGMA integrity_check of a database file: "ok" when it is sound.
inline std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
      result.clear();
      while (sqlite3_step(stmt) == SQLITE_ROW)
        result += (result.empty() ? "" : "\n") + std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

// Removes a database file and its WAL, shared memory and lock files.
inline void RemoveDatabase(const std::string& path) {
  for (const char* s : {"", "-wal", "-shm", ".lock"}) std::remove((path + s).c_str());
}

}  // namespace actgrid::e2e

#endif  // ACTGRID_TESTS_E2E_PROCESS_UTIL_H_
