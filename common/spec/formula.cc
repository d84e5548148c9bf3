// The formula language (formula.h): lexer, parser, canonical text, symbolic
// derivatives with simplification, and compilation to straight-line programs.
#include "common/spec/formula.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/echo.h"
#include "common/spec/names.h"
#include "common/spec/suggest.h"
#include "common/spec/trial_key.h"

namespace actgrid::spec {
namespace {

using Op = Instruction::Op;
using Node = Formula::Node;

// ---- functions and names ------------------------------------------------------

struct Function {
  const char* name;
  Op op;
  int arity;
};

const std::vector<Function>& Functions() {
  static const std::vector<Function> functions = {
      {"where", Instruction::kWhere, 3}, {"min", Instruction::kMin, 2},
      {"max", Instruction::kMax, 2},     {"abs", Instruction::kAbs, 1},
      {"exp", Instruction::kExp, 1},     {"log", Instruction::kLog, 1},
      {"log1p", Instruction::kLog1p, 1}, {"sqrt", Instruction::kSqrt, 1},
      {"tanh", Instruction::kTanh, 1},   {"sigmoid", Instruction::kSigmoid, 1},
      {"softplus", Instruction::kSoftplus, 1}, {"erf", Instruction::kErf, 1},
      {"sin", Instruction::kSin, 1},     {"cos", Instruction::kCos, 1},
  };
  return functions;
}

const Function* FindFunction(absl::string_view name) {
  for (const Function& f : Functions())
    if (name == f.name) return &f;
  return nullptr;
}

const Function* FunctionOf(Op op) {
  for (const Function& f : Functions())
    if (op == f.op) return &f;
  return nullptr;
}

std::vector<std::string> FunctionNames() {
  std::vector<std::string> names;
  for (const Function& f : Functions()) names.push_back(f.name);
  return names;
}

constexpr int kPiName = -2;  // a kConst node written as `pi`
constexpr int kEName = -3;   // ... as `e`

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > kMaxFormulaNameBytes) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

// ---- values ------------------------------------------------------------------------

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
double Softplus(double z) { return (z > 0 ? z : 0.0) + std::log1p(std::exp(-std::abs(z))); }

// The value of `op` on constants (folding; the engine's evaluator does the same in T).
double Apply(Op op, double a, double b, double c) {
  switch (op) {
    case Instruction::kNeg: return -a;
    case Instruction::kAdd: return a + b;
    case Instruction::kSub: return a - b;
    case Instruction::kMul: return a * b;
    case Instruction::kDiv: return a / b;
    case Instruction::kPow: return std::pow(a, b);
    case Instruction::kLt: return a < b ? 1 : 0;
    case Instruction::kLe: return a <= b ? 1 : 0;
    case Instruction::kGt: return a > b ? 1 : 0;
    case Instruction::kGe: return a >= b ? 1 : 0;
    case Instruction::kEq: return a == b ? 1 : 0;
    case Instruction::kNe: return a != b ? 1 : 0;
    case Instruction::kWhere: return a != 0 ? b : c;
    case Instruction::kMin: return a < b ? a : b;
    case Instruction::kMax: return a > b ? a : b;
    case Instruction::kAbs: return std::abs(a);
    case Instruction::kExp: return std::exp(a);
    case Instruction::kLog: return std::log(a);
    case Instruction::kLog1p: return std::log1p(a);
    case Instruction::kSqrt: return std::sqrt(a);
    case Instruction::kTanh: return std::tanh(a);
    case Instruction::kSigmoid: return Sigmoid(a);
    case Instruction::kSoftplus: return Softplus(a);
    case Instruction::kErf: return std::erf(a);
    case Instruction::kSin: return std::sin(a);
    case Instruction::kCos: return std::cos(a);
    default: return 0;
  }
}

int Arity(Op op) {
  switch (op) {
    case Instruction::kConst:
    case Instruction::kX:
    case Instruction::kParam: return 0;
    case Instruction::kNeg: return 1;
    case Instruction::kAdd: case Instruction::kSub: case Instruction::kMul: case Instruction::kDiv:
    case Instruction::kPow: case Instruction::kLt: case Instruction::kLe: case Instruction::kGt:
    case Instruction::kGe: case Instruction::kEq: case Instruction::kNe: return 2;
    default: return FunctionOf(op)->arity;
  }
}

bool IsComparison(Op op) { return op >= Instruction::kLt && op <= Instruction::kNe; }

// ---- the DAG builder -------------------------------------------------------------

// Nodes interned by structure (equal subexpressions are one node); with `simplify`,
// constants fold (to finite values only) and the identities below apply.
class Builder {
 public:
  explicit Builder(bool simplify) : simplify_(simplify) {}

  std::vector<Node>& nodes() { return nodes_; }
  const Node& at(int i) const { return nodes_[size_t(i)]; }

  int Const(double v, int name = -1) {
    Node n{Instruction::kConst};
    n.value = v == 0 ? 0.0 : v;  // one zero: -0 and 0 are the same constant
    n.param = name;
    return Intern(n);
  }
  int X() { return Intern(Node{Instruction::kX}); }
  int Param(int i) {
    Node n{Instruction::kParam};
    n.param = i;
    return Intern(n);
  }
  int Make(Op op, int a, int b = -1, int c = -1) {
    if (simplify_) {
      const int s = Simplify(op, a, b, c);
      if (s >= 0) return s;
    }
    Node n{op};
    n.a = a;
    n.b = b;
    n.c = c;
    return Intern(n);
  }

