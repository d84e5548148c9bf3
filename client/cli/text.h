// Number and string formatting shared by the CLI's renderers: exact decimals, JSON
// and CSV quoting, fixed-width table cells.
#ifndef ACTGRID_CLIENT_CLI_TEXT_H_
#define ACTGRID_CLIENT_CLI_TEXT_H_

#include <string>
#include <vector>

namespace actgrid::cli {

// Shortest decimal that reads back as the same double ("nan", "inf" as C++ spells them).
std::string Exact(double v);
// Exact(v), or null when v is NaN or infinite.
std::string JsonNumber(double v);
std::string JsonString(const std::string& s);
// A factor label that is a number ("4", "0.1") is a JSON number, others strings.
std::string JsonLabel(const std::string& label);
// {"k1": v1, "k2": v2} from already-rendered values.
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields);
std::string JsonArray(const std::vector<std::string>& items);
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

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_TEXT_H_
