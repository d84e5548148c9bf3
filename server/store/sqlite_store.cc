// SqliteStore's machinery: opening and migrating, the group-commit writer thread and
// the reader pool. The operations themselves are in store_writes.cc and store_reads.cc.
#include "server/store/sqlite_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <future>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/store/schema.h"

namespace actgrid::store {
namespace {

// Idle reader connections kept for reuse; more may be open while reads run.
constexpr size_t kMaxIdleReaders = 8;

// Most writes one transaction takes (RunBatch).
constexpr size_t kMaxBatchWrites = 256;

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT op";
constexpr const char* kRelease = "RELEASE op";
constexpr const char* kRollbackTo = "ROLLBACK TO op";

// Pragmas of the writer's connection:
//  - WAL lets readers run while the writer commits; synchronous=NORMAL survives a
//    process crash (a power loss may lose the last commits, never corrupt the file).
//  - Every write runs in a savepoint, whose undo copies of pages go to a temporary
//    file by default in Debian's build; temp_store=MEMORY keeps them in memory.
//  - Checkpoints run on a thread of their own (CheckpointLoop), not inside the
//    writer's commits: a checkpoint syncs the disk, and the writer would wait for it.
//    One starts every ~40 MB of WAL (not 4 MB), so a page rewritten by many commits
//    is copied once instead of many times; the WAL is trimmed back to 64 MB after.
//  - The writer's page cache is kept to 8 MB: SQLite walks the whole cache's hash
//    table when a transaction ends, and most of what the writer touches is appended
//    once (readers keep their own, larger caches).
//  - Debian builds SQLite with SECURE_DELETE, which zeroes every deleted epoch row;
//    the store holds no secrets.
constexpr const char* kFilePragmas =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
    "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0; "
    "PRAGMA journal_size_limit = 67108864; PRAGMA secure_delete = OFF; "
    "PRAGMA cache_size = -8192;";
// Past StoreOptions::checkpoint_pages times this, the writer checkpoints itself (the
// checkpoint thread cannot keep up, or a long read pins the WAL).
constexpr int kWriterCheckpointFactor = 16;
// Pragmas of the readers of a file (see OpenReader).
constexpr const char* kReaderPragmas = "PRAGMA mmap_size = 17179869184; PRAGMA cache_size = -65536;";
// memdb has no WAL (no shared memory); its locks are plain reader/writer locks.
constexpr const char* kMemoryPragmas =
    "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = OFF;";

absl::Status RunSql(sql::Conn& conn, const char* sql) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(sql));
  return stmt.Run();
}

// Runs one write inside its own savepoint: on error everything it did is rolled back
// and the batch's other writes are unaffected.
absl::Status RunInSavepoint(sql::Conn& conn, const std::function<absl::Status(sql::Conn&)>& fn) {
  ACTGRID_STORE_RETURN_IF_ERROR(RunSql(conn, kSavepoint));
  absl::Status status;
  try {
    status = fn(conn);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("store write threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("store write threw");
  }
  if (!conn.InTransaction()) return status;  // SQLite rolled back everything; caller sees it
  if (!status.ok()) {
    if (absl::Status undo = RunSql(conn, kRollbackTo); !undo.ok()) {
      RunSql(conn, kRollback).IgnoreError();  // cannot isolate this write: abandon the batch
      return status;
    }
  }
  if (absl::Status release = RunSql(conn, kRelease); !release.ok()) {
    RunSql(conn, kRollback).IgnoreError();
    return status.ok() ? release : status;
  }
  return status;
}

std::atomic<uint64_t> memory_databases{0};

}  // namespace

struct SqliteStore::PendingWrite {
  WriteFn fn;
  std::promise<absl::Status> done;
};

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  return SqliteStore::Open(options);
}