  bool IsConst(int i, double v) const { return at(i).op == Instruction::kConst && at(i).value == v; }
  bool IsConst(int i) const { return at(i).op == Instruction::kConst; }

 private:
  int Simplify(Op op, int a, int b, int c) {
    const int arity = Arity(op);
    bool all_const = true;
    const int args[3] = {a, b, c};
    for (int k = 0; k < arity; ++k) all_const = all_const && IsConst(args[k]);
    if (all_const) {
      const double v = Apply(op, at(a).value, arity > 1 ? at(b).value : 0, arity > 2 ? at(c).value : 0);
      if (std::isfinite(v)) return Const(v);
    }
    switch (op) {
      case Instruction::kNeg:
        if (at(a).op == Instruction::kNeg) return at(a).a;
        break;
      case Instruction::kAdd:
        if (IsConst(a, 0)) return b;
        if (IsConst(b, 0)) return a;
        break;
      case Instruction::kSub:
        if (IsConst(b, 0)) return a;
        if (IsConst(a, 0)) return Make(Instruction::kNeg, b);
        break;
      case Instruction::kMul:
        if (IsConst(a, 0) || IsConst(b, 0)) return Const(0);
        if (IsConst(a, 1)) return b;
        if (IsConst(b, 1)) return a;
        if (IsConst(a, -1)) return Make(Instruction::kNeg, b);
        if (IsConst(b, -1)) return Make(Instruction::kNeg, a);
        break;
      case Instruction::kDiv:
        if (IsConst(b, 1)) return a;
        if (IsConst(a, 0)) return Const(0);
        break;
      case Instruction::kPow:
        if (IsConst(b, 1)) return a;
        if (IsConst(b, 0)) return Const(1);
        if (IsConst(b, 2)) return Make(Instruction::kMul, a, a);
        break;
      case Instruction::kWhere:
        if (IsConst(a)) return at(a).value != 0 ? b : c;
        if (b == c) return b;
        // where(cmp, 1, 0) is the comparison itself (it is 1 or 0)
        if (IsComparison(at(a).op) && IsConst(b, 1) && IsConst(c, 0)) return a;
        break;
      default:
        break;
    }
    return -1;
  }

  int Intern(const Node& n) {
    const auto key = std::make_tuple(int(n.op), n.a, n.b, n.c, n.param, n.value);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    nodes_.push_back(n);
    const int id = int(nodes_.size()) - 1;
    index_.emplace(key, id);
    return id;
  }

  bool simplify_;
  std::vector<Node> nodes_;
  std::map<std::tuple<int, int, int, int, int, double>, int> index_;
};

// ---- lexer and parser ----------------------------------------------------------------

struct Token {
  enum Kind { kEnd, kNumber, kName, kSymbol } kind = kEnd;
  std::string text;
  double number = 0;
  int line = 1, column = 1;
};

class Parser {
 public:
  Parser(absl::string_view text, const std::vector<std::string>& params, Builder* b)
      : text_(text), params_(params), b_(b) {}

  absl::StatusOr<int> Run() {
    if (absl::Status s = Next(); !s.ok()) return s;
    absl::StatusOr<int> e = Expression();
    if (!e.ok()) return e.status();
    if (tok_.kind != Token::kEnd) return ErrorAt(tok_, absl::StrCat("unexpected ", Show(tok_), " after the formula"));
    return *e;
  }

 private:
  absl::Status ErrorAt(const Token& t, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(t.line, ":", t.column, ": ", message));
  }

  static std::string Show(const Token& t) {
    if (t.kind == Token::kEnd) return "end of formula";
    return absl::StrCat("\"", EscapeControls(t.text), "\"");
  }

