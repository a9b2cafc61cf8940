// Go's fmt as templates use it: Sprint, Sprintln and Sprintf with Go's verbs,
// flags, widths, argument indexes and %!verb(type=value) errors.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <vector>

#include "common/go_strconv.h"
#include "common/utf8.h"
#include "template/go_format.h"

namespace nimify::tmpl {

namespace {

constexpr std::string_view kLowerHex = "0123456789abcdefx";
constexpr std::string_view kUpperHex = "0123456789ABCDEFX";
using internal::kMaxRune;
using internal::kRuneError;

}  // namespace

namespace {

struct Flags {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool plus_v = false, sharp_v = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

class Printer {
 public:
  std::string buf;
  Flags f;

  void PrintArg(const Value& arg, std::int32_t verb);
  void DoPrint(std::span<const Value> args, bool newline);
  void DoPrintf(std::string_view format, std::span<const Value> args);

 private:
  void WritePadding(int n) {
    if (n <= 0) return;
    buf.append(static_cast<std::size_t>(n), f.zero ? '0' : ' ');
  }
  void Pad(std::string_view s) {
    if (!f.wid_present || f.wid == 0) {
      buf.append(s);
      return;
    }
    const int width = f.wid - static_cast<int>(RuneCount(s));
    if (!f.minus) {
      WritePadding(width);
      buf.append(s);
    } else {
      buf.append(s);
      WritePadding(width);
    }
  }
  std::string_view Truncate(std::string_view s) const {
    if (!f.prec_present) return s;
    int n = f.prec;
    for (std::size_t i = 0; i < s.size();) {
      --n;
      if (n < 0) return s.substr(0, i);
      int w = 1;
      DecodeRune(s.substr(i), &w);
      i += static_cast<std::size_t>(w);
    }
    return s;
  }

  void BadVerb(std::int32_t verb);
  void FmtBool(bool v, std::int32_t verb);
  void FmtInteger(std::uint64_t u, bool is_signed, std::int32_t verb);
  void FmtIntegerBase(std::uint64_t u, int base, bool is_signed, std::int32_t verb,
                      std::string_view digits);
  void FmtUnicode(std::uint64_t u);
  void IntegerField(std::uint64_t u, bool is_signed, const char* type_name, std::int32_t verb);
  void FmtFloat(double v, std::int32_t verb);
  void FmtComplex(std::complex<double> v, std::int32_t verb);
  void FmtFloatPrec(double v, char verb, int prec);
  void FmtString(std::string_view s, std::int32_t verb);
  void FmtQ(std::string_view s);
  void FmtSx(std::string_view s, std::string_view digits);
  bool HandleMethods(const Value& v, std::int32_t verb);
  void PrintValue(const Value& v, std::int32_t verb, int depth);

