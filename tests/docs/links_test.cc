// The Markdown documentation holds together: every relative link of README.md, docs/ and
// the folder READMEs names a file that exists, every #fragment names a heading of its
// target (GitHub's anchor rules), and README.md stays a short front door that keeps the
// test command .ci/run extracts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace actgrid {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ the checker

// The anchor GitHub gives a heading: lowercase; everything but letters, digits, '-', '_'
// and spaces removed; spaces become '-'. Non-ASCII letters stay; the common non-ASCII
// punctuation and symbols (Latin-1 signs, general punctuation, arrows, math operators,
// ...) go, as GitHub removes everything that is not a letter, mark or number.
std::string GithubAnchor(const std::string& heading) {
  std::string out;
  for (size_t i = 0; i < heading.size();) {
    const unsigned char c = heading[i];
    if (c < 0x80) {
      if (std::isalnum(c) || c == '-' || c == '_') out += static_cast<char>(std::tolower(c));
      else if (c == ' ') out += '-';
      ++i;
      continue;
    }
    size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
    len = std::min(len, heading.size() - i);
    uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (heading[i + k] & 0x3F);
    const bool symbol = (cp >= 0xA0 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
                        (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F);
    if (!symbol) out += heading.substr(i, len);
    i += len;
  }
  return out;
}

bool IsFence(const std::string& line) {
  size_t i = line.find_first_not_of(' ');
  if (i == std::string::npos || i > 3) return false;
  return line.compare(i, 3, "```") == 0 || line.compare(i, 3, "~~~") == 0;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Every anchor of a Markdown file: its ATX headings (outside fenced code) under GitHub's
// rules, the second of the same text with -1, the third with -2, ...
std::set<std::string> HeadingAnchors(const std::string& markdown) {
  std::set<std::string> anchors;
  std::map<std::string, int> seen;
  bool fenced = false;
  for (const std::string& line : SplitLines(markdown)) {
    if (IsFence(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    static const std::regex heading(R"(^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$)");
    std::smatch m;
    if (!std::regex_match(line, m, heading)) continue;
    const std::string base = GithubAnchor(m[1].str());
    const int n = seen[base]++;
    anchors.insert(n == 0 ? base : base + "-" + std::to_string(n));
  }
  return anchors;
}

struct Link {
  int line;            // 1-based
  std::string target;  // as written: path, path#fragment or #fragment
};

// The links of a Markdown file: [text](target), ![alt](target), reference definitions
// "[name]: target" and <img src="target">. Fenced code blocks and inline code spans are
// skipped: a link there is an example, not a link.
std::vector<Link> ExtractLinks(const std::string& markdown) {
  // Blank out fenced blocks and code spans, keeping line breaks so positions keep their line.
  std::string text;
  bool fenced = false;
  for (const std::string& line : SplitLines(markdown)) {
    const bool fence = IsFence(line);
    text += (fenced || fence) ? std::string() : line;
    text += '\n';
    if (fence) fenced = !fenced;
  }
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '`') {
      ++i;
      continue;
    }
    size_t run = text.find_first_not_of('`', i) - i;
    // The closing run of the same length, within the paragraph (no blank line between).
    size_t j = i + run, close = std::string::npos;
    while (j < text.size()) {
      if (text.compare(j, 2, "\n\n") == 0) break;
      if (text[j] == '`') {
        size_t r = text.find_first_not_of('`', j);
        if (r == std::string::npos) r = text.size();
        if (r - j == run) {
          close = j;
          break;
        }
        j = r;
        continue;
      }
      ++j;
    }
    if (close == std::string::npos) {
      i += run;
      continue;
    }
    for (size_t k = i; k < close + run; ++k)
      if (text[k] != '\n') text[k] = ' ';
    i = close + run;
  }

  std::vector<Link> links;
  auto line_of = [&](size_t pos) { return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n')); };
  // Inline links: "](" then the destination up to the matching ')'.
  for (size_t pos = text.find("]("); pos != std::string::npos; pos = text.find("](", pos + 2)) {
    size_t i = pos + 2;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    std::string target;
    if (i < text.size() && text[i] == '<') {
      size_t end = text.find('>', i);
      if (end == std::string::npos) continue;
      target = text.substr(i + 1, end - i - 1);
    } else {
      int depth = 0;
      size_t j = i;
      for (; j < text.size(); ++j) {
        const char c = text[j];
        if (c == ' ' || c == '\n' || c == '\t') break;
        if (c == '(') ++depth;
        if (c == ')' && depth-- == 0) break;
      }
      target = text.substr(i, j - i);
    }
    if (!target.empty()) links.push_back({line_of(pos), target});
  }
  // Reference definitions and <img src="...">.
  static const std::regex definition(R"((^|\n) {0,3}\[[^\]\n]+\]:[ \t]*<?([^\s>]+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), definition); it != std::sregex_iterator(); ++it)
    links.push_back({line_of(it->position(2)), (*it)[2].str()});
  static const std::regex img(R"(<img\b[^>]*?\bsrc\s*=\s*["']([^"']*)["'])", std::regex::icase);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), img); it != std::sregex_iterator(); ++it)
    links.push_back({line_of(it->position(1)), (*it)[1].str()});
  std::stable_sort(links.begin(), links.end(), [](const Link& a, const Link& b) { return a.line < b.line; });
  return links;
}