absl::StatusOr<std::unique_ptr<Store>> SqliteStore::Open(const StoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("store path is empty");
  const bool memory = options.path == ":memory:";
  if (options.read_only && !memory && access(options.path.c_str(), F_OK) != 0)
    return absl::NotFoundError(absl::StrCat("no database file ", options.path));
  std::string filename = options.path;
  if (memory) {
    // SQLite's memdb VFS: a name starting with "/" is one database shared by every
    // connection of this process that opens it, alive while one of them is open.
    // Not "mode=memory&cache=shared": a shared cache locks per table and answers
    // SQLITE_LOCKED at once, ignoring the busy timeout, so a read during the writer's
    // transaction would fail instead of waiting.
    filename = absl::StrCat("file:/actgrid-mem-", getpid(), "-", memory_databases++, "?vfs=memdb");
  } else if (absl::StartsWith(filename, "file:")) {
    filename = "./" + filename;  // Debian's SQLite reads "file:..." as a URI even without the flag
  }
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(std::move(filename), options.path, memory, options.read_only));

  absl::Status status;
  if (!store->read_only_ || memory) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | (memory ? SQLITE_OPEN_URI : 0);
    absl::StatusOr<std::unique_ptr<sql::Conn>> writer =
        sql::Conn::Open(store->filename_, flags, options.path);
    if (writer.ok()) {
      store->writer_ = std::move(*writer);
      status = store->writer_->Exec(memory ? kMemoryPragmas : kFilePragmas);
      if (status.ok()) status = Migrate(*store->writer_);
      if (status.ok() && options.max_bytes > 0) {
        absl::StatusOr<int64_t> page = store->writer_->QueryInt("PRAGMA page_size");
        if (page.ok()) {
          // A quarter of the cap for the WAL (at least 64 pages), the rest for pages.
          const int64_t wal_budget = std::max<int64_t>(64 * *page, options.max_bytes / 4);
          const int64_t pages = std::max<int64_t>(1, (options.max_bytes - wal_budget) / *page);
          status = store->writer_->Exec(absl::StrCat("PRAGMA max_page_count = ", pages,
                                                     "; PRAGMA journal_size_limit = ", wal_budget, ";")
                                            .c_str());
          store->max_bytes_ = options.max_bytes;
          store->wal_budget_pages_ = int(std::max<int64_t>(2, wal_budget / *page));
        } else {
          status = page.status();
        }
      }
    } else {
      status = writer.status();
    }
  }
  if (status.ok() && store->read_only_ && options.migrate_older && !memory) {
    absl::StatusOr<std::unique_ptr<sql::Conn>> conn =
        sql::Conn::Open(store->filename_, SQLITE_OPEN_READWRITE, options.path);
    status = conn.ok() ? MigrateIfOlder(**conn) : conn.status();
  }
  if (status.ok() && store->read_only_) {
    absl::StatusOr<std::unique_ptr<sql::Conn>> reader = store->OpenReader();
    if (reader.ok()) {
      status = CheckSchema(**reader);
      store->idle_readers_.push_back(std::move(*reader));
    } else {
      status = reader.status();
    }
  }
  if (!status.ok()) {
    // Every failure to open is Unavailable naming the file, except a schema this build
    // must not touch.
    const absl::StatusCode code = status.code() == absl::StatusCode::kFailedPrecondition
                                      ? absl::StatusCode::kFailedPrecondition
                                      : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("store ", options.path, ": ", status.message()));
  }
  if (!store->read_only_ && !memory) {
    absl::StatusOr<std::unique_ptr<sql::Conn>> checkpointer =
        sql::Conn::Open(store->filename_, SQLITE_OPEN_READWRITE, options.path);
    if (!checkpointer.ok())
      return absl::UnavailableError(absl::StrCat("store ", options.path, ": ", checkpointer.status().message()));
    store->checkpointer_ = *std::move(checkpointer);
    store->checkpoint_pages_ = std::max(1, options.checkpoint_pages);
    // Under a cap the WAL is checkpointed before it fills its share, by the writer at the
    // latest (kWriterCheckpointFactor times the checkpoint thread's threshold).
    if (store->max_bytes_ > 0)
      store->checkpoint_pages_ =
          std::min(store->checkpoint_pages_, std::max(1, store->wal_budget_pages_ / (2 * kWriterCheckpointFactor)));
    sqlite3_wal_hook(store->writer_->db(), &SqliteStore::OnWalCommit, store.get());
  }
  if (!store->read_only_) {
    try {
      if (store->checkpointer_)
        store->checkpoint_thread_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
      store->writer_thread_ = std::thread([s = store.get()] { s->WriterLoop(); });
    } catch (const std::system_error& e) {
      return absl::UnavailableError(
          absl::StrCat("store ", options.path, ": cannot start the writer thread: ", e.what()));
    }
  }
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::SqliteStore(std::string filename, std::string display, bool memory, bool read_only)
    : filename_(std::move(filename)),
      display_(std::move(display)),
      memory_(memory),
      read_only_(read_only) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  checkpointer_.reset();
  // Readers close first, so the writer's connection is the last one: for a file it
  // checkpoints the WAL; for ":memory:" it frees the database.
  idle_readers_.clear();
  writer_.reset();
}

// ---- writes ----

absl::Status SqliteStore::Write(WriteFn fn) {
  if (read_only_) return absl::FailedPreconditionError("database opened read-only");
  PendingWrite write{std::move(fn), {}};
  std::future<absl::Status> done = write.done.get_future();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(&write);
  }
  queue_cv_.notify_one();
  return done.get();
}

// A failure of the whole transaction: ResourceExhausted stays what it is (the database
// is full), anything else means the store cannot serve (Unavailable).
absl::Status SqliteStore::StoreError(const absl::Status& cause, absl::string_view what) {
  if (absl::IsResourceExhausted(cause)) return absl::ResourceExhaustedError(absl::StrCat(what, cause.message()));
  return absl::UnavailableError(absl::StrCat(what, cause.message()));
}

