#include "promql/lexer.h"

#include <array>
#include <cstdio>
#include <utility>

#include "common/go_strconv.h"
#include "common/utf8.h"

namespace nimify::promql {

namespace {

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kHexDigits = "0123456789abcdefABCDEF";

bool IsSpace(int c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(int c) noexcept { return c >= '0' && c <= '9'; }
bool IsAlpha(int c) noexcept {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAlphaNumeric(int c) noexcept { return IsAlpha(c) || IsDigit(c); }

char ToLowerAscii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

struct Keyword {
  std::string_view word;
  TokenType type;
};

// Lower-case keywords; "inf" and "nan" lex as numbers.
constexpr std::array<Keyword, 39> kKeywords = {{
    {"and", TokenType::kLand},
    {"or", TokenType::kLor},
    {"unless", TokenType::kLunless},
    {"atan2", TokenType::kAtan2},
    {"sum", TokenType::kSum},
    {"avg", TokenType::kAvg},
    {"count", TokenType::kCount},
    {"min", TokenType::kMin},
    {"max", TokenType::kMax},
    {"group", TokenType::kGroup},
    {"stddev", TokenType::kStddev},
    {"stdvar", TokenType::kStdvar},
    {"topk", TokenType::kTopk},
    {"bottomk", TokenType::kBottomk},
    {"count_values", TokenType::kCountValues},
    {"quantile", TokenType::kQuantile},
    {"limitk", TokenType::kLimitk},
    {"limit_ratio", TokenType::kLimitRatio},
    {"offset", TokenType::kOffset},
    {"smoothed", TokenType::kSmoothed},
    {"anchored", TokenType::kAnchored},
    {"by", TokenType::kBy},
    {"without", TokenType::kWithout},
    {"on", TokenType::kOn},
    {"ignoring", TokenType::kIgnoring},
    {"group_left", TokenType::kGroupLeft},
    {"group_right", TokenType::kGroupRight},
    {"fill", TokenType::kFill},
    {"fill_left", TokenType::kFillLeft},
    {"fill_right", TokenType::kFillRight},
    {"bool", TokenType::kBool},
    {"start", TokenType::kStart},
    {"end", TokenType::kEnd},
    {"step", TokenType::kStep},
    {"range", TokenType::kRange},
    {"max_of", TokenType::kMaxOf},
    {"min_of", TokenType::kMinOf},
    {"inf", TokenType::kNumber},
    {"nan", TokenType::kNumber},
}};

bool LookupKeyword(std::string_view lower_word, TokenType* type) {
  for (const auto& k : kKeywords) {
    if (k.word == lower_word) {
      *type = k.type;
      return true;
    }
  }
  return false;
}

// Keywords that may appear inside `[...]` (duration expressions).
bool LookupDurationKeyword(std::string_view lower_word, TokenType* type) {
  if (lower_word == "step") {
    *type = TokenType::kStep;
  } else if (lower_word == "range") {
    *type = TokenType::kRange;
  } else if (lower_word == "max_of") {
    *type = TokenType::kMaxOf;
  } else if (lower_word == "min_of") {
    *type = TokenType::kMinOf;
  } else {
    return false;
  }
  return true;
}

bool IsDurationKeywordStart(int c) noexcept {
  const char lower = ToLowerAscii(static_cast<char>(c));
  return c >= 0 && (lower == 's' || lower == 'r' || lower == 'm');
}

// Decodes the code point at `pos` (< s.size()), as Go's utf8.DecodeRuneInString.
std::int32_t DecodeRune(std::string_view s, std::size_t pos, int* width) noexcept {
  return internal::DecodeUtf8(s.substr(pos), width);
}

// Go's %.10q: the first 10 runes, quoted.
std::string QuoteTruncated(std::string_view s) {
  std::size_t pos = 0;
  for (int runes = 0; runes < 10 && pos < s.size(); ++runes) {
    int width = 1;
    DecodeRune(s, pos, &width);
    pos += static_cast<std::size_t>(width);
  }
  return GoQuote(s.substr(0, pos));
}

// Go's %#U: "U+0063 'c'", or just "U+0007" when not printable.
std::string GoRuneCodePoint(std::int32_t r) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(r));
  std::string out = buf;
  if (internal::IsGoPrint(r)) {
    out += " '";
    internal::AppendUtf8(r, &out);
    out += "'";
  }
  return out;
}

int DigitValue(int c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 16;
}

}  // namespace

std::string GoQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  internal::AppendGoQuoted(s, internal::GoQuoteStyle{.escape_replacement_char = true}, &out);
  return out;
}