bool IsExternal(const std::string& target) {
  static const std::regex scheme(R"(^[A-Za-z][A-Za-z0-9+.-]*:)");
  return std::regex_search(target, scheme) || target.rfind("//", 0) == 0;
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// What the checker may ask of the files: whether a path (relative to the repository root,
// '/'-separated) is a file or a folder, and a file's text.
struct Tree {
  std::function<bool(const std::string&)> is_file;
  std::function<bool(const std::string&)> is_dir;
  std::function<std::optional<std::string>(const std::string&)> read;
};

// Every broken relative link of the Markdown file `path` (relative to the repository
// root), as "path:line: target: what is wrong".
std::vector<std::string> BrokenLinks(const std::string& path, const std::string& markdown, const Tree& tree,
                                     int* checked = nullptr) {
  std::vector<std::string> broken;
  const fs::path folder = fs::path(path).parent_path();
  for (const Link& link : ExtractLinks(markdown)) {
    if (IsExternal(link.target)) continue;
    if (checked) ++*checked;
    auto report = [&](const std::string& what) {
      broken.push_back(path + ":" + std::to_string(link.line) + ": " + link.target + ": " + what);
    };
    std::string file = link.target, fragment;
    if (size_t hash = file.find('#'); hash != std::string::npos) {
      fragment = PercentDecode(file.substr(hash + 1));
      file = file.substr(0, hash);
    }
    if (size_t query = file.find('?'); query != std::string::npos) file = file.substr(0, query);
    file = PercentDecode(file);
    std::string resolved;
    if (file.empty()) {
      resolved = path;
    } else {
      fs::path p = file[0] == '/' ? fs::path(file.substr(1)) : folder / file;
      resolved = p.lexically_normal().generic_string();
      while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
      if (resolved.empty() || resolved == ".") resolved = ".";
      if (resolved == ".." || resolved.rfind("../", 0) == 0) {
        report("points outside the repository");
        continue;
      }
    }
    const bool is_file = tree.is_file(resolved);
    if (!is_file && !tree.is_dir(resolved)) {
      report("no such file or folder " + resolved);
      continue;
    }
    if (fragment.empty()) continue;
    if (!is_file) {
      report("#" + fragment + " on a folder");
      continue;
    }
    if (fs::path(resolved).extension() != ".md") {
      static const std::regex line_anchor(R"(^L\d+(-L\d+)?$)");
      if (!std::regex_match(fragment, line_anchor)) report("#" + fragment + " in a file that is not Markdown");
      continue;
    }
    const std::optional<std::string> text = resolved == path ? markdown : tree.read(resolved);
    if (!text) {
      report("cannot read " + resolved);
      continue;
    }
    if (!HeadingAnchors(*text).count(fragment)) report("no heading of " + resolved + " has the anchor #" + fragment);
  }
  return broken;
}

// ------------------------------------------------------------------ the repository

const fs::path kRoot = ACTGRID_SOURCE_DIR;

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Tree RepositoryTree() {
  return Tree{
      [](const std::string& p) { return fs::is_regular_file(kRoot / p); },
      [](const std::string& p) { return fs::is_directory(kRoot / p); },
      [](const std::string& p) { return ReadFile(kRoot / p); },
  };
}

// README.md, every Markdown page under docs/, and the folder READMEs.
std::vector<std::string> DocumentationFiles() {
  std::vector<std::string> files = {"README.md", "docker/README.md", "server/README.md", "bench/README.md"};
  std::vector<std::string> pages;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "docs"))
    if (entry.is_regular_file() && entry.path().extension() == ".md")
      pages.push_back(entry.path().lexically_relative(kRoot).generic_string());
  std::sort(pages.begin(), pages.end());
  files.insert(files.end(), pages.begin(), pages.end());
  return files;
}

// ------------------------------------------------------------------ tests of the checker

Tree InMemoryTree(const std::map<std::string, std::string>& files) {
  return Tree{
      [files](const std::string& p) { return files.count(p) > 0; },
      [files](const std::string& p) {
        for (const auto& [name, text] : files)
          if (name.rfind(p + "/", 0) == 0) return true;
        return false;
      },
      [files](const std::string& p) -> std::optional<std::string> {
        auto it = files.find(p);
        if (it == files.end()) return std::nullopt;
        return it->second;
      },
  };
}

TEST(LinkChecker, AnchorsFollowGithubRules) {
  EXPECT_EQ(GithubAnchor("Studies: the classic claims, measured"), "studies-the-classic-claims-measured");
  EXPECT_EQ(GithubAnchor("1. The circle with 3 hidden layers of 3 units"), "1-the-circle-with-3-hidden-layers-of-3-units");
  EXPECT_EQ(GithubAnchor("Xavier against He at depth 30 (He et al. 2015)"), "xavier-against-he-at-depth-30-he-et-al-2015");
  EXPECT_EQ(GithubAnchor("`actgrid run` and its_options"), "actgrid-run-and-its_options");
  EXPECT_EQ(GithubAnchor("Activation × depth — a view"), "activation--depth--a-view");
  EXPECT_EQ(GithubAnchor("Café"), "café");

  const std::set<std::string> anchors = HeadingAnchors(
      "# Title\n\n## Limits\n\n```\n## Not a heading\n```\n\n### Limits\n\n## Limits ##\n\n#NoSpace\n");
  EXPECT_EQ(anchors, (std::set<std::string>{"title", "limits", "limits-1", "limits-2"}));
}