  const Value* arg_ = nullptr;  // the operand being printed, for %!verb(type=value)
  bool erroring_ = false;
};

void Printer::BadVerb(std::int32_t verb) {
  erroring_ = true;
  buf.append("%!");
  AppendRune(&buf, verb);
  buf.push_back('(');
  if (arg_ != nullptr && arg_->valid()) {
    buf.append(arg_->TypeName());
    buf.push_back('=');
    const Value copy = *arg_;
    PrintArg(copy, 'v');
  } else {
    buf.append("<nil>");
  }
  buf.push_back(')');
  erroring_ = false;
}

void Printer::FmtBool(bool v, std::int32_t verb) {
  if (verb == 't' || verb == 'v') {
    Pad(v ? "true" : "false");
  } else {
    BadVerb(verb);
  }
}

void Printer::FmtIntegerBase(std::uint64_t u, int base, bool is_signed, std::int32_t verb,
                             std::string_view digits) {
  const bool negative = is_signed && static_cast<std::int64_t>(u) < 0;
  if (negative) u = ~u + 1;
  int prec = 0;
  if (f.prec_present) {
    prec = f.prec;
    if (prec == 0 && u == 0) {
      const bool old_zero = f.zero;
      f.zero = false;
      WritePadding(f.wid);
      f.zero = old_zero;
      return;
    }
  } else if (f.zero && f.wid_present) {
    prec = f.wid;
    if (negative || f.plus || f.space) --prec;  // leave room for the sign
  }
  std::string rev;
  do {
    rev.push_back(digits[u % static_cast<unsigned>(base)]);
    u /= static_cast<unsigned>(base);
  } while (u > 0);
  while (static_cast<int>(rev.size()) < prec) rev.push_back('0');
  if (f.sharp) {
    switch (base) {
      case 2:
        rev.append("b0");
        break;
      case 8:
        if (rev.back() != '0') rev.push_back('0');
        break;
      case 16:
        rev.push_back(digits[16]);
        rev.push_back('0');
        break;
      default:
        break;
    }
  }
  if (verb == 'O') rev.append("o0");
  if (negative) {
    rev.push_back('-');
  } else if (f.plus) {
    rev.push_back('+');
  } else if (f.space) {
    rev.push_back(' ');
  }
  std::reverse(rev.begin(), rev.end());
  const bool old_zero = f.zero;
  f.zero = false;
  Pad(rev);
  f.zero = old_zero;
}

void Printer::FmtUnicode(std::uint64_t u) {
  std::string s = "U+";
  char hex[20];
  auto r = std::to_chars(hex, hex + sizeof hex, u, 16);
  std::string h(hex, r.ptr);
  std::transform(h.begin(), h.end(), h.begin(), ::toupper);
  int prec = 4;
  if (f.prec_present && f.prec > 4) prec = f.prec;
  while (static_cast<int>(h.size()) < prec) h.insert(h.begin(), '0');
  s += h;
  if (f.sharp && u <= static_cast<std::uint64_t>(kMaxRune) &&
      IsPrintRune(static_cast<std::int32_t>(u))) {
    s += " '";
    AppendRune(&s, static_cast<std::int32_t>(u));
    s += "'";
  }
  const bool old_zero = f.zero;
  f.zero = false;
  Pad(s);
  f.zero = old_zero;
}

void Printer::FmtInteger(std::uint64_t u, bool is_signed, std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'd':
      FmtIntegerBase(u, 10, is_signed, verb, kLowerHex);
      return;
    case 'b':
      FmtIntegerBase(u, 2, is_signed, verb, kLowerHex);
      return;
    case 'o':
    case 'O':
      FmtIntegerBase(u, 8, is_signed, verb, kLowerHex);
      return;
    case 'x':
      FmtIntegerBase(u, 16, is_signed, verb, kLowerHex);
      return;
    case 'X':
      FmtIntegerBase(u, 16, is_signed, verb, kUpperHex);
      return;
    case 'c': {
      std::string s;
      AppendRune(
          &s, u > static_cast<std::uint64_t>(kMaxRune) ? kRuneError : static_cast<std::int32_t>(u));
      Pad(s);
      return;
    }
    case 'q': {
      std::int32_t r =
          u > static_cast<std::uint64_t>(kMaxRune) ? kRuneError : static_cast<std::int32_t>(u);
      if (f.sharp && IsPrintRune(r)) {
        std::string s = "'";
        AppendRune(&s, r);
        s += "'";
        Pad(s);
      } else {
        Pad(QuoteRune(r));
      }
      return;
    }
    case 'U':
      FmtUnicode(u);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtFloatPrec(double v, char verb, int prec) {
  if (f.prec_present) prec = f.prec;
  std::string num = FormatFloat(v, verb, prec);
  if (num[0] == '-' || num[0] == '+') {
    // keep the sign
  } else {
    num.insert(num.begin(), '+');
  }
  if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
  if (num[1] == 'I' || num[1] == 'N') {
    const bool old_zero = f.zero;
    f.zero = false;
    if (num[1] == 'N' && !f.space && !f.plus) num.erase(0, 1);
    Pad(num);
    f.zero = old_zero;
    return;
  }
  if (f.sharp && verb != 'b') {
    int digits = 0;
    if (verb == 'v' || verb == 'g' || verb == 'G' || verb == 'x') {
      digits = prec;
      if (digits == -1) digits = 6;
    }
    std::string tail;
    bool has_dot = false, saw_nonzero = false;
    for (std::size_t i = 1; i < num.size(); ++i) {
      const char c = num[i];
      if (c == '.') {
        has_dot = true;
      } else if (c == 'p' || c == 'P') {
        tail = num.substr(i);
        num.resize(i);
        break;
      } else if ((c == 'e' || c == 'E') && verb != 'x' && verb != 'X') {
        tail = num.substr(i);
        num.resize(i);
        break;
      } else {
        if (c != '0') saw_nonzero = true;
        if (saw_nonzero) --digits;
      }
    }
    if (!has_dot) {
      if (num.size() == 2 && num[1] == '0') --digits;
      num.push_back('.');
    }
    while (digits > 0) {
      num.push_back('0');
      --digits;
    }
    num += tail;
  }
  if (f.plus || num[0] != '+') {
    if (f.zero && f.wid_present && f.wid > static_cast<int>(num.size())) {
      buf.push_back(num[0]);
      WritePadding(f.wid - static_cast<int>(num.size()));
      buf.append(num, 1);
      return;
    }
    Pad(num);
    return;
  }
  Pad(std::string_view(num).substr(1));
}

void Printer::FmtFloat(double v, std::int32_t verb) {
  switch (verb) {
    case 'v':
      FmtFloatPrec(v, 'g', -1);
      return;
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X':
      FmtFloatPrec(v, static_cast<char>(verb), -1);
      return;
    case 'f':
    case 'e':
    case 'E':
      FmtFloatPrec(v, static_cast<char>(verb), 6);
      return;
    case 'F':
      FmtFloatPrec(v, 'f', 6);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtComplex(std::complex<double> v, std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X':
    case 'f':
    case 'F':
    case 'e':
    case 'E': {
      const bool old_plus = f.plus;
      buf.push_back('(');
      FmtFloat(v.real(), verb);
      f.plus = true;  // the imaginary part always has a sign
      FmtFloat(v.imag(), verb);
      buf.append("i)");
      f.plus = old_plus;
      return;
    }
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtQ(std::string_view s) {
  s = Truncate(s);
  if (f.sharp && CanBackquote(s)) {
    Pad("`" + std::string(s) + "`");
    return;
  }
  Pad(f.plus ? QuoteToAscii(s) : Quote(s));
}

void Printer::FmtSx(std::string_view s, std::string_view digits) {
  int length = static_cast<int>(s.size());
  if (f.prec_present && f.prec < length) length = f.prec;
  int width = 2 * length;
  if (width > 0) {
    if (f.space) {
      if (f.sharp) width *= 2;
      width += length - 1;
    } else if (f.sharp) {
      width += 2;
    }
  } else {
    if (f.wid_present) WritePadding(f.wid);
    return;
  }
  if (f.wid_present && f.wid > width && !f.minus) WritePadding(f.wid - width);
  if (f.sharp) {
    buf.push_back('0');
    buf.push_back(digits[16]);
  }
  for (int i = 0; i < length; ++i) {
    if (f.space && i > 0) {
      buf.push_back(' ');
      if (f.sharp) {
        buf.push_back('0');
        buf.push_back(digits[16]);
      }
    }
    const auto c = static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
    buf.push_back(digits[c >> 4]);
    buf.push_back(digits[c & 0xF]);
  }
  if (f.wid_present && f.wid > width && f.minus) WritePadding(f.wid - width);
}

void Printer::FmtString(std::string_view s, std::int32_t verb) {
  switch (verb) {
    case 'v':
      if (f.sharp_v) {
        FmtQ(s);
      } else {
        Pad(Truncate(s));
      }
      return;
    case 's':
      Pad(Truncate(s));
      return;
    case 'x':
      FmtSx(s, kLowerHex);
      return;
    case 'X':
      FmtSx(s, kUpperHex);
      return;
    case 'q':
      FmtQ(s);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

// Stringer types (time.Time, time.Duration) print their String() for v s x X q.
bool Printer::HandleMethods(const Value& v, std::int32_t verb) {
  if (erroring_) return false;
  if (v.kind() != Kind::kTime && v.kind() != Kind::kDuration) return false;
  switch (verb) {
    case 'v':
    case 's':
    case 'x':
    case 'X':
    case 'q':
      FmtString(
          v.kind() == Kind::kTime ? FormatTime(v.AsTime()) : FormatDuration(v.AsDuration().nanos),
          verb);
      return true;
    default:
      return false;
  }
}

void Printer::PrintValue(const Value& v, std::int32_t verb, int depth) {
  if (depth > 0 && v.valid()) {
    arg_ = &v;
    if (HandleMethods(v, verb)) return;
  }
  arg_ = &v;
  switch (v.kind()) {
    case Kind::kInvalid:
      // Only reachable inside containers: a nil interface{} element.
      if (f.sharp_v) {
        buf.append("interface {}(nil)");
      } else {
        buf.append("<nil>");
      }
      return;
    case Kind::kBool:
      FmtBool(v.AsBool(), verb);
      return;
    case Kind::kInt:
      FmtInteger(static_cast<std::uint64_t>(v.AsInt()), true, verb);
      return;
    case Kind::kFloat:
      FmtFloat(v.AsFloat(), verb);
      return;
    case Kind::kComplex:
      FmtComplex(v.AsComplex(), verb);
      return;
    case Kind::kString:
      FmtString(v.AsString(), verb);
      return;
    case Kind::kMap: {
      const MapValue* m = v.AsMap();
      if (f.sharp_v) {
        buf.append(v.TypeName());
        if (m == nullptr) {
          buf.append("(nil)");
          return;
        }
        buf.push_back('{');
      } else {
        buf.append("map[");
      }
      if (m != nullptr) {
        bool first = true;
        for (const auto& [key, elem] : m->entries) {
          if (!first) buf.append(f.sharp_v ? ", " : " ");
          first = false;
          const Value k = Value::String(key);
          PrintValue(k, verb, depth + 1);
          buf.push_back(':');
          PrintValue(elem, verb, depth + 1);
        }
      }
      buf.push_back(f.sharp_v ? '}' : ']');
      return;
    }
    case Kind::kList: {
      const ListValue* l = v.AsList();
      if (f.sharp_v) {
        buf.append(v.TypeName());
        if (l == nullptr) {
          buf.append("(nil)");
          return;
        }
        buf.push_back('{');
      } else {
        buf.push_back('[');
      }
      if (l != nullptr) {
        for (std::size_t i = 0; i < l->items.size(); ++i) {
          if (i > 0) buf.append(f.sharp_v ? ", " : " ");
          PrintValue(l->items[i], verb, depth + 1);
        }
      }
      buf.push_back(f.sharp_v ? '}' : ']');
      return;
    }
    case Kind::kStruct: {
      const StructValue* s = v.AsStruct();
      if (f.sharp_v) buf.append(s->type_name);
      buf.push_back('{');
      for (std::size_t i = 0; i < s->fields.size(); ++i) {
        if (i > 0) buf.append(f.sharp_v ? ", " : " ");
        if (f.plus_v || f.sharp_v) {
          buf.append(s->fields[i].first);
          buf.push_back(':');
        }
        PrintValue(s->fields[i].second, verb, depth + 1);
      }
      buf.push_back('}');
      return;
    }
    case Kind::kSample: {
      const SampleValue* s = v.AsSample();
      if (s == nullptr) {
        // fmt prints a nil pointer as <nil> for %v and as 0x0 otherwise.
        if (verb == 'v') {
          Pad("<nil>");
        } else {
          BadVerb(verb);
        }
        return;
      }
      if (depth > 0) {
        // Go prints a nested pointer as its address for v/p and the integer verbs,
        // and as a bad verb otherwise; an address is neither useful nor stable, so
        // nimify prints the contents instead.
        switch (verb) {
          case 'v':
          case 'p':
          case 'b':
          case 'o':
          case 'd':
          case 'x':
          case 'X':
            break;
          default:
            BadVerb(verb);
            return;
        }
      }
      if (f.sharp_v) {
        buf.append("&template.sample{Labels:");
      } else {
        buf.append("&{");
        if (f.plus_v) buf.append("Labels:");
      }
      PrintValue(s->labels, verb, depth + 1);
      buf.append(f.sharp_v ? ", Value:" : f.plus_v ? " Value:" : " ");
      const Value val = Value::Float(s->value);
      PrintValue(val, verb, depth + 1);
      buf.push_back('}');
      return;
    }
    case Kind::kTime: {
      // Without String() (a non-string verb, or inside a %!verb(...) error), Go
      // prints the *time.Time struct: &{wall ext loc}; a UTC time has wall = the
      // nanoseconds, ext = seconds since year 1 and a nil loc.
      const TimeValue& t = v.AsTime();
      buf.append("&{");
      IntegerField(static_cast<std::uint64_t>(t.nsec), false, "uint64", verb);
      buf.push_back(' ');
      IntegerField(static_cast<std::uint64_t>(t.unix_sec + 62135596800), true, "int64", verb);
      buf.push_back(' ');
      switch (verb) {
        case 'v':
          buf.append("<nil>");
          break;
        case 'b':
        case 'o':
        case 'd':
        case 'x':
        case 'X':
          FmtIntegerBase(0,
                         verb == 'b'   ? 2
                         : verb == 'o' ? 8
                         : verb == 'd' ? 10
                                       : 16,
                         false, verb, verb == 'X' ? kUpperHex : kLowerHex);
          break;
        default:
          buf.append("%!");
          AppendRune(&buf, verb);
          buf.append("(*time.Location=<nil>)");
      }
      buf.push_back('}');
      return;
    }
    case Kind::kDuration:
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        // Reached while printing a %!verb(...) error, where Go skips String().
        FmtString(FormatDuration(v.AsDuration().nanos), verb);
        return;
      }
      FmtInteger(static_cast<std::uint64_t>(v.AsDuration().nanos), true, verb);
      return;
  }
}

// An integer struct field of Go type `type_name`, printed with `verb`.
void Printer::IntegerField(std::uint64_t u, bool is_signed, const char* type_name,
                           std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'd':
    case 'b':
    case 'o':
    case 'O':
    case 'x':
    case 'X':
    case 'c':
    case 'q':
    case 'U':
      FmtInteger(u, is_signed, verb);
      return;
    default:
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.push_back('(');
      buf.append(type_name);
      buf.push_back('=');
      buf.append(is_signed ? std::to_string(static_cast<std::int64_t>(u)) : std::to_string(u));
      buf.push_back(')');
  }
}

void Printer::PrintArg(const Value& arg, std::int32_t verb) {
  arg_ = &arg;
  if (!arg.valid()) {
    if (verb == 'T' || verb == 'v') {
      Pad("<nil>");
    } else {
      BadVerb(verb);
    }
    return;
  }
  if (verb == 'T') {
    Pad(Truncate(arg.TypeName()));
    return;
  }
  if (verb == 'p') {
    BadVerb(verb);
    return;
  }
  switch (arg.kind()) {
    case Kind::kBool:
      FmtBool(arg.AsBool(), verb);
      return;
    case Kind::kFloat:
      FmtFloat(arg.AsFloat(), verb);
      return;
    case Kind::kComplex:
      FmtComplex(arg.AsComplex(), verb);
      return;
    case Kind::kInt:
      FmtInteger(static_cast<std::uint64_t>(arg.AsInt()), true, verb);
      return;
    case Kind::kString:
      if (!arg.IsHtml()) {
        FmtString(arg.AsString(), verb);
        return;
      }
      break;
    default:
      break;
  }
  if (!HandleMethods(arg, verb)) PrintValue(arg, verb, 0);
}

void Printer::DoPrint(std::span<const Value> args, bool newline) {
  bool prev_string = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool is_string = args[i].kind() == Kind::kString;
    if (newline) {
      if (i > 0) buf.push_back(' ');
    } else if (i > 0 && !is_string && !prev_string) {
      buf.push_back(' ');
    }
    f = Flags{};
    PrintArg(args[i], 'v');
    prev_string = is_string;
  }
  if (newline) buf.push_back('\n');
}

constexpr int kTooLarge = 1000000;

// Go's parsenum: a decimal number at s[start:end); fails above 1e6.
bool ParseNum(std::string_view s, std::size_t start, std::size_t end, int* num, std::size_t* newi) {
  *num = 0;
  bool isnum = false;
  std::size_t i = start;
  if (start >= end) {
    *newi = end;
    return false;
  }
  for (; i < end && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (*num > kTooLarge) {
      *num = 0;
      *newi = end;
      return false;
    }
    *num = *num * 10 + (s[i] - '0');
    isnum = true;
  }
  *newi = i;
  return isnum;
}

void Printer::DoPrintf(std::string_view format, std::span<const Value> args) {
  const std::size_t end = format.size();
  std::size_t arg_num = 0;
  bool after_index = false;
  bool reordered = false;
  bool good_arg_num = true;

  // Go's argNumber: an explicit [n] index.
  auto arg_number = [&](std::size_t i) -> std::size_t {
    after_index = false;
    if (i >= end || format[i] != '[') return i;
    reordered = true;
    // parseArgNumber
    std::string_view rest = format.substr(i);
    if (rest.size() < 3) {
      good_arg_num = false;
      return i + 1;
    }
    for (std::size_t j = 1; j < rest.size(); ++j) {
      if (rest[j] == ']') {
        int width = 0;
        std::size_t newi = 0;
        const bool ok = ParseNum(rest, 1, j, &width, &newi);
        if (!ok || newi != j) {
          good_arg_num = false;
          return i + j + 1;
        }
        const int index = width - 1;
        if (index >= 0 && static_cast<std::size_t>(index) < args.size()) {
          arg_num = static_cast<std::size_t>(index);
          after_index = true;
          return i + j + 1;
        }
        good_arg_num = false;
        after_index = true;
        return i + j + 1;
      }
    }
    good_arg_num = false;
    return i + 1;
  };
  auto int_from_arg = [&](int* num) -> bool {
    bool is_int = false;
    *num = 0;
    if (arg_num < args.size()) {
      if (args[arg_num].kind() == Kind::kInt) {
        const std::int64_t n = args[arg_num].AsInt();
        if (n <= kTooLarge && n >= -kTooLarge) {
          *num = static_cast<int>(n);
          is_int = true;
        }
      }
      ++arg_num;
    }
    return is_int;
  };

  for (std::size_t i = 0; i < end;) {
    good_arg_num = true;
    const std::size_t lasti = i;
    while (i < end && format[i] != '%') ++i;
    if (i > lasti) buf.append(format.substr(lasti, i - lasti));
    if (i >= end) break;
    ++i;  // skip %
    f = Flags{};
    bool simple_done = false;
    for (; i < end; ++i) {
      const char c = format[i];
      if (c == '#') {
        f.sharp = true;
      } else if (c == '0') {
        f.zero = !f.minus;
      } else if (c == '+') {
        f.plus = true;
      } else if (c == '-') {
        f.minus = true;
        f.zero = false;
      } else if (c == ' ') {
        f.space = true;
      } else {
        if (c >= 'a' && c <= 'z' && arg_num < args.size()) {
          if (c == 'v') {
            f.sharp_v = f.sharp;
            f.sharp = false;
            f.plus_v = f.plus;
            f.plus = false;
          }
          PrintArg(args[arg_num], c);
          ++arg_num;
          ++i;
          simple_done = true;
        }
        break;
      }
    }
    if (simple_done) continue;

    i = arg_number(i);
    if (i < end && format[i] == '*') {
      ++i;
      f.wid_present = int_from_arg(&f.wid);
      if (!f.wid_present) buf.append("%!(BADWIDTH)");
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      after_index = false;
    } else {
      std::size_t newi = i;
      f.wid_present = ParseNum(format, i, end, &f.wid, &newi);
      i = newi;
      if (after_index && f.wid_present) good_arg_num = false;
    }
    if (i + 1 < end && format[i] == '.') {
      ++i;
      if (after_index) good_arg_num = false;
      i = arg_number(i);
      if (i < end && format[i] == '*') {
        ++i;
        f.prec_present = int_from_arg(&f.prec);
        if (f.prec < 0) {
          f.prec = 0;
          f.prec_present = false;
        }
        if (!f.prec_present) buf.append("%!(BADPREC)");
        after_index = false;
      } else {
        std::size_t newi = i;
        f.prec_present = ParseNum(format, i, end, &f.prec, &newi);
        i = newi;
        if (!f.prec_present) {
          f.prec = 0;
          f.prec_present = true;
        }
      }
    }
    if (!after_index) i = arg_number(i);
    if (i >= end) {
      buf.append("%!(NOVERB)");
      break;
    }
    int size = 1;
    std::int32_t verb = static_cast<unsigned char>(format[i]);
    if (verb >= 0x80) verb = DecodeRune(format.substr(i), &size);
    i += static_cast<std::size_t>(size);

    if (verb == '%') {
      buf.push_back('%');
    } else if (!good_arg_num) {
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.append("(BADINDEX)");
    } else if (arg_num >= args.size()) {
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.append("(MISSING)");
    } else {
      if (verb == 'v') {
        f.sharp_v = f.sharp;
        f.sharp = false;
        f.plus_v = f.plus;
        f.plus = false;
      }
      PrintArg(args[arg_num], verb);
      ++arg_num;
    }
  }
  if (!reordered && arg_num < args.size()) {
    f = Flags{};
    buf.append("%!(EXTRA ");
    for (std::size_t i = arg_num; i < args.size(); ++i) {
      if (i > arg_num) buf.append(", ");
      if (!args[i].valid()) {
        buf.append("<nil>");
      } else {
        buf.append(args[i].TypeName());
        buf.push_back('=');
        PrintArg(args[i], 'v');
      }
    }
    buf.push_back(')');
  }
}

}  // namespace

std::string Sprint(std::span<const Value> args) {
  Printer p;
  p.DoPrint(args, false);
  return std::move(p.buf);
}

std::string Sprintln(std::span<const Value> args) {
  Printer p;
  p.DoPrint(args, true);
  return std::move(p.buf);
}

std::string Sprintf(std::string_view format, std::span<const Value> args) {
  Printer p;
  p.DoPrintf(format, args);
  return std::move(p.buf);
}

std::string FormatUnicodeSharp(std::int32_t r) {
  char hex[16];
  auto res = std::to_chars(hex, hex + sizeof hex, static_cast<std::uint32_t>(r), 16);
  std::string h(hex, res.ptr);
  std::transform(h.begin(), h.end(), h.begin(), ::toupper);
  while (h.size() < 4) h.insert(h.begin(), '0');
  std::string s = "U+" + h;
  if (IsPrintRune(r)) {
    s += " '";
    AppendRune(&s, r);
    s += "'";
  }
  return s;
}

}  // namespace nimify::tmpl
