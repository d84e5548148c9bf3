// The layering of the code, checked on every include: a file may include the headers of
// its own module and of the modules below it, never across a forbidden edge (the
// coordinator's scheduler, analyses or store reaching into the client or the engine; the
// engine reaching anything but the spec library and the proto messages), and the
// third-party libraries stay in the modules that own them (YAML in the grid file, SQLite
// in the store, gRPC in the RPC layers). docs/architecture.md draws the same graph.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;

// A module: a folder of the tree (or one file, for the programs' main assembly).
struct Module {
  const char* name;
  const char* path;  // relative to the source root; a folder ends with '/'
};

// Most specific first: server/main.cc before server/.
const std::vector<Module>& Modules() {
  static const std::vector<Module> modules = {
      {"spec", "common/spec/"},          {"rpc", "common/rpc/"},
      {"engine", "worker/engine/"},      {"runner", "worker/runner/"},
      {"grid", "client/grid/"},          {"cli", "client/cli/"},
      {"dashboard", "client/dashboard/"}, {"store", "server/store/"},
      {"scheduler", "server/scheduler/"}, {"analysis", "server/analysis/"},
      {"grpc", "server/grpc/"},          {"http", "server/http/"},
      {"server_main", "server/main.cc"},
  };
  return modules;
}

// Which modules (and third-party families) each module may include. "proto" is the
// generated messages (actgrid/v1/...), always allowed; abseil and the standard library
// are everybody's.
const std::map<std::string, std::set<std::string>>& Allowed() {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"spec", {}},
      {"rpc", {"grpc"}},
      {"engine", {"spec"}},
      {"store", {"spec", "sqlite"}},
      {"scheduler", {"spec", "store"}},
      {"analysis", {"spec", "store"}},
      {"grid", {"spec", "engine", "yaml"}},
      {"runner", {"spec", "engine", "rpc", "grpc", "tbb"}},
      {"grpc", {"spec", "store", "scheduler", "analysis", "rpc", "grpc"}},
      {"dashboard", {}},
      {"http", {"spec", "store", "scheduler", "analysis", "grpc", "rpc", "dashboard"}},
      // The programs' assembly: the only places that put in-process workers next to a
      // coordinator.
      {"server_main", {"spec", "store", "scheduler", "analysis", "grpc", "http", "rpc", "runner", "grid"}},
      {"cli", {"spec", "store", "scheduler", "analysis", "grpc", "http", "rpc", "runner", "grid", "engine",
               "dashboard", "yaml"}},
  };
  return allowed;
}

std::string ModuleOfPath(const std::string& relative) {
  for (const Module& m : Modules()) {
    const std::string p = m.path;
    if (p.back() == '/' ? relative.rfind(p, 0) == 0 : relative == p) return m.name;
  }
  return "";
}

// What an include names: a module of the tree, a third-party family, or "" for what
// anybody may include (the standard library, abseil, the proto messages, protobuf).
std::string TargetOf(const std::string& header) {
  if (std::string m = ModuleOfPath(header); !m.empty()) return m == "server_main" ? "" : m;
  static const std::vector<std::pair<const char*, const char*>> families = {
      {"yaml-cpp/", "yaml"}, {"sqlite3.h", "sqlite"}, {"grpcpp/", "grpc"}, {"grpc/", "grpc"},
      {"tbb/", "tbb"},       {"oneapi/tbb", "tbb"},   {"Eigen/", "engine"}, {"cblas.h", "engine"},
  };
  for (const auto& [prefix, family] : families)
    if (header.rfind(prefix, 0) == 0) return family;
  return "";
}

// One line per include of `content` (a file at `relative` in the tree) that crosses a
// forbidden edge: "server/scheduler/x.cc:12: scheduler may not include worker/engine/trainer.h".
std::vector<std::string> LayeringViolations(const std::string& relative, const std::string& content) {
  std::vector<std::string> out;
  const std::string from = ModuleOfPath(relative);
  if (from.empty()) return out;  // tests, benchmarks, the proto folder
  const std::set<std::string>& allowed = Allowed().at(from);
  static const std::regex include(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::istringstream lines(content);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    std::smatch m;
    if (!std::regex_search(line, m, include)) continue;
    const std::string header = m[1];
    const std::string to = TargetOf(header);
    if (to.empty() || to == from || allowed.count(to)) continue;
    out.push_back(relative + ":" + std::to_string(n) + ": " + from + " may not include " + header);
  }
  return out;
}