TEST(LinkChecker, FindsABrokenFileAndABrokenAnchorAndPassesGoodLinks) {
  const std::map<std::string, std::string> files = {
      {"README.md",
       "# Example\n"
       "\n"
       "Good: [a page](docs/page.md), [its section](docs/page.md#section-two), [here](#example),\n"
       "![a picture](docs/shot.png), [a folder](docs/), [a line](tools/run.sh#L3) and\n"
       "[the web](https://example.com/missing.md#nowhere), [mail](mailto:someone@example.com).\n"
       "Broken: [a file](docs/missing.md) and\n"
       "[an anchor](docs/page.md#section-three).\n"
       "```sh\n"
       "echo '[not a link](nowhere.md)'\n"
       "```\n"
       "Code, not a link: `[x](nowhere.md)`.\n"
       "<img src=\"docs/shot.png\" alt=\"fine\"> <img src=\"docs/gone.png\">\n"},
      {"docs/page.md", "# Page\n\nBack to [the README](../README.md#example).\n\n## Section two\n"},
      {"docs/shot.png", "png"},
      {"tools/run.sh", "#!/bin/sh\n"},
  };
  const Tree tree = InMemoryTree(files);
  int checked = 0;
  const std::vector<std::string> broken = BrokenLinks("README.md", files.at("README.md"), tree, &checked);
  EXPECT_EQ(broken, (std::vector<std::string>{
                        "README.md:6: docs/missing.md: no such file or folder docs/missing.md",
                        "README.md:7: docs/page.md#section-three: no heading of docs/page.md has the anchor #section-three",
                        "README.md:12: docs/gone.png: no such file or folder docs/gone.png",
                    }));
  EXPECT_EQ(checked, 10);
  EXPECT_TRUE(BrokenLinks("docs/page.md", files.at("docs/page.md"), tree).empty());
  EXPECT_EQ(BrokenLinks("docs/page.md", "[up](../../outside.md)\n", tree),
            (std::vector<std::string>{"docs/page.md:1: ../../outside.md: points outside the repository"}));
}

// ------------------------------------------------------------------ tests of the documentation

TEST(DocsLinks, EveryRelativeLinkAndAnchorResolves) {
  const Tree tree = RepositoryTree();
  int checked = 0;
  std::vector<std::string> broken;
  for (const std::string& file : DocumentationFiles()) {
    const std::optional<std::string> text = tree.read(file);
    ASSERT_TRUE(text) << "cannot read " << (kRoot / file);
    for (const std::string& b : BrokenLinks(file, *text, tree, &checked)) broken.push_back(b);
  }
  std::string list;
  for (const std::string& b : broken) list += "\n  " + b;
  EXPECT_TRUE(broken.empty()) << broken.size() << " broken link(s):" << list;
  EXPECT_GE(checked, 30) << "too few links found: is the link parser broken?";
}

TEST(DocsLinks, ReadmeLinksEveryDocsPage) {
  const std::string readme = *ReadFile(kRoot / "README.md");
  std::set<std::string> linked;
  for (const Link& link : ExtractLinks(readme)) linked.insert(link.target.substr(0, link.target.find('#')));
  for (const std::string& file : DocumentationFiles()) {
    if (file.rfind("docs/", 0) == 0) {
      EXPECT_TRUE(linked.count(file)) << "README.md does not link " << file;
    }
  }
}

TEST(DocsLinks, ReadmeIsAShortFrontDoorWithTheTestCommand) {
  const std::optional<std::string> readme = ReadFile(kRoot / "README.md");
  ASSERT_TRUE(readme);
  const long lines = std::count(readme->begin(), readme->end(), '\n');
  EXPECT_LE(lines, 250) << "README.md is the front door: move details to docs/";

  // .ci/run runs the ```sh block right after the marker line.
  const std::vector<std::string> all = SplitLines(*readme);
  auto marker = std::find_if(all.begin(), all.end(),
                             [](const std::string& l) { return l.rfind("<!-- test-command", 0) == 0; });
  ASSERT_NE(marker, all.end()) << "README.md has no <!-- test-command ... --> line";
  ASSERT_NE(marker + 1, all.end());
  EXPECT_EQ(*(marker + 1), "```sh") << "the test-command marker must come directly before a ```sh block";
  auto close = std::find_if(marker + 2, all.end(), [](const std::string& l) { return l.rfind("```", 0) == 0; });
  ASSERT_NE(close, all.end()) << "the test command's block is not closed";
  EXPECT_GT(close - (marker + 2), 0) << "the test command's block is empty";
}

}  // namespace
}  // namespace actgrid