absl::Status SqliteStore::CheckRoom() {
  if (max_bytes_ <= 0 || memory_) return absl::OkStatus();
  auto bytes = [](const std::string& path) -> int64_t {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : 0;
  };
  int64_t used = bytes(filename_) + bytes(filename_ + "-wal");
  if (used <= max_bytes_) return absl::OkStatus();
  // The WAL may only be waiting for a checkpoint: copy it back and trim it, then look again.
  sqlite3_wal_checkpoint_v2(writer_->db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  used = bytes(filename_) + bytes(filename_ + "-wal");
  if (used <= max_bytes_) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("database full: ", display_, " and its write-ahead log take ", used,
                                                   " bytes, past the cap of ", max_bytes_, " (--max-db-mb)"));
}

void SqliteStore::WriterLoop() {
  std::vector<PendingWrite*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been committed
      batch.assign(queue_.begin(), queue_.end());
      queue_.clear();
    }
    RunBatch(batch);
  }
}

int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* store = static_cast<SqliteStore*>(self);
  if (wal_pages >= kWriterCheckpointFactor * store->checkpoint_pages_) {
    // The checkpoint thread has fallen far behind (or a reader pins old pages): keep
    // the WAL bounded at the writer's expense, as SQLite's own autocheckpoint would.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= store->checkpoint_pages_) {
    {
      std::lock_guard<std::mutex> lock(store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock, [this] { return checkpoint_stop_ || checkpoint_wanted_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never waits for the writer. A busy
    // or failed checkpoint is retried after the next commits; the final close of the
    // writer's connection checkpoints whatever is left.
    sqlite3_wal_checkpoint_v2(checkpointer_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

// Group commit: the whole batch in one BEGIN IMMEDIATE..COMMIT, each write in its own
// savepoint. A failed write is rolled back alone. A failed COMMIT fails every write of
// the batch with Unavailable. When SQLite itself aborts the transaction (I/O error,
// disk full), the writes of it so far fail with Unavailable and the rest of the batch
// goes on in a new transaction.
void SqliteStore::RunBatch(std::vector<PendingWrite*>& batch) {
  sql::Conn& conn = *writer_;
  std::vector<absl::Status> results(batch.size());
  if (absl::Status room = CheckRoom(); !room.ok()) {
    for (PendingWrite* write : batch) write->done.set_value(room);
    return;
  }
  size_t next = 0;
  while (next < batch.size()) {
    const size_t first = next;
    if (absl::Status begin = RunSql(conn, kBegin); !begin.ok()) {
      for (size_t i = first; i < batch.size(); ++i) {
        results[i] = StoreError(begin, "store cannot write: ");
      }
      break;
    }
    bool aborted = false;
    while (next < batch.size() && !aborted) {
      results[next] = RunInSavepoint(conn, batch[next]->fn);
      aborted = !conn.InTransaction();
      ++next;
      // Writes queued while this transaction ran join it (up to a bound): one commit
      // for more writes writes each page they share to the WAL once.
      if (next == batch.size() && !aborted && batch.size() < kMaxBatchWrites) {
        std::lock_guard<std::mutex> lock(queue_mu_);
        while (!queue_.empty() && batch.size() < kMaxBatchWrites) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
        results.resize(batch.size());
      }
    }
    if (aborted) {
      const absl::Status& cause = results[next - 1];
      for (size_t i = first; i < next; ++i) {
        if (results[i].ok() || i == next - 1) {
          results[i] = StoreError(cause, "store transaction rolled back: ");
        }
      }
      continue;
    }
    if (absl::Status commit = RunSql(conn, kCommit); !commit.ok()) {
      if (conn.InTransaction()) RunSql(conn, kRollback).IgnoreError();
      for (size_t i = first; i < next; ++i) {
        results[i] = StoreError(commit, "store commit failed: ");
      }
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(results[i]));
}

// ---- reads ----

absl::StatusOr<std::unique_ptr<sql::Conn>> SqliteStore::OpenReader() {
  // File readers are opened read-only. The memdb database is opened read-write (it
  // exists only through the URI) and made query-only instead.
  const int flags = memory_ ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI) : SQLITE_OPEN_READONLY;
  ACTGRID_STORE_ASSIGN_OR_RETURN(std::unique_ptr<sql::Conn> conn,
                                 sql::Conn::Open(filename_, flags, display_));
  ACTGRID_STORE_RETURN_IF_ERROR(conn->Exec("PRAGMA query_only = ON"));
  // Analysis reads scan whole grids: memory-mapped pages are read in place instead of
  // copied into the page cache by a read() each (SQLite caps the size at its build's
  // limit; pages still in the WAL are read as before).
  if (!memory_) ACTGRID_STORE_RETURN_IF_ERROR(conn->Exec(kReaderPragmas));
  return conn;
}

absl::Status SqliteStore::Read(const ReadFn& fn) {
  std::unique_ptr<sql::Conn> conn;
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (conn == nullptr) {
    absl::StatusOr<std::unique_ptr<sql::Conn>> opened = OpenReader();
    if (!opened.ok()) return opened.status();
    conn = std::move(*opened);
  }
  absl::Status status;
  try {
    status = fn(*conn);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("store read threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("store read threw");
  }
  if (conn->InTransaction()) conn->Exec("ROLLBACK").IgnoreError();
  std::lock_guard<std::mutex> lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
  return status;
}

}  // namespace actgrid::store