  absl::Status Next() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) Advance(1);
    tok_ = Token();
    tok_.line = line_;
    tok_.column = column_;
    if (pos_ >= text_.size()) return absl::OkStatus();
    const char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      size_t end = pos_;
      while (end < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[end])) || text_[end] == '.')) ++end;
      if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
        size_t exp = end + 1;
        if (exp < text_.size() && (text_[exp] == '+' || text_[exp] == '-')) ++exp;
        if (exp < text_.size() && std::isdigit(static_cast<unsigned char>(text_[exp]))) {
          end = exp;
          while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
        }
      }
      tok_.kind = Token::kNumber;
      tok_.text = std::string(text_.substr(pos_, end - pos_));
      char* stop = nullptr;
      tok_.number = std::strtod(tok_.text.c_str(), &stop);
      if (stop != tok_.text.c_str() + tok_.text.size() || !std::isfinite(tok_.number))
        return ErrorAt(tok_, absl::StrCat("bad number \"", EscapeControls(tok_.text), "\""));
      Advance(end - pos_);
      return absl::OkStatus();
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos_;
      while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) ++end;
      tok_.kind = Token::kName;
      tok_.text = std::string(text_.substr(pos_, end - pos_));
      Advance(end - pos_);
      return absl::OkStatus();
    }
    static const char* const kSymbols[] = {"<=", ">=", "==", "!=", "+", "-", "*", "/", "^", "(", ")", ",", "<", ">"};
    for (const char* s : kSymbols) {
      const absl::string_view sym(s);
      if (text_.substr(pos_, sym.size()) == sym) {
        tok_.kind = Token::kSymbol;
        tok_.text = std::string(sym);
        Advance(sym.size());
        return absl::OkStatus();
      }
    }
    tok_.text = std::string(1, c);
    return ErrorAt(tok_, absl::StrCat("unexpected character ", Quoted(std::string(1, c))));
  }

  void Advance(size_t n) {
    for (size_t i = 0; i < n; ++i, ++pos_) {
      if (text_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(text_[pos_]) & 0xC0) != 0x80) {
        ++column_;  // columns count characters, not UTF-8 continuation bytes
      }
    }
  }

  bool IsSymbol(const char* s) const { return tok_.kind == Token::kSymbol && tok_.text == s; }

  absl::Status Count(const Token& at) {
    if (++nodes_ > kMaxFormulaNodes)
      return ErrorAt(at, absl::StrCat("the formula is too large: more than ", kMaxFormulaNodes,
                                      " numbers, names and operations"));
    return absl::OkStatus();
  }

  absl::StatusOr<int> Binary(Op op, int a, int b, const Token& at) {
    if (absl::Status s = Count(at); !s.ok()) return s;
    return b_->Make(op, a, b);
  }

  // comparison := additive [cmp additive]
  absl::StatusOr<int> Expression() {
    if (++depth_ > kMaxFormulaNesting)
      return ErrorAt(tok_, absl::StrCat("the formula nests more than ", kMaxFormulaNesting, " levels deep"));
    absl::StatusOr<int> left = Additive();
    if (!left.ok()) return left;
    static const std::pair<const char*, Op> kCompare[] = {{"<", Instruction::kLt}, {"<=", Instruction::kLe},
                                                          {">", Instruction::kGt}, {">=", Instruction::kGe},
                                                          {"==", Instruction::kEq}, {"!=", Instruction::kNe}};
    for (const auto& [sym, op] : kCompare) {
      if (!IsSymbol(sym)) continue;
      const Token at = tok_;
      if (absl::Status s = Next(); !s.ok()) return s;
      absl::StatusOr<int> right = Additive();
      if (!right.ok()) return right;
      for (const auto& [sym2, op2] : kCompare)
        if (IsSymbol(sym2))
          return ErrorAt(tok_, "comparisons do not chain: write where(a < b, where(b < c, ...), ...)");
      --depth_;
      return Binary(op, *left, *right, at);
    }
    --depth_;
    return left;
  }

  absl::StatusOr<int> Additive() {
    absl::StatusOr<int> left = Term();
    while (left.ok() && (IsSymbol("+") || IsSymbol("-"))) {
      const Token at = tok_;
      const Op op = IsSymbol("+") ? Instruction::kAdd : Instruction::kSub;
      if (absl::Status s = Next(); !s.ok()) return s;
      absl::StatusOr<int> right = Term();
      if (!right.ok()) return right;
      left = Binary(op, *left, *right, at);
    }
    return left;
  }

  absl::StatusOr<int> Term() {
    absl::StatusOr<int> left = Unary();
    while (left.ok() && (IsSymbol("*") || IsSymbol("/"))) {
      const Token at = tok_;
      const Op op = IsSymbol("*") ? Instruction::kMul : Instruction::kDiv;
      if (absl::Status s = Next(); !s.ok()) return s;
      absl::StatusOr<int> right = Unary();
      if (!right.ok()) return right;
      left = Binary(op, *left, *right, at);
    }
    return left;
  }

  absl::StatusOr<int> Unary() {
    if (IsSymbol("-")) {
      const Token at = tok_;
      if (++depth_ > kMaxFormulaNesting)
        return ErrorAt(tok_, absl::StrCat("the formula nests more than ", kMaxFormulaNesting, " levels deep"));
      if (absl::Status s = Next(); !s.ok()) return s;
      absl::StatusOr<int> operand = Unary();
      if (!operand.ok()) return operand;
      --depth_;
      if (absl::Status s = Count(at); !s.ok()) return s;
      return b_->Make(Instruction::kNeg, *operand);
    }
    return Power();
  }

  // power := primary ['^' unary]   (right-associative; 2^-x allowed)
  absl::StatusOr<int> Power() {
    absl::StatusOr<int> base = Primary();
    if (!base.ok() || !IsSymbol("^")) return base;
    const Token at = tok_;
    if (absl::Status s = Next(); !s.ok()) return s;
    absl::StatusOr<int> exponent = Unary();
    if (!exponent.ok()) return exponent;
    return Binary(Instruction::kPow, *base, *exponent, at);
  }

  absl::StatusOr<int> Primary() {
    const Token t = tok_;
    if (t.kind == Token::kEnd) return ErrorAt(t, "unexpected end of formula");
    if (absl::Status s = Count(t); !s.ok()) return s;
    if (t.kind == Token::kNumber) {
      if (absl::Status s = Next(); !s.ok()) return s;
      return b_->Const(t.number);
    }
    if (t.kind == Token::kSymbol && t.text == "(") {
      if (absl::Status s = Next(); !s.ok()) return s;
      absl::StatusOr<int> inner = Expression();
      if (!inner.ok()) return inner;
      if (!IsSymbol(")")) return ErrorAt(tok_, absl::StrCat("expected \")\", got ", Show(tok_)));
      if (absl::Status s = Next(); !s.ok()) return s;
      return inner;
    }
    if (t.kind != Token::kName) return ErrorAt(t, absl::StrCat("expected a number, a name or \"(\", got ", Show(t)));
    if (absl::Status s = Next(); !s.ok()) return s;
    if (IsSymbol("(")) return Call(t);
    if (t.text == "x") return b_->X();
    if (t.text == "pi") return b_->Const(M_PI, kPiName);
    if (t.text == "e") return b_->Const(M_E, kEName);
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i] == t.text) return b_->Param(int(i));
    if (FindFunction(t.text) != nullptr)
      return ErrorAt(t, absl::StrCat(t.text, " is a function: write ", t.text, "(...)"));
    std::vector<std::string> known = {"x", "pi", "e"};
    known.insert(known.end(), params_.begin(), params_.end());
    std::string message = absl::StrCat("unknown name \"", EscapeControls(Shown(t.text, 64)), "\"");
    const std::string near = Suggest(t.text, known);
    if (!near.empty()) return ErrorAt(t, absl::StrCat(message, "; did you mean \"", near, "\"?"));
    return ErrorAt(t, absl::StrCat(message, "; a formula knows x, pi, e",
                                   params_.empty() ? std::string(" and no parameters")
                                                   : absl::StrCat(" and its parameters ", absl::StrJoin(params_, ", "))));
  }

  absl::StatusOr<int> Call(const Token& name) {
    const Function* f = FindFunction(name.text);
    if (f == nullptr) {
      std::string message = absl::StrCat("unknown function \"", EscapeControls(Shown(name.text, 64)), "\"");
      const std::string near = Suggest(name.text, FunctionNames());
      if (!near.empty()) return ErrorAt(name, absl::StrCat(message, "; did you mean \"", near, "\"?"));
      return ErrorAt(name, absl::StrCat(message, "; the functions: ", absl::StrJoin(FunctionNames(), ", ")));
    }
    if (++depth_ > kMaxFormulaNesting)
      return ErrorAt(tok_, absl::StrCat("the formula nests more than ", kMaxFormulaNesting, " levels deep"));
    if (absl::Status s = Next(); !s.ok()) return s;  // past "("
    std::vector<int> args;
    if (!IsSymbol(")")) {
      while (true) {
        absl::StatusOr<int> arg = Expression();
        if (!arg.ok()) return arg;
        args.push_back(*arg);
        if (IsSymbol(",")) {
          if (absl::Status s = Next(); !s.ok()) return s;
          continue;
        }
        break;
      }
    }
    if (!IsSymbol(")")) return ErrorAt(tok_, absl::StrCat("expected \",\" or \")\", got ", Show(tok_)));
    if (int(args.size()) != f->arity)
      return ErrorAt(name, absl::StrCat(f->name, " takes ", f->arity, f->arity == 1 ? " argument" : " arguments",
                                        ", got ", args.size()));
    if (absl::Status s = Next(); !s.ok()) return s;
    --depth_;
    return b_->Make(f->op, args[0], args.size() > 1 ? args[1] : -1, args.size() > 2 ? args[2] : -1);
  }

  absl::string_view text_;
  const std::vector<std::string>& params_;
  Builder* b_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
  Token tok_;
  int nodes_ = 0;
  int depth_ = 0;
};