std::string GoQuoteRune(std::int32_t rune) { return internal::GoQuoteRune(rune); }

bool IsOperatorToken(TokenType t) noexcept {
  return t >= TokenType::kAdd && t <= TokenType::kAtan2;
}
bool IsAggregatorToken(TokenType t) noexcept {
  return t >= TokenType::kAvg && t <= TokenType::kLimitRatio;
}
bool IsKeywordToken(TokenType t) noexcept {
  return t >= TokenType::kBool && t <= TokenType::kWithout;
}

std::string Token::Describe() const {
  switch (type) {
    case TokenType::kEof:
      return "end of input";
    case TokenType::kError:
      return error;
    case TokenType::kComment:
      return "comment";
    case TokenType::kIdentifier:
      return "identifier " + GoQuote(text);
    case TokenType::kMetricIdentifier:
      return "metric identifier " + GoQuote(text);
    case TokenType::kString:
    case TokenType::kNumber:
    case TokenType::kDuration: {
      std::string out = type == TokenType::kString   ? "string "
                        : type == TokenType::kNumber ? "number "
                                                     : "duration ";
      if (text.size() > 10) return out + QuoteTruncated(text) + "...";
      return out + GoQuote(text);
    }
    default:
      break;
  }
  // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on "lit" + std::string.
  auto bracketed = [this](std::string_view prefix) {
    std::string out(prefix);
    out.append(text);
    out.push_back('>');
    return out;
  };
  if (IsOperatorToken(type)) return bracketed("<op:");
  if (IsAggregatorToken(type)) return bracketed("<aggr:");
  if (IsKeywordToken(type)) return bracketed("<");
  return GoQuote(text);  // punctuation and start/end/step/range/max_of/min_of
}

int Lexer::Peek() const noexcept {
  return pos_ < input_.size() ? static_cast<unsigned char>(input_[pos_]) : -1;
}

int Lexer::NextByte() noexcept {
  if (pos_ >= input_.size()) return -1;
  return static_cast<unsigned char>(input_[pos_++]);
}

bool Lexer::Is(std::string_view valid) const noexcept {
  const int c = Peek();
  return c >= 0 && valid.find(static_cast<char>(c)) != std::string_view::npos;
}

bool Lexer::Accept(std::string_view valid) noexcept {
  if (!Is(valid)) return false;
  ++pos_;
  return true;
}

void Lexer::AcceptRun(std::string_view valid) noexcept {
  while (Accept(valid)) {
  }
}

void Lexer::SkipSpaces() noexcept {
  while (IsSpace(Peek())) ++pos_;
  start_ = pos_;
}

std::int32_t Lexer::RuneAt(std::size_t pos, int* width) const noexcept {
  if (pos >= input_.size()) {
    *width = 0;
    return -1;
  }
  return DecodeRune(input_, pos, width);
}

Token Lexer::Emit(TokenType type) {
  Token t;
  t.type = type;
  t.pos = static_cast<int>(start_);
  t.text = input_.substr(start_, pos_ - start_);
  start_ = pos_;
  return t;
}

Token Lexer::Error(std::string message) {
  Token t;
  t.type = TokenType::kError;
  t.pos = static_cast<int>(start_);
  t.error = std::move(message);
  mode_ = Mode::kDone;
  return t;
}

Token Lexer::Next() {
  switch (mode_) {
    case Mode::kDone: {
      Token t;
      t.type = TokenType::kEof;
      t.pos = static_cast<int>(input_.size());
      return t;
    }
    case Mode::kDurationExpr:
      return LexDurationExpr();
    case Mode::kStatements:
      break;
  }
  return LexStatements();
}