TEST(Layering, NoIncludeCrossesAForbiddenEdge) {
  const fs::path root = ACTGRID_SOURCE_DIR;
  std::vector<std::string> violations;
  int files = 0;
  for (const char* top : {"common", "worker", "client", "server"}) {
    for (auto it = fs::recursive_directory_iterator(root / top); it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory() && it->path().filename() == "node_modules") {
        it.disable_recursion_pending();
        continue;
      }
      const std::string ext = it->path().extension();
      if (!it->is_regular_file() || (ext != ".cc" && ext != ".h")) continue;
      std::ifstream in(it->path());
      std::stringstream content;
      content << in.rdbuf();
      const std::string relative = fs::relative(it->path(), root).generic_string();
      ++files;
      for (std::string& v : LayeringViolations(relative, content.str())) violations.push_back(std::move(v));
    }
  }
  EXPECT_GT(files, 100) << "the source tree was not found at " << root;
  std::string all;
  for (const std::string& v : violations) all += v + "\n";
  EXPECT_TRUE(violations.empty()) << "includes across forbidden edges (see docs/architecture.md):\n" << all;
}

// The checker itself: each forbidden edge the layering names is caught.
TEST(Layering, CatchesEachForbiddenEdge) {
  struct Case {
    const char* file;
    const char* include;
  };
  for (const Case& c : std::vector<Case>{
           {"server/scheduler/scheduler.cc", "#include \"worker/engine/trainer.h\""},
           {"server/scheduler/scheduler.cc", "#include \"client/grid/grid_file.h\""},
           {"server/analysis/selection.cc", "#include \"client/grid/yaml_values.h\""},
           {"server/store/rows.cc", "#include \"worker/engine/dataset.h\""},
           {"server/store/rows.cc", "#include \"server/scheduler/scheduler.h\""},
           {"server/scheduler/scheduler.cc", "#include \"yaml-cpp/yaml.h\""},
           {"worker/engine/trainer.cc", "#include \"server/store/store.h\""},
           {"worker/engine/trainer.cc", "#include \"client/grid/grid_file.h\""},
           {"worker/engine/trainer.cc", "  #  include <grpcpp/grpcpp.h>"},
           {"common/spec/fields.cc", "#include \"worker/engine/network.h\""},
           {"server/grpc/services.cc", "#include \"worker/runner/local_pool.h\""},
       }) {
    const std::string content = std::string("// x\n#include <vector>\n") + c.include + "\n";
    const std::vector<std::string> v = LayeringViolations(c.file, content);
    ASSERT_EQ(v.size(), 1u) << c.file << " " << c.include;
    EXPECT_NE(v[0].find(std::string(c.file) + ":3: "), std::string::npos) << v[0];
  }
}

TEST(Layering, AllowsTheEdgesOfThePlan) {
  EXPECT_TRUE(LayeringViolations("server/scheduler/scheduler.cc",
                                 "#include \"common/spec/fields.h\"\n#include \"server/store/store.h\"\n"
                                 "#include \"actgrid/v1/spec.pb.h\"\n#include \"absl/strings/str_cat.h\"\n")
                  .empty());
  EXPECT_TRUE(LayeringViolations("worker/engine/trainer.cc", "#include \"common/spec/summary.h\"\n").empty());
  EXPECT_TRUE(LayeringViolations("server/main.cc", "#include \"worker/runner/local_pool.h\"\n").empty());
  EXPECT_TRUE(LayeringViolations("tests/engine/x_test.cc", "#include \"client/grid/grid_file.h\"\n").empty());
}

}  // namespace

namespace {

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// docs/architecture.md shows the library graph that this build was configured with
// (cmake/layering.cmake writes it as architecture.mmd in the build folder).
TEST(Layering, TheDocumentedGraphIsTheConfiguredOne) {
  const std::string graph = ReadFile(fs::path(ACTGRID_BINARY_DIR) / "architecture.mmd");
  ASSERT_NE(graph.find("graph BT"), std::string::npos) << "no graph in " << ACTGRID_BINARY_DIR;
  const std::string doc = ReadFile(fs::path(ACTGRID_SOURCE_DIR) / "docs" / "architecture.md");
  EXPECT_NE(doc.find("```mermaid\n" + graph + "```"), std::string::npos)
      << "docs/architecture.md does not show the configured library graph; put this in its mermaid block:\n"
      << graph;
}

}  // namespace