// ---- canonical text ------------------------------------------------------------------

int Precedence(const Node& n) {
  switch (n.op) {
    case Instruction::kLt: case Instruction::kLe: case Instruction::kGt: case Instruction::kGe:
    case Instruction::kEq: case Instruction::kNe: return 1;
    case Instruction::kAdd: case Instruction::kSub: return 2;
    case Instruction::kMul: case Instruction::kDiv: return 3;
    case Instruction::kNeg: return 4;
    case Instruction::kPow: return 5;
    case Instruction::kConst: return n.value < 0 ? 4 : 6;
    default: return 6;
  }
}

const char* Symbol(Op op) {
  switch (op) {
    case Instruction::kAdd: return " + ";
    case Instruction::kSub: return " - ";
    case Instruction::kMul: return " * ";
    case Instruction::kDiv: return " / ";
    case Instruction::kPow: return "^";
    case Instruction::kLt: return " < ";
    case Instruction::kLe: return " <= ";
    case Instruction::kGt: return " > ";
    case Instruction::kGe: return " >= ";
    case Instruction::kEq: return " == ";
    default: return " != ";
  }
}

void Print(const std::vector<Node>& nodes, const std::vector<std::string>& params, int i, std::string* out) {
  const Node& n = nodes[size_t(i)];
  auto child = [&](int c, bool parens) {
    if (parens) out->push_back('(');
    Print(nodes, params, c, out);
    if (parens) out->push_back(')');
  };
  switch (n.op) {
    case Instruction::kConst:
      if (n.param == kPiName) *out += "pi";
      else if (n.param == kEName) *out += "e";
      else *out += FormatNumber(n.value);
      return;
    case Instruction::kX: *out += "x"; return;
    case Instruction::kParam: *out += params[size_t(n.param)]; return;
    case Instruction::kNeg:
      out->push_back('-');
      child(n.a, Precedence(nodes[size_t(n.a)]) < 4 ||
                     (nodes[size_t(n.a)].op == Instruction::kConst && nodes[size_t(n.a)].value < 0));
      return;
    default: break;
  }
  const int p = Precedence(n);
  if (p <= 5) {
    const int pa = Precedence(nodes[size_t(n.a)]), pb = Precedence(nodes[size_t(n.b)]);
    if (n.op == Instruction::kPow) {
      child(n.a, pa <= 5);
      *out += Symbol(n.op);
      child(n.b, pb < 4);
    } else if (p == 1) {
      child(n.a, pa <= 1);
      *out += Symbol(n.op);
      child(n.b, pb <= 1);
    } else {
      child(n.a, pa < p);
      *out += Symbol(n.op);
      child(n.b, pb <= p);
    }
    return;
  }
  const Function* f = FunctionOf(n.op);
  *out += f->name;
  out->push_back('(');
  const int args[3] = {n.a, n.b, n.c};
  for (int k = 0; k < f->arity; ++k) {
    if (k > 0) *out += ", ";
    Print(nodes, params, args[k], out);
  }
  out->push_back(')');
}

