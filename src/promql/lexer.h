// The PromQL lexer: text -> tokens, with Prometheus's token rules (lex.go).
//
//   promql::Lexer lexer("rate(x[5m])");
//   for (Token t = lexer.Next(); t.type != TokenType::kEof; t = lexer.Next()) { ... }
//
// The lexer is modal like Prometheus's: inside `{...}` keywords are plain
// identifiers, right after `[` only duration syntax is accepted, and paren and
// bracket balance is tracked so that EOF errors read as Prometheus's do. A
// lexing error comes back as a kError token whose `text` is the message; the
// lexer then only returns kEof.
#ifndef NIMIFY_PROMQL_LEXER_H_
#define NIMIFY_PROMQL_LEXER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace nimify::promql {

enum class TokenType : std::uint8_t {
  kError,
  kEof,
  kComment,
  kIdentifier,
  kMetricIdentifier,
  kString,
  kNumber,
  kDuration,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kEql,  // `=`
  kColon,

  // Operators.
  kAdd,
  kDiv,
  kEqlc,  // `==`
  kEqlRegex,
  kGte,
  kGtr,
  kTrimUpper,  // `</` (native histograms)
  kTrimLower,  // `>/`
  kLand,
  kLor,
  kLss,
  kLte,
  kLunless,
  kMod,
  kMul,
  kNeq,
  kNeqRegex,
  kPow,
  kSub,
  kAt,
  kAtan2,

  // Aggregators.
  kAvg,
  kBottomk,
  kCount,
  kCountValues,
  kGroup,
  kMax,
  kMin,
  kQuantile,
  kStddev,
  kStdvar,
  kSum,
  kTopk,
  kLimitk,
  kLimitRatio,

  // Keywords.
  kBool,
  kBy,
  kGroupLeft,
  kGroupRight,
  kFill,
  kFillLeft,
  kFillRight,
  kIgnoring,
  kOffset,
  kSmoothed,
  kAnchored,
  kOn,
  kWithout,

  // Preprocessors (`@ start()`, duration expressions).
  kStart,
  kEnd,
  kStep,
  kRange,
  kMaxOf,
  kMinOf,
};

bool IsOperatorToken(TokenType t) noexcept;
bool IsAggregatorToken(TokenType t) noexcept;
bool IsKeywordToken(TokenType t) noexcept;

struct Token {
  TokenType type = TokenType::kEof;
  int pos = 0;            // byte offset of the first character
  std::string_view text;  // the token's source text (for kError: empty)
  std::string error;      // kError only: the message

  int end() const noexcept { return pos + static_cast<int>(text.size()); }
  // Prometheus's description of the token in "unexpected ..." messages, e.g.
  // `identifier "foo"`, `<op:*>`, `"("`, `end of input`.
  std::string Describe() const;
};

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  // The next token, comments included.
  Token Next();

  std::string_view input() const noexcept { return input_; }

 private:
  enum class Mode : std::uint8_t { kStatements, kDurationExpr, kDone };

  Token LexStatements();
  Token LexInsideBraces();
  Token LexDurationExpr();
  Token LexString(char quote);
  Token LexRawString();
  Token LexLineComment();
  Token LexNumberOrDuration();
  Token LexKeywordOrIdentifier();
  Token LexIdentifier();
  bool ScanNumber();
  bool AcceptRemainingDuration();
  bool ScanDurationKeyword(Token* out);
  bool ScanEscape(char quote, std::string* error);

  // Byte-level scanning; every pattern the lexer accepts is ASCII.
  int Peek() const noexcept;  // -1 at end of input
  int NextByte() noexcept;    // consumes; -1 at end of input
  bool Accept(std::string_view valid) noexcept;
  bool Is(std::string_view valid) const noexcept;
  void AcceptRun(std::string_view valid) noexcept;
  void SkipSpaces() noexcept;
  // Decodes the rune at `pos` (U+FFFD for invalid UTF-8); *width gets its length.
  std::int32_t RuneAt(std::size_t pos, int* width) const noexcept;

  Token Emit(TokenType type);
  Token Error(std::string message);

  std::string_view input_;
  std::size_t pos_ = 0;
  std::size_t start_ = 0;
  Mode mode_ = Mode::kStatements;
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool got_duration_ = false;
};

// Go's strconv.Quote and strconv.QuoteRune (common/go_strconv.h), as Prometheus's
// messages use them; GoQuote also escapes U+FFFD so printed queries parse again.
std::string GoQuote(std::string_view s);
std::string GoQuoteRune(std::int32_t rune);

// Literal conversions with Go's semantics and error texts.

// strconv.ParseInt(s, 0, 64), falling back to strconv.ParseFloat(s, 64), as
// Prometheus converts a number token ("0x1f", "010" (octal), "1_000", "1e3",
// "Inf"). On failure *error gets the ParseFloat message, e.g.
// `strconv.ParseFloat: parsing "1e400": value out of range`.
bool ParseGoNumber(std::string_view s, double* value, std::string* error);

// model.ParseDuration in nanoseconds; *error gets its message on failure.
bool ParseDurationNanos(std::string_view s, std::int64_t* nanos, std::string* error);

// Unquotes a string token ("..." or '...' with Go escapes, or `raw`), as
// Prometheus's strutil.Unquote does. False on a syntax error.
bool UnquoteString(std::string_view token, std::string* out);

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_LEXER_H_
