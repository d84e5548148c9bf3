// The dashboard's front end as built into the programs: the bundle (app.js, app.css)
// and the two pages that carry it, the live dashboard and the self-contained report.
#ifndef ACTGRID_CLIENT_DASHBOARD_ASSETS_H_
#define ACTGRID_CLIENT_DASHBOARD_ASSETS_H_

#include <string>
#include <string_view>

namespace actgrid::dashboard {

// The built bundle (esbuild output of client/dashboard/src).
std::string_view AppJs();
std::string_view AppCss();

// The live page: loads app.js and app.css from the server that serves it.
std::string LivePage();

// A self-contained page: the stylesheet and script inline, and `report_json` (the
// report's data, see client/dashboard/src) in a JSON script element the front end
// reads instead of calling a server. `title` is shown in the browser's tab.
std::string ReportPage(std::string_view title, std::string_view report_json, std::string_view app_js,
                       std::string_view app_css);

}  // namespace actgrid::dashboard

#endif  // ACTGRID_CLIENT_DASHBOARD_ASSETS_H_