// ---- derivatives and compilation ---------------------------------------------------------

// d(node)/d(wrt), where wrt is kX (wrt_param < 0) or learnable parameter wrt_param.
class Differentiator {
 public:
  Differentiator(Builder* b, int wrt_param) : b_(b), wrt_(wrt_param) {}

  int D(int i) {
    auto it = memo_.find(i);
    if (it != memo_.end()) return it->second;
    const int d = Compute(i);
    memo_.emplace(i, d);
    return d;
  }

 private:
  int Compute(int i) {
    const Node n = b_->at(i);  // a copy: Make() may grow the node vector
    Builder& b = *b_;
    switch (n.op) {
      case Instruction::kConst: return b.Const(0);
      case Instruction::kX: return b.Const(wrt_ < 0 ? 1 : 0);
      case Instruction::kParam: return b.Const(n.param == wrt_ && wrt_ >= 0 ? 1 : 0);
      case Instruction::kNeg: return b.Make(Instruction::kNeg, D(n.a));
      case Instruction::kAdd: return b.Make(Instruction::kAdd, D(n.a), D(n.b));
      case Instruction::kSub: return b.Make(Instruction::kSub, D(n.a), D(n.b));
      case Instruction::kMul:
        return b.Make(Instruction::kAdd, b.Make(Instruction::kMul, D(n.a), n.b), b.Make(Instruction::kMul, n.a, D(n.b)));
      case Instruction::kDiv: {
        // (da - (a / b) db) / b
        const int q = i;
        return b.Make(Instruction::kDiv, b.Make(Instruction::kSub, D(n.a), b.Make(Instruction::kMul, q, D(n.b))), n.b);
      }
      case Instruction::kPow: {
        const int db = D(n.b);
        if (b.IsConst(db, 0)) {
          // b a^(b-1) da, with b constant in what we differentiate by
          const int exponent = b.Make(Instruction::kSub, n.b, b.Const(1));
          return b.Make(Instruction::kMul, b.Make(Instruction::kMul, n.b, b.Make(Instruction::kPow, n.a, exponent)),
                        D(n.a));
        }
        // a^b (db log a + b da / a)
        const int inner = b.Make(Instruction::kAdd, b.Make(Instruction::kMul, db, b.Make(Instruction::kLog, n.a)),
                                 b.Make(Instruction::kDiv, b.Make(Instruction::kMul, n.b, D(n.a)), n.a));
        return b.Make(Instruction::kMul, i, inner);
      }
      case Instruction::kLt: case Instruction::kLe: case Instruction::kGt: case Instruction::kGe:
      case Instruction::kEq: case Instruction::kNe: return b.Const(0);
      case Instruction::kWhere: return b.Make(Instruction::kWhere, n.a, D(n.b), D(n.c));
      case Instruction::kMin: return b.Make(Instruction::kWhere, b.Make(Instruction::kLt, n.a, n.b), D(n.a), D(n.b));
      case Instruction::kMax: return b.Make(Instruction::kWhere, b.Make(Instruction::kGt, n.a, n.b), D(n.a), D(n.b));
      case Instruction::kAbs: {
        const int zero = b.Const(0);
        const int sign = b.Make(Instruction::kWhere, b.Make(Instruction::kGt, n.a, zero), b.Const(1),
                                b.Make(Instruction::kWhere, b.Make(Instruction::kLt, n.a, zero), b.Const(-1), zero));
        return b.Make(Instruction::kMul, sign, D(n.a));
      }
      case Instruction::kExp: return b.Make(Instruction::kMul, i, D(n.a));
      case Instruction::kLog: return b.Make(Instruction::kDiv, D(n.a), n.a);
      case Instruction::kLog1p: return b.Make(Instruction::kDiv, D(n.a), b.Make(Instruction::kAdd, b.Const(1), n.a));
      case Instruction::kSqrt: return b.Make(Instruction::kDiv, D(n.a), b.Make(Instruction::kMul, b.Const(2), i));
      case Instruction::kTanh:
        return b.Make(Instruction::kMul, b.Make(Instruction::kSub, b.Const(1), b.Make(Instruction::kMul, i, i)), D(n.a));
      case Instruction::kSigmoid:
        return b.Make(Instruction::kMul, b.Make(Instruction::kMul, i, b.Make(Instruction::kSub, b.Const(1), i)), D(n.a));
      case Instruction::kSoftplus: return b.Make(Instruction::kMul, b.Make(Instruction::kSigmoid, n.a), D(n.a));
      case Instruction::kErf: {
        const int gauss = b.Make(Instruction::kExp, b.Make(Instruction::kNeg, b.Make(Instruction::kMul, n.a, n.a)));
        return b.Make(Instruction::kMul, b.Make(Instruction::kMul, b.Const(2 / std::sqrt(M_PI)), gauss), D(n.a));
      }
      case Instruction::kSin: return b.Make(Instruction::kMul, b.Make(Instruction::kCos, n.a), D(n.a));
      case Instruction::kCos:
        return b.Make(Instruction::kMul, b.Make(Instruction::kNeg, b.Make(Instruction::kSin, n.a)), D(n.a));
    }
    return b.Const(0);
  }