Token Lexer::LexStatements() {
  for (;;) {
    if (brace_open_) return LexInsideBraces();
    if (Peek() == '#') return LexLineComment();
    const int c = NextByte();
    switch (c) {
      case -1:
        if (paren_depth_ != 0) return Error("unclosed left parenthesis");
        if (bracket_open_) return Error("unclosed left bracket");
        mode_ = Mode::kDone;
        return Emit(TokenType::kEof);
      case ',':
        return Emit(TokenType::kComma);
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        SkipSpaces();
        continue;
      case '*':
        return Emit(TokenType::kMul);
      case '/':
        return Emit(TokenType::kDiv);
      case '%':
        return Emit(TokenType::kMod);
      case '+':
        return Emit(TokenType::kAdd);
      case '-':
        return Emit(TokenType::kSub);
      case '^':
        return Emit(TokenType::kPow);
      case '=':
        if (Peek() == '=') {
          ++pos_;
          return Emit(TokenType::kEqlc);
        }
        if (Peek() == '~') return Error("unexpected character after '=': '~'");
        return Emit(TokenType::kEql);
      case '!': {
        int width = 0;
        const std::int32_t r = RuneAt(pos_, &width);
        pos_ += static_cast<std::size_t>(width);
        if (r != '=') return Error("unexpected character after '!': " + GoQuoteRune(r));
        return Emit(TokenType::kNeq);
      }
      case '<':
        if (Accept("=")) return Emit(TokenType::kLte);
        if (Accept("/")) return Emit(TokenType::kTrimUpper);
        return Emit(TokenType::kLss);
      case '>':
        if (Accept("=")) return Emit(TokenType::kGte);
        if (Accept("/")) return Emit(TokenType::kTrimLower);
        return Emit(TokenType::kGtr);
      case '"':
      case '\'':
        return LexString(static_cast<char>(c));
      case '`':
        return LexRawString();
      case '(':
        ++paren_depth_;
        return Emit(TokenType::kLeftParen);
      case ')': {
        Token t = Emit(TokenType::kRightParen);
        if (--paren_depth_ < 0) return Error("unexpected right parenthesis ')'");
        return t;
      }
      case '{':
        brace_open_ = true;
        return Emit(TokenType::kLeftBrace);
      case '[': {
        if (bracket_open_) return Error("unexpected left bracket '['");
        got_colon_ = false;
        Token t = Emit(TokenType::kLeftBracket);
        SkipSpaces();
        bracket_open_ = true;
        mode_ = Mode::kDurationExpr;
        return t;
      }
      case ']':
        if (!bracket_open_) return Error("unexpected right bracket ']'");
        bracket_open_ = false;
        return Emit(TokenType::kRightBracket);
      case '@':
        return Emit(TokenType::kAt);
      default:
        break;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(Peek()))) {
      --pos_;
      return LexNumberOrDuration();
    }
    if (IsAlpha(c) || c == ':') {
      if (!bracket_open_) {
        --pos_;
        return LexKeywordOrIdentifier();
      }
      if (c == ':') {
        if (got_colon_) return Error("unexpected colon ':'");
        got_colon_ = true;
        return Emit(TokenType::kColon);
      }
      if (IsDurationKeywordStart(c)) {
        Token t;
        if (ScanDurationKeyword(&t)) return t;
      }
      return Error("unexpected character: " + GoQuoteRune(c) + ", expected ':'");
    }
    --pos_;
    int width = 0;
    const std::int32_t r = RuneAt(pos_, &width);
    pos_ += static_cast<std::size_t>(width);
    return Error("unexpected character: " + GoQuoteRune(r));
  }
}

Token Lexer::LexInsideBraces() {
  for (;;) {
    if (Peek() == '#') return LexLineComment();
    const int c = NextByte();
    switch (c) {
      case -1:
        return Error("unexpected end of input inside braces");
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        SkipSpaces();
        continue;
      case ',':
        return Emit(TokenType::kComma);
      case '"':
      case '\'':
        return LexString(static_cast<char>(c));
      case '`':
        return LexRawString();
      case '=':
        if (Accept("~")) return Emit(TokenType::kEqlRegex);
        return Emit(TokenType::kEql);
      case '!': {
        int width = 0;
        const std::int32_t r = RuneAt(pos_, &width);
        pos_ += static_cast<std::size_t>(width);
        if (r == '~') return Emit(TokenType::kNeqRegex);
        if (r == '=') return Emit(TokenType::kNeq);
        return Error("unexpected character after '!' inside braces: " + GoQuoteRune(r));
      }
      case '{':
        return Error("unexpected left brace '{'");
      case '}':
        brace_open_ = false;
        return Emit(TokenType::kRightBrace);
      default:
        break;
    }
    if (IsAlpha(c)) {
      --pos_;
      return LexIdentifier();
    }
    --pos_;
    int width = 0;
    const std::int32_t r = RuneAt(pos_, &width);
    pos_ += static_cast<std::size_t>(width);
    return Error("unexpected character inside braces: " + GoQuoteRune(r));
  }
}

