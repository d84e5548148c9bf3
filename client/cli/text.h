// Number and string formatting shared by the CLI's renderers: exact decimals, JSON
// and CSV quoting, fixed-width table cells, text made safe for a terminal.
#ifndef ACTGRID_CLIENT_CLI_TEXT_H_
#define ACTGRID_CLIENT_CLI_TEXT_H_

#include <string>
#include <vector>

#include "actgrid/v1/grids.pb.h"

namespace actgrid::cli {

// Shortest decimal that reads back as the same double ("nan", "inf" as C++ spells them).
std::string Exact(double v);
// Exact(v), or null when v is NaN or infinite.
std::string JsonNumber(double v);
// A JSON string: quotes, backslashes and every control character (C0, DEL and the C1
// controls U+0080..U+009F) escaped, so the text reads back the same and prints inert.
std::string JsonString(const std::string& s);
// A factor label that is a number ("4", "0.1") is a JSON number, others strings.
std::string JsonLabel(const std::string& label);
// {"k1": v1, "k2": v2} from already-rendered values.
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields);
std::string JsonArray(const std::vector<std::string>& items);
// A CSV field (RFC 4180 quoting). Text that a spreadsheet would read as a formula
// (starting with =, +, -, @, tab or CR) and is not a number gets a leading ' inside
// quotes ('=HYPERLINK(...)); numbers such as -0.5 or -1 stay as they are.
std::string CsvField(const std::string& s);
// Exact(v), or empty when v is NaN or infinite.
std::string CsvNumber(double v);
std::string CsvLine(const std::vector<std::string>& fields);  // quotes each field, ends with \n
// v with `digits` decimals, or "-" when not finite.
std::string Fixed(double v, int digits = 4);
// "[low, high]" with `digits` decimals, or "-".
std::string Interval(double low, double high, int digits = 4);
// Up to 4 significant digits: 0.0421, 1234, 1.2e-07; "-" when not finite.
std::string Short(double v);
// A p value: "0.0473", "3.1e-05", "< 1e-300".
std::string PValue(double p);

// Text for a terminal: every control character but the newline escaped as the grid
// file's errors show them ("\x1b", "\u009b"), so that what a grid file or a
// coordinator said is shown and never obeyed.
std::string TerminalText(const std::string& s);
// An error message for a terminal: TerminalText, each line cut after
// grid::kMaxErrorLineBytes, and at most grid::kMaxErrorsListed + 1 lines, then
// "... and N more lines". However long a message a coordinator sends, what is
// printed stays a screenful.
std::string ErrorText(const std::string& message);

// What a submission reused and what it measures again because an older engine measured
// it: "reused 3; 120 earlier results were measured by engine version 1 and are measured
// again". Empty when nothing was reused and nothing earlier exists.
std::string ReuseText(const v1::SubmitGridResponse& response);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_TEXT_H_