  Builder* b_;
  int wrt_;
  std::map<int, int> memo_;
};

// Straight-line code for `outputs`: the nodes they need, in index order (children come
// before parents), registers reused once a value's last reader has run. Constants keep
// their registers for the whole program (the evaluator fills them once).
absl::StatusOr<Program> Linearize(const std::vector<Node>& nodes, const std::vector<int>& outputs) {
  std::vector<bool> needed(nodes.size(), false);
  for (int o : outputs) needed[size_t(o)] = true;
  for (size_t i = nodes.size(); i-- > 0;) {
    if (!needed[i]) continue;
    const Node& n = nodes[i];
    const int args[3] = {n.a, n.b, n.c};
    for (int k = 0; k < Arity(n.op); ++k) needed[size_t(args[k])] = true;
  }
  std::vector<int> last_use(nodes.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i]) continue;
    const Node& n = nodes[i];
    const int args[3] = {n.a, n.b, n.c};
    for (int k = 0; k < Arity(n.op); ++k) last_use[size_t(args[k])] = int(i);
  }
  for (int o : outputs) last_use[size_t(o)] = int(nodes.size());  // live to the end
  Program p;
  std::vector<int> reg(nodes.size(), -1);
  std::vector<int> free;
  // Constants and parameters first, each in a register of its own for the whole
  // program: the evaluator fills them once, not per block.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i] || (nodes[i].op != Instruction::kConst && nodes[i].op != Instruction::kParam)) continue;
    Instruction in;
    in.op = nodes[i].op;
    in.value = nodes[i].value;
    in.param = nodes[i].param;
    reg[i] = in.dst = p.registers++;
    p.code.push_back(in);
  }
  auto take = [&]() {
    if (!free.empty()) {
      const int r = free.back();
      free.pop_back();
      return r;
    }
    return p.registers++;
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i] || reg[i] >= 0) continue;
    const Node& n = nodes[i];
    Instruction in;
    in.op = n.op;
    in.value = n.value;
    in.param = n.param;
    const int args[3] = {n.a, n.b, n.c};
    int* operands[3] = {&in.a, &in.b, &in.c};
    for (int k = 0; k < Arity(n.op); ++k) *operands[k] = reg[size_t(args[k])];
    // Operands whose last reader this is free their registers before dst is taken, so
    // dst may be one of them (every kernel reads element e before writing element e).
    for (int k = 0; k < Arity(n.op); ++k) {
      const size_t arg = size_t(args[k]);
      if (last_use[arg] == int(i) && nodes[arg].op != Instruction::kConst && nodes[arg].op != Instruction::kParam &&
          std::find(free.begin(), free.end(), reg[arg]) == free.end())
        free.push_back(reg[arg]);
    }
    reg[i] = take();
    in.dst = reg[i];
    p.code.push_back(in);
    if (int(p.code.size()) > kMaxProgramInstructions)
      return absl::InvalidArgumentError(absl::StrCat("its derivatives are too large: more than ",
                                                     kMaxProgramInstructions, " operations"));
  }
  for (int o : outputs) p.outputs.push_back(reg[size_t(o)]);
  return p;
}

}  // namespace

absl::StatusOr<Formula> Formula::Parse(absl::string_view text, const std::vector<std::string>& params) {
  if (text.size() > kMaxFormulaBytes)
    return absl::InvalidArgumentError(
        absl::StrCat("the formula is too long: ", text.size(), " bytes; at most ", kMaxFormulaBytes, " are allowed"));
  if (params.size() > size_t(kMaxFormulaParams))
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxFormulaParams, " parameters, got ", params.size()));
  Builder builder(/*simplify=*/false);
  Parser parser(text, params, &builder);
  absl::StatusOr<int> root = parser.Run();
  if (!root.ok()) return root.status();
  Formula f;
  f.nodes_ = std::move(builder.nodes());
  f.params_ = params;
  f.root_ = *root;
  return f;
}