Token Lexer::LexDurationExpr() {
  for (;;) {
    const int c = NextByte();
    switch (c) {
      case -1:
        return Error("unexpected end of input in duration expression");
      case ']':
        bracket_open_ = false;
        got_colon_ = false;
        mode_ = Mode::kStatements;
        return Emit(TokenType::kRightBracket);
      case ':': {
        Token t = Emit(TokenType::kColon);
        if (!got_duration_) return Error("unexpected colon before duration in duration expression");
        if (got_colon_) return Error("unexpected repeated colon in duration expression");
        got_colon_ = true;
        return t;
      }
      case '(':
        ++paren_depth_;
        return Emit(TokenType::kLeftParen);
      case ')': {
        Token t = Emit(TokenType::kRightParen);
        if (--paren_depth_ < 0) return Error("unexpected right parenthesis ')'");
        return t;
      }
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        SkipSpaces();
        continue;
      case '+':
        return Emit(TokenType::kAdd);
      case '-':
        return Emit(TokenType::kSub);
      case '*':
        return Emit(TokenType::kMul);
      case '/':
        return Emit(TokenType::kDiv);
      case '%':
        return Emit(TokenType::kMod);
      case '^':
        return Emit(TokenType::kPow);
      case ',':
        return Emit(TokenType::kComma);
      default:
        break;
    }
    if (IsDurationKeywordStart(c)) {
      Token t;
      if (ScanDurationKeyword(&t)) return t;
      return Error("unexpected character in duration expression: " + GoQuoteRune(c));
    }
    if (IsDigit(c) || (c == '.' && IsDigit(Peek()))) {
      --pos_;
      got_duration_ = true;
      mode_ = Mode::kStatements;
      return LexNumberOrDuration();
    }
    --pos_;
    int width = 0;
    const std::int32_t r = RuneAt(pos_, &width);
    pos_ += static_cast<std::size_t>(width);
    return Error("unexpected character in duration expression: " + GoQuoteRune(r));
  }
}

bool Lexer::ScanDurationKeyword(Token* out) {
  while (IsAlpha(Peek())) ++pos_;
  TokenType type;
  if (LookupDurationKeyword(ToLower(input_.substr(start_, pos_ - start_)), &type)) {
    *out = Emit(type);
    return true;
  }
  return false;
}

// Validates one escape sequence after the backslash, as Go's scanner does.
bool Lexer::ScanEscape(char quote, std::string* error) {
  int width = 0;
  std::int32_t ch = RuneAt(pos_, &width);
  pos_ += static_cast<std::size_t>(width);
  int digits = 0;
  std::uint32_t base = 0;
  std::uint32_t max_value = 0;
  switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
      return true;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      digits = 3;
      base = 8;
      max_value = 255;
      break;
    case 'x':
      ch = RuneAt(pos_, &width);
      pos_ += static_cast<std::size_t>(width);
      digits = 2;
      base = 16;
      max_value = 255;
      break;
    case 'u':
      ch = RuneAt(pos_, &width);
      pos_ += static_cast<std::size_t>(width);
      digits = 4;
      base = 16;
      max_value = 0x10FFFF;
      break;
    case 'U':
      ch = RuneAt(pos_, &width);
      pos_ += static_cast<std::size_t>(width);
      digits = 8;
      base = 16;
      max_value = 0x10FFFF;
      break;
    case -1:
      *error = "escape sequence not terminated";
      return false;
    default:
      if (ch == quote) return true;
      *error = "unknown escape sequence " + GoRuneCodePoint(ch);
      return false;
  }
  std::uint32_t value = 0;
  while (digits > 0) {
    const auto d = static_cast<std::uint32_t>(ch < 0 ? 16 : DigitValue(ch));
    if (d >= base) {
      if (ch == -1) {
        *error = "escape sequence not terminated";
      } else {
        *error = "illegal character " + GoRuneCodePoint(ch) + " in escape sequence";
      }
      return false;
    }
    value = value * base + d;
    if (--digits > 0) {
      ch = RuneAt(pos_, &width);
      pos_ += static_cast<std::size_t>(width);
    }
  }
  if (value > max_value || (value >= 0xD800 && value < 0xE000)) {
    *error = "escape sequence is an invalid Unicode code point";
    return false;
  }
  return true;
}

