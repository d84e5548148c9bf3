// The embedded bundle (see assets.h and the .incbin file CMakeLists.txt generates).
#include "client/dashboard/assets.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

extern "C" {
extern const char actgrid_dashboard_app_js[], actgrid_dashboard_app_js_end[];
extern const char actgrid_dashboard_app_css[], actgrid_dashboard_app_css_end[];
}

namespace actgrid::dashboard {
namespace {

constexpr std::string_view kHead =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";

// Text placed inside a <script> or <style> element must not close it early. In the
// script and the stylesheet "</script" and "</style" can only occur inside strings or
// regular expressions, where "<\/" means the same; in the JSON every "<" (always inside
// a string) becomes the escape \u003c.
std::string InsideElement(std::string_view text) {
  return absl::StrReplaceAll(absl::string_view(text.data(), text.size()), {{"</script", "<\\/script"}, {"</SCRIPT", "<\\/SCRIPT"},
                                    {"</style", "<\\/style"}, {"</STYLE", "<\\/STYLE"}});
}
std::string InsideJson(std::string_view json) {
  return absl::StrReplaceAll(absl::string_view(json.data(), json.size()), {{"<", "\\u003c"}});
}

std::string EscapeHtml(std::string_view text) {
  return absl::StrReplaceAll(absl::string_view(text.data(), text.size()), {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

}  // namespace

std::string_view AppJs() {
  return std::string_view(actgrid_dashboard_app_js, actgrid_dashboard_app_js_end - actgrid_dashboard_app_js);
}

std::string_view AppCss() {
  return std::string_view(actgrid_dashboard_app_css, actgrid_dashboard_app_css_end - actgrid_dashboard_app_css);
}

std::string LivePage() {
  return absl::StrCat(absl::string_view(kHead.data(), kHead.size()),
                      "<title>actgrid</title>\n<link rel=\"stylesheet\" href=\"app.css\">\n</head>\n<body>\n"
                      "<div id=\"app\"></div>\n<script src=\"app.js\"></script>\n</body>\n</html>\n");
}

std::string ReportPage(std::string_view title, std::string_view report_json, std::string_view app_js,
                       std::string_view app_css) {
  return absl::StrCat(absl::string_view(kHead.data(), kHead.size()), "<title>", EscapeHtml(title),
                      "</title>\n<style>\n", InsideElement(app_css),
                      "\n</style>\n</head>\n<body>\n<div id=\"app\"></div>\n",
                      "<script type=\"application/json\" id=\"actgrid-report\">", InsideJson(report_json),
                      "</script>\n<script>\n", InsideElement(app_js), "\n</script>\n</body>\n</html>\n");
}

}  // namespace actgrid::dashboard