std::string Formula::Canonical() const {
  std::string out;
  Print(nodes_, params_, root_, &out);
  return out;
}

bool Formula::Uses(int param) const {
  for (const Node& n : nodes_)
    if (n.op == Instruction::kParam && n.param == param) return true;
  return false;
}

absl::StatusOr<CompiledActivation> Formula::Compile(const std::vector<double>& values,
                                                    const std::vector<int>& learnable) const {
  if (values.size() != params_.size())
    return absl::InvalidArgumentError(absl::StrCat("takes ", params_.size(), " parameter values, got ", values.size()));
  std::vector<int> slot(params_.size(), -1);
  for (size_t q = 0; q < learnable.size(); ++q) slot[size_t(learnable[q])] = int(q);
  // The formula again, simplified, with the fixed parameters as constants and the
  // learnable ones as per-unit inputs (kParam numbered by slot).
  Builder b(/*simplify=*/true);
  std::vector<int> map(nodes_.size(), -1);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    switch (n.op) {
      case Instruction::kConst: map[i] = b.Const(n.value); break;
      case Instruction::kX: map[i] = b.X(); break;
      case Instruction::kParam:
        map[i] = slot[size_t(n.param)] >= 0 ? b.Param(slot[size_t(n.param)]) : b.Const(values[size_t(n.param)]);
        break;
      default:
        map[i] = b.Make(n.op, n.a >= 0 ? map[size_t(n.a)] : -1, n.b >= 0 ? map[size_t(n.b)] : -1,
                        n.c >= 0 ? map[size_t(n.c)] : -1);
    }
  }
  const int f = map[size_t(root_)];
  Differentiator dx(&b, -1);
  const int dfdx = dx.D(f);
  std::vector<int> grads;
  for (size_t q = 0; q < learnable.size(); ++q) {
    Differentiator dp(&b, int(q));
    grads.push_back(dp.D(f));
  }
  CompiledActivation out;
  out.learnable = learnable;
  absl::StatusOr<Program> forward = Linearize(b.nodes(), {f, dfdx});
  if (!forward.ok()) return forward.status();
  out.forward = *std::move(forward);
  if (!grads.empty()) {
    absl::StatusOr<Program> gradient = Linearize(b.nodes(), grads);
    if (!gradient.ok()) return gradient.status();
    out.gradient = *std::move(gradient);
  }
  return out;
}

bool IsFormulaReservedName(absl::string_view name) {
  return name == "x" || name == "pi" || name == "e" || FindFunction(name) != nullptr;
}

namespace {

// Problems of a formula definition (without the activation path prefix).
void DefinitionProblems(absl::string_view name, absl::string_view text, const std::vector<std::string>& params,
                        const std::vector<double>& defaults, const std::vector<std::string>& learnable,
                        std::vector<std::string>* problems, std::string* canonical) {
  if (!IsIdentifier(name))
    problems->push_back(absl::StrCat("name ", Quoted(name), ": expected [a-z_][a-z0-9_]* of at most ",
                                     kMaxFormulaNameBytes, " bytes"));
  else if (FindActivation(std::string_view(name.data(), name.size())) != nullptr || IsFormulaReservedName(name))
    problems->push_back(absl::StrCat("name \"", name, "\" is taken by a built-in; choose another"));
  if (params.size() > size_t(kMaxFormulaParams))
    problems->push_back(absl::StrCat("params: at most ", kMaxFormulaParams, " parameters, got ", params.size()));
  std::set<std::string> seen;
  for (const std::string& p : params) {
    if (!IsIdentifier(p))
      problems->push_back(absl::StrCat("params: ", Quoted(p), " is not a name ([a-z_][a-z0-9_]*)"));
    else if (IsFormulaReservedName(p))
      problems->push_back(absl::StrCat("params: \"", p, "\" is taken by the language (x, pi, e and the functions)"));
    else if (!seen.insert(p).second)
      problems->push_back(absl::StrCat("params: \"", p, "\" given twice"));
  }
  if (defaults.size() != params.size())
    problems->push_back(absl::StrCat("params: ", params.size(), " names but ", defaults.size(), " values"));
  for (size_t i = 0; i < defaults.size() && i < params.size(); ++i)
    if (!std::isfinite(defaults[i]))
      problems->push_back(absl::StrCat("params.", params[i], ": must be a finite number, got ", FormatNumber(defaults[i])));
  std::set<std::string> learned;
  size_t last = 0;
  for (const std::string& l : learnable) {
    auto it = std::find(params.begin(), params.end(), l);
    if (it == params.end()) {
      std::string message = absl::StrCat("learnable: ", Quoted(l), " is not a parameter");
      const std::string near = Suggest(l, params);
      problems->push_back(params.empty() ? message + " (the formula has none)"
                          : near.empty() ? absl::StrCat(message, "; its parameters: ", absl::StrJoin(params, ", "))
                                         : absl::StrCat(message, "; did you mean \"", near, "\"?"));
    } else if (!learned.insert(l).second) {
      problems->push_back(absl::StrCat("learnable: \"", l, "\" given twice"));
    } else {
      last = std::max(last, size_t(it - params.begin()));
    }
  }
  if (!problems->empty()) return;
  absl::StatusOr<Formula> f = Formula::Parse(text, params);
  if (!f.ok()) {
    problems->push_back(absl::StrCat("f: ", f.status().message()));
    return;
  }
  *canonical = f->Canonical();
  if (canonical->size() > kMaxFormulaBytes) {
    // Numbers written out in full ("1e14" is "100000000000000") can make the
    // normalized text longer than the text: it has to parse again on every worker.
    problems->push_back(absl::StrCat("f: the formula is too long: ", canonical->size(), " bytes in normalized form; at most ",
                                     kMaxFormulaBytes, " are allowed"));
    return;
  }
  std::vector<int> slots;
  for (size_t i = 0; i < params.size(); ++i)
    if (learned.count(params[i])) slots.push_back(int(i));
  for (size_t i = 0; i < params.size(); ++i)
    if (!f->Uses(int(i))) problems->push_back(absl::StrCat("params: the formula does not use \"", params[i], "\""));
  if (!problems->empty()) return;
  absl::StatusOr<CompiledActivation> compiled = f->Compile(defaults, slots);
  if (!compiled.ok()) problems->push_back(absl::StrCat("f: ", compiled.status().message()));
}

}  // namespace