Token Lexer::LexString(char quote) {
  for (;;) {
    int width = 0;
    const std::int32_t r = RuneAt(pos_, &width);
    pos_ += static_cast<std::size_t>(width);
    if (r == '\\') {
      std::string error;
      if (!ScanEscape(quote, &error)) return Error(std::move(error));
      continue;
    }
    if (r == 0xFFFD) return Error("invalid UTF-8 rune");
    if (r == -1 || r == '\n') return Error("unterminated quoted string");
    if (r == quote) break;
  }
  return Emit(TokenType::kString);
}

Token Lexer::LexRawString() {
  for (;;) {
    int width = 0;
    const std::int32_t r = RuneAt(pos_, &width);
    pos_ += static_cast<std::size_t>(width);
    if (r == 0xFFFD) return Error("invalid UTF-8 rune");
    if (r == -1) return Error("unterminated raw string");
    if (r == '`') break;
  }
  return Emit(TokenType::kString);
}

Token Lexer::LexLineComment() {
  while (pos_ < input_.size() && input_[pos_] != '\n' && input_[pos_] != '\r') ++pos_;
  return Emit(TokenType::kComment);
}

// Scans decimal, hex, float, exponent and `_`-separated numbers, with the
// same acceptance rules (and quirks) as Prometheus's scanNumber.
bool Lexer::ScanNumber() {
  const std::size_t initial = pos_;
  std::string_view digits = kDigits;
  bool hex = false;
  if (Accept("0") && Accept("xX")) {
    Accept("_");
    digits = kHexDigits;
    hex = true;
  }
  const std::string_view loop_set = hex ? "0123456789abcdefABCDEF._eE" : "0123456789._eE";
  Accept(".");
  Accept(digits);
  bool dot_consumed = false;
  bool exponent_consumed = false;
  while (Is(loop_set)) {
    if (Is(".") && dot_consumed) {
      Accept(".");
      return false;
    }
    if (Is("eE") && exponent_consumed) {
      Accept("eE");
      return false;
    }
    if (Accept(".")) {
      dot_consumed = true;
      if (Accept("_.")) return false;
      if (hex) return false;  // no fractional hex literals
      continue;
    }
    if (Accept("eE")) {
      exponent_consumed = true;
      Accept("+-");
      if (Accept("._eE") || Peek() == -1) return false;
      continue;
    }
    if (Accept("_")) {
      if (Accept("._eE") || Peek() == -1) return false;
      continue;
    }
    AcceptRun(digits);
  }
  if (pos_ == initial) return false;
  return !IsAlphaNumeric(Peek());
}

bool Lexer::AcceptRemainingDuration() {
  if (!Accept("smhdwy")) return false;
  Accept("s");  // "ms"; bad units such as "hs" are reported by ParseDuration
  while (Accept(kDigits)) {
    AcceptRun(kDigits);
    if (!Accept("smhdw")) return false;
    Accept("s");
  }
  // The next character must end the duration; Prometheus's message then includes it.
  if (IsAlphaNumeric(Peek())) {
    ++pos_;
    return false;
  }
  return true;
}

Token Lexer::LexNumberOrDuration() {
  if (ScanNumber()) return Emit(TokenType::kNumber);
  if (AcceptRemainingDuration()) return Emit(TokenType::kDuration);
  return Error("bad number or duration syntax: " + GoQuote(input_.substr(start_, pos_ - start_)));
}

Token Lexer::LexIdentifier() {
  while (IsAlphaNumeric(Peek())) ++pos_;
  return Emit(TokenType::kIdentifier);
}

Token Lexer::LexKeywordOrIdentifier() {
  while (IsAlphaNumeric(Peek()) || Peek() == ':') ++pos_;
  const std::string_view word = input_.substr(start_, pos_ - start_);
  TokenType type;
  if (LookupKeyword(ToLower(word), &type)) {
    if (type == TokenType::kFill || type == TokenType::kFillLeft || type == TokenType::kFillRight) {
      // fill* are keywords only before '(' so that existing metric names keep working.
      std::size_t p = pos_;
      while (p < input_.size() && IsSpace(static_cast<unsigned char>(input_[p]))) ++p;
      if (p >= input_.size() || input_[p] != '(') return Emit(TokenType::kIdentifier);
    }
    return Emit(type);
  }
  if (word.find(':') == std::string_view::npos) return Emit(TokenType::kIdentifier);
  return Emit(TokenType::kMetricIdentifier);
}

}  // namespace nimify::promql