absl::StatusOr<v1::ActivationSpec> FormulaActivation(absl::string_view name, absl::string_view text,
                                                     const std::vector<std::string>& param_names,
                                                     const std::vector<double>& defaults,
                                                     const std::vector<std::string>& learnable) {
  std::vector<std::string> problems;
  std::string canonical;
  DefinitionProblems(name, text, param_names, defaults, learnable, &problems, &canonical);
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  v1::ActivationSpec spec;
  spec.set_kind(v1::ACTIVATION_KIND_FORMULA);
  v1::FormulaSpec* f = spec.mutable_formula();
  f->set_name(std::string(name));
  f->set_text(canonical);
  for (const std::string& p : param_names) f->add_params(p);
  for (double d : defaults) {
    f->add_defaults(d);
    spec.add_params(d);
  }
  // Learnable names in parameter order, so that equal definitions give equal specs.
  for (const std::string& p : param_names)
    if (std::find(learnable.begin(), learnable.end(), p) != learnable.end()) f->add_learnable(p);
  return spec;
}

namespace {

std::vector<std::string> ComputeFormulaProblems(const v1::ActivationSpec& spec) {
  std::vector<std::string> problems;
  const v1::FormulaSpec& f = spec.formula();
  const std::vector<std::string> params(f.params().begin(), f.params().end());
  const std::vector<double> defaults(f.defaults().begin(), f.defaults().end());
  const std::vector<std::string> learnable(f.learnable().begin(), f.learnable().end());
  std::vector<std::string> found;
  std::string canonical;
  DefinitionProblems(f.name(), f.text(), params, defaults, learnable, &found, &canonical);
  if (found.empty() && canonical != f.text())
    found.push_back(absl::StrCat("f: not in canonical form (", Quoted(canonical), ")"));
  if (found.empty()) {
    // Learnable names must be in parameter order (the canonical spec).
    std::vector<std::string> ordered;
    for (const std::string& p : params)
      if (std::find(learnable.begin(), learnable.end(), p) != learnable.end()) ordered.push_back(p);
    if (ordered != learnable) found.push_back("learnable: must list the parameters in their order");
  }
  if (size_t(spec.params_size()) != params.size()) {
    found.push_back(absl::StrCat("formula ", Quoted(f.name()), " takes ", params.size(), " parameter(s), got ",
                                 spec.params_size()));
  } else {
    for (int i = 0; i < spec.params_size(); ++i)
      if (!std::isfinite(spec.params(i)))
        found.push_back(absl::StrCat("formula ", Quoted(f.name()), " parameter ", params[size_t(i)],
                                     " must be finite, got ", FormatNumber(spec.params(i))));
  }
  if (found.empty()) {
    absl::StatusOr<Formula> parsed = Formula::Parse(f.text(), params);
    std::vector<int> slots;
    for (size_t i = 0; i < params.size(); ++i)
      if (std::find(learnable.begin(), learnable.end(), params[i]) != learnable.end()) slots.push_back(int(i));
    absl::StatusOr<CompiledActivation> compiled =
        parsed->Compile(std::vector<double>(spec.params().begin(), spec.params().end()), slots);
    if (!compiled.ok()) found.push_back(absl::StrCat("f: ", compiled.status().message()));
  }
  for (std::string& p : found) problems.push_back(absl::StrCat("model.activation: ", std::move(p)));
  return problems;
}

}  // namespace

// A grid repeats one formula in thousands of trials, and parsing and compiling it costs
// up to a millisecond: the answers for the last few hundred distinct specs are kept.
std::vector<std::string> FormulaProblems(const v1::ActivationSpec& spec) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::vector<std::string>> cache;  // GUARDED_BY(mu)
  constexpr size_t kMaxCached = 512;
  const std::string key = DeterministicBytes(spec);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  std::vector<std::string> problems = ComputeFormulaProblems(spec);
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxCached) cache.clear();
  cache.emplace(key, problems);
  return problems;
}

}  // namespace actgrid::spec
