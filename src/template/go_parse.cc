// Lexer and parser of Go's text/template, following text/template/parse
// closely enough that errors carry the same messages and line numbers.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include "template/go_ast.h"
#include "template/go_format.h"

namespace nimify::tmpl {
namespace {

using ast::NodePtr;
using ast::NodeType;

// ---------------------------------------------------------------------------
// Lexer.

enum class ItemType : std::uint8_t {
  kError,
  kBool,
  kChar,
  kCharConstant,
  kComment,
  kComplex,
  kAssign,
  kDeclare,
  kEOF,
  kField,
  kIdentifier,
  kLeftDelim,
  kLeftParen,
  kNumber,
  kPipe,
  kRawString,
  kRightDelim,
  kRightParen,
  kSpace,
  kString,
  kText,
  kVariable,
  kKeyword,  // keywords follow
  kBlock,
  kBreak,
  kContinue,
  kDot,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kNil,
  kRange,
  kTemplate,
  kWith,
};

struct Item {
  ItemType type = ItemType::kEOF;
  int pos = 0;
  std::string val;
  int line = 0;

  // Go's item.String(), as parse errors quote tokens.
  std::string ToString() const {
    if (type == ItemType::kEOF) return "EOF";
    if (type == ItemType::kError) return val;
    if (type > ItemType::kKeyword) return "<" + val + ">";
    if (RuneCount(val) > 10) {
      std::size_t i = 0;
      for (int n = 0; n < 10 && i < val.size(); ++n) {
        int w = 1;
        DecodeRune(std::string_view(val).substr(i), &w);
        i += static_cast<std::size_t>(w);
      }
      return Quote(std::string_view(val).substr(0, i)) + "...";
    }
    return Quote(val);
  }
};

ItemType KeywordType(std::string_view word) {
  static constexpr std::pair<std::string_view, ItemType> kKeywords[] = {
      {".", ItemType::kDot},
      {"block", ItemType::kBlock},
      {"break", ItemType::kBreak},
      {"continue", ItemType::kContinue},
      {"define", ItemType::kDefine},
      {"else", ItemType::kElse},
      {"end", ItemType::kEnd},
      {"if", ItemType::kIf},
      {"range", ItemType::kRange},
      {"nil", ItemType::kNil},
      {"template", ItemType::kTemplate},
      {"with", ItemType::kWith},
  };
  for (const auto& [k, t] : kKeywords) {
    if (k == word) return t;
  }
  return ItemType::kError;
}

constexpr std::string_view kLeftDelimText = "{{";
constexpr std::string_view kRightDelimText = "}}";
constexpr std::int32_t kEof = -1;

bool IsSpace(std::int32_t r) { return r == ' ' || r == '\t' || r == '\r' || r == '\n'; }
bool IsAlphaNumeric(std::int32_t r) { return r == '_' || IsLetterRune(r) || IsDigitRune(r); }
bool HasLeftTrimMarker(std::string_view s) {
  return s.size() >= 2 && s[0] == '-' && IsSpace(static_cast<unsigned char>(s[1]));
}
bool HasRightTrimMarker(std::string_view s) {
  return s.size() >= 2 && IsSpace(static_cast<unsigned char>(s[0])) && s[1] == '-';
}
constexpr std::size_t kTrimMarkerLen = 2;
std::size_t RightTrimLength(std::string_view s) {
  std::size_t n = s.size();
  while (n > 0 && IsSpace(static_cast<unsigned char>(s[n - 1]))) --n;
  return s.size() - n;
}
std::size_t LeftTrimLength(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && IsSpace(static_cast<unsigned char>(s[n]))) ++n;
  return n;
}
int CountNewlines(std::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  void set_keywords_ok(bool break_ok, bool continue_ok) {
    break_ok_ = break_ok;
    continue_ok_ = continue_ok;
  }

  Item NextItem() {
    item_ = Item{ItemType::kEOF, static_cast<int>(pos_), "EOF", start_line_};
    State state = inside_action_ ? State::kInsideAction : State::kText;
    while (state != State::kDone) state = Run(state);
    return std::move(item_);
  }

 private:
  enum class State : std::uint8_t {
    kDone,
    kText,
    kLeftDelim,
    kComment,
    kRightDelim,
    kInsideAction,
    kSpace,
    kIdentifier,
    kField,
    kVariable,
    kChar,
    kNumber,
    kQuote,
    kRawQuote,
  };

  State Run(State s) {
    switch (s) {
      case State::kText:
        return LexText();
      case State::kLeftDelim:
        return LexLeftDelim();
      case State::kComment:
        return LexComment();
      case State::kRightDelim:
        return LexRightDelim();
      case State::kInsideAction:
        return LexInsideAction();
      case State::kSpace:
        return LexSpace();
      case State::kIdentifier:
        return LexIdentifier();
      case State::kField:
        return LexFieldOrVariable(ItemType::kField);
      case State::kVariable:
        if (AtTerminator()) return Emit(ItemType::kVariable);
        return LexFieldOrVariable(ItemType::kVariable);
      case State::kChar:
        return LexChar();
      case State::kNumber:
        return LexNumber();
      case State::kQuote:
        return LexQuote();
      case State::kRawQuote:
        return LexRawQuote();
      case State::kDone:
        break;
    }
    return State::kDone;
  }

  std::int32_t Next() {
    if (pos_ >= input_.size()) {
      at_eof_ = true;
      return kEof;
    }
    int w = 1;
    const std::int32_t r = DecodeRune(input_.substr(pos_), &w);
    pos_ += static_cast<std::size_t>(w);
    if (r == '\n') ++line_;
    return r;
  }
  std::int32_t Peek() {
    const std::int32_t r = Next();
    Backup();
    return r;
  }
  void Backup() {
    if (!at_eof_ && pos_ > 0) {
      int w = 1;
      const std::int32_t r = DecodeLastRune(input_.substr(0, pos_), &w);
      pos_ -= static_cast<std::size_t>(w);
      if (r == '\n') --line_;
    }
  }
  Item ThisItem(ItemType t) {
    Item i{t, static_cast<int>(start_), std::string(input_.substr(start_, pos_ - start_)),
           start_line_};
    start_ = pos_;
    start_line_ = line_;
    return i;
  }
  State Emit(ItemType t) { return EmitItem(ThisItem(t)); }
  State EmitItem(Item i) {
    item_ = std::move(i);
    return State::kDone;
  }
  void Ignore() {
    line_ += CountNewlines(input_.substr(start_, pos_ - start_));
    start_ = pos_;
    start_line_ = line_;
  }
  bool Accept(std::string_view valid) {
    const std::int32_t r = Next();
    if (r >= 0 && r < 0x80 && valid.find(static_cast<char>(r)) != std::string_view::npos) {
      return true;
    }
    Backup();
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (true) {
      const std::int32_t r = Next();
      if (r >= 0 && r < 0x80 && valid.find(static_cast<char>(r)) != std::string_view::npos) {
        continue;
      }
      break;
    }
    Backup();
  }
  State Errorf(std::string msg) {
    item_ = Item{ItemType::kError, static_cast<int>(start_), std::move(msg), start_line_};
    start_ = 0;
    pos_ = 0;
    input_ = input_.substr(0, 0);
    return State::kDone;
  }
  bool StartsWith(std::size_t at, std::string_view p) const {
    return at <= input_.size() && input_.substr(at).substr(0, p.size()) == p;
  }
  // Whether we are at a right delimiter, and whether it carries a trim marker.
  bool AtRightDelim(bool* trim) const {
    if (HasRightTrimMarker(input_.substr(pos_)) &&
        StartsWith(pos_ + kTrimMarkerLen, kRightDelimText)) {
      *trim = true;
      return true;
    }
    *trim = false;
    return StartsWith(pos_, kRightDelimText);
  }
  bool AtTerminator() {
    const std::int32_t r = Peek();
    if (IsSpace(r)) return true;
    switch (r) {
      case kEof:
      case '.':
      case ',':
      case '|':
      case ':':
      case ')':
      case '(':
        return true;
      default:
        return StartsWith(pos_, kRightDelimText);
    }
  }

  State LexText() {
    const std::size_t x = input_.find(kLeftDelimText, pos_);
    if (x != std::string_view::npos) {
      if (x > pos_) {
        pos_ = x;
        std::size_t trim = 0;
        const std::size_t delim_end = pos_ + kLeftDelimText.size();
        if (HasLeftTrimMarker(input_.substr(delim_end))) {
          trim = RightTrimLength(input_.substr(start_, pos_ - start_));
        }
        pos_ -= trim;
        line_ += CountNewlines(input_.substr(start_, pos_ - start_));
        Item i = ThisItem(ItemType::kText);
        pos_ += trim;
        Ignore();
        if (!i.val.empty()) return EmitItem(std::move(i));
      }
      return State::kLeftDelim;
    }
    pos_ = input_.size();
    if (pos_ > start_) {
      line_ += CountNewlines(input_.substr(start_, pos_ - start_));
      return Emit(ItemType::kText);
    }
    return Emit(ItemType::kEOF);
  }

  State LexLeftDelim() {
    pos_ += kLeftDelimText.size();
    const bool trim = HasLeftTrimMarker(input_.substr(pos_));
    const std::size_t after_marker = trim ? kTrimMarkerLen : 0;
    if (StartsWith(pos_ + after_marker, "/*")) {
      pos_ += after_marker;
      Ignore();
      return State::kComment;
    }
    Item i = ThisItem(ItemType::kLeftDelim);
    inside_action_ = true;
    pos_ += after_marker;
    Ignore();
    paren_depth_ = 0;
    return EmitItem(std::move(i));
  }

  State LexComment() {
    pos_ += 2;
    const std::size_t x = input_.find("*/", pos_);
    if (x == std::string_view::npos) return Errorf("unclosed comment");
    pos_ = x + 2;
    bool trim = false;
    if (!AtRightDelim(&trim)) return Errorf("comment ends before closing delimiter");
    line_ += CountNewlines(input_.substr(start_, pos_ - start_));
    ThisItem(ItemType::kComment);
    if (trim) pos_ += kTrimMarkerLen;
    pos_ += kRightDelimText.size();
    if (trim) pos_ += LeftTrimLength(input_.substr(pos_));
    Ignore();
    return State::kText;
  }

  State LexRightDelim() {
    bool trim = false;
    AtRightDelim(&trim);
    if (trim) {
      pos_ += kTrimMarkerLen;
      Ignore();
    }
    pos_ += kRightDelimText.size();
    Item i = ThisItem(ItemType::kRightDelim);
    if (trim) {
      pos_ += LeftTrimLength(input_.substr(pos_));
      Ignore();
    }
    inside_action_ = false;
    return EmitItem(std::move(i));
  }

  State LexInsideAction() {
    bool trim = false;
    if (AtRightDelim(&trim)) {
      if (paren_depth_ == 0) return State::kRightDelim;
      return Errorf("unclosed left paren");
    }
    const std::int32_t r = Next();
    if (r == kEof) return Errorf("unclosed action");
    if (IsSpace(r)) {
      Backup();  // put the space back in case we have " -}}"
      return State::kSpace;
    }
    switch (r) {
      case '=':
        return Emit(ItemType::kAssign);
      case ':':
        if (Next() != '=') return Errorf("expected :=");
        return Emit(ItemType::kDeclare);
      case '|':
        return Emit(ItemType::kPipe);
      case '"':
        return State::kQuote;
      case '`':
        return State::kRawQuote;
      case '$':
        return State::kVariable;
      case '\'':
        return State::kChar;
      case '(':
        ++paren_depth_;
        return Emit(ItemType::kLeftParen);
      case ')':
        // Go 1.19 (Prometheus 2.x) emits the paren and lets the parser reject
        // an unmatched one: "unexpected \")\" in command".
        --paren_depth_;
        return Emit(ItemType::kRightParen);
      default:
        break;
    }
    if (r == '.') {
      // ".field" unless a digit follows ('.' can start a number).
      if (pos_ < input_.size()) {
        const char c = input_[pos_];
        if (c < '0' || c > '9') return State::kField;
      }
    }
    if (r == '.' || r == '+' || r == '-' || (r >= '0' && r <= '9')) {
      Backup();
      return State::kNumber;
    }
    if (IsAlphaNumeric(r)) {
      Backup();
      return State::kIdentifier;
    }
    if (r < 0x80 && IsPrintRune(r)) return Emit(ItemType::kChar);
    return Errorf("unrecognized character in action: " + FormatUnicodeSharp(r));
  }

  State LexSpace() {
    int spaces = 0;
    while (IsSpace(Peek())) {
      Next();
      ++spaces;
    }
    // A trim-marked right delimiter starts with a space: leave it to kRightDelim.
    if (HasRightTrimMarker(input_.substr(pos_ - 1)) &&
        StartsWith(pos_ - 1 + kTrimMarkerLen, kRightDelimText)) {
      Backup();
      if (spaces == 1) return State::kRightDelim;
    }
    return Emit(ItemType::kSpace);
  }

  State LexIdentifier() {
    while (true) {
      const std::int32_t r = Next();
      if (IsAlphaNumeric(r)) continue;
      Backup();
      const std::string_view word = input_.substr(start_, pos_ - start_);
      if (!AtTerminator()) return Errorf("bad character " + FormatUnicodeSharp(r));
      const ItemType kw = KeywordType(word);
      if (kw > ItemType::kKeyword) {
        if ((kw == ItemType::kBreak && !break_ok_) ||
            (kw == ItemType::kContinue && !continue_ok_)) {
          return Emit(ItemType::kIdentifier);
        }
        return Emit(kw);
      }
      if (word[0] == '.') return Emit(ItemType::kField);
      if (word == "true" || word == "false") return Emit(ItemType::kBool);
      return Emit(ItemType::kIdentifier);
    }
  }

  State LexFieldOrVariable(ItemType t) {
    if (AtTerminator())
      return Emit(t == ItemType::kVariable ? ItemType::kVariable : ItemType::kDot);
    std::int32_t r = 0;
    while (true) {
      r = Next();
      if (!IsAlphaNumeric(r)) {
        Backup();
        break;
      }
    }
    if (!AtTerminator()) return Errorf("bad character " + FormatUnicodeSharp(r));
    return Emit(t);
  }

  State LexChar() {
    while (true) {
      std::int32_t r = Next();
      if (r == '\\') {
        r = Next();
        if (r != kEof && r != '\n') continue;
        return Errorf("unterminated character constant");
      }
      if (r == kEof || r == '\n') return Errorf("unterminated character constant");
      if (r == '\'') break;
    }
    return Emit(ItemType::kCharConstant);
  }

  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (digits.size() == 11 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 23 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    if (IsAlphaNumeric(Peek())) {
      Next();
      return false;
    }
    return true;
  }

  State LexNumber() {
    if (!ScanNumber()) {
      return Errorf("bad number syntax: " + Quote(input_.substr(start_, pos_ - start_)));
    }
    const std::int32_t sign = Peek();
    if (sign == '+' || sign == '-') {
      if (!ScanNumber() || input_[pos_ - 1] != 'i') {
        return Errorf("bad number syntax: " + Quote(input_.substr(start_, pos_ - start_)));
      }
      return Emit(ItemType::kComplex);
    }
    return Emit(ItemType::kNumber);
  }

  State LexQuote() {
    while (true) {
      std::int32_t r = Next();
      if (r == '\\') {
        r = Next();
        if (r != kEof && r != '\n') continue;
        return Errorf("unterminated quoted string");
      }
      if (r == kEof || r == '\n') return Errorf("unterminated quoted string");
      if (r == '"') break;
    }
    return Emit(ItemType::kString);
  }

  State LexRawQuote() {
    while (true) {
      const std::int32_t r = Next();
      if (r == kEof) return Errorf("unterminated raw quoted string");
      if (r == '`') break;
    }
    return Emit(ItemType::kRawString);
  }

  std::string_view input_;
  std::size_t pos_ = 0;
  std::size_t start_ = 0;
  bool at_eof_ = false;
  int paren_depth_ = 0;
  int line_ = 1;
  int start_line_ = 1;
  Item item_;
  bool inside_action_ = false;
  bool break_ok_ = true;
  bool continue_ok_ = true;
};

// ---------------------------------------------------------------------------
// Numbers: strconv.ParseUint/ParseInt with base 0, as parse.newNumber uses them.

bool ParseUintBase0(std::string_view s, std::uint64_t* out) {
  if (s.empty()) return false;
  int base = 10;
  std::string_view digits = s;
  bool prefixed = false;
  if (s[0] == '0') {
    if (s.size() >= 3 && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      digits = s.substr(2);
      prefixed = true;
    } else if (s.size() >= 3 && (s[1] == 'o' || s[1] == 'O')) {
      base = 8;
      digits = s.substr(2);
      prefixed = true;
    } else if (s.size() >= 3 && (s[1] == 'b' || s[1] == 'B')) {
      base = 2;
      digits = s.substr(2);
      prefixed = true;
    } else {
      base = 8;
      digits = s.substr(1);
      prefixed = true;
    }
  }
  (void)prefixed;
  bool underscores = false;
  std::uint64_t n = 0;
  bool any = s[0] == '0' && base == 8 && digits.empty();
  for (char c : digits) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (n > (std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(d)) /
                static_cast<std::uint64_t>(base)) {
      return false;  // overflow
    }
    n = n * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    any = true;
  }
  if (!any) return false;
  if (underscores) {
    // Underscores only between digits or right after a base prefix.
    char saw = '^';
    std::size_t i = 0;
    if (s.size() >= 2 && s[0] == '0' &&
        (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'O' || s[1] == 'b' || s[1] == 'B')) {
      i = 2;
      saw = '0';
    }
    for (; i < s.size(); ++i) {
      if (s[i] == '_') {
        if (saw != '0') return false;
        saw = '_';
      } else {
        saw = '0';
      }
    }
    if (saw == '_') return false;
  }
  *out = n;
  return true;
}

bool ParseIntBase0(std::string_view s, std::int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  std::uint64_t u = 0;
  if (!ParseUintBase0(s, &u)) return false;
  constexpr std::uint64_t kCutoff = std::uint64_t{1} << 63;
  if (!neg && u >= kCutoff) return false;
  if (neg && u > kCutoff) return false;
  *out = neg ? static_cast<std::int64_t>(~u + 1) : static_cast<std::int64_t>(u);
  return true;
}

// ---------------------------------------------------------------------------
// Parser.

struct ParseShared {
  TemplateProgram::Impl* prog;
  Lexer* lex;
  std::string error;  // first error; parsing stops at it
  bool failed = false;
};

constexpr int kMaxStackDepth = 500;  // nested parentheses, actions and else-if chains
constexpr std::size_t kMaxPipelineCmds = 100000;

bool IsEmptyTree(const ast::Node* n) {
  if (n == nullptr) return true;
  switch (n->type) {
    case NodeType::kComment:
      return true;
    case NodeType::kList:
      for (const auto& c : static_cast<const ast::ListNode*>(n)->nodes) {
        if (!IsEmptyTree(c.get())) return false;
      }
      return true;
    case NodeType::kText: {
      const std::string& t = static_cast<const ast::TextNode*>(n)->text;
      return std::all_of(t.begin(), t.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
      });
    }
    default:
      return false;
  }
}

class Parser {
 public:
  Parser(ParseShared* shared, std::string name) : s_(shared), name_(std::move(name)) {
    vars_.push_back("$");
  }

  // The top-level template.
  void ParseMain() {
    root_ = std::make_unique<ast::ListNode>(Peek().pos);
    while (!Failed() && Peek().type != ItemType::kEOF) {
      if (Peek().type == ItemType::kLeftDelim) {
        Item delim = NextToken();
        if (NextNonSpace().type == ItemType::kDefine) {
          Parser def(s_, "definition");
          def.ParseDefinition();
          continue;
        }
        if (Failed()) return;
        Backup2(std::move(delim));
      }
      NodePtr n = TextOrAction();
      if (Failed()) return;
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        Errorf("unexpected " + n->String());
        return;
      }
      root_->nodes.push_back(std::move(n));
    }
    if (!Failed()) Add();
  }

 private:
  bool Failed() const { return s_->failed; }

  // --- tokens -------------------------------------------------------------
  Item NextToken() {
    if (peek_count_ > 0) {
      --peek_count_;
    } else {
      token_[0] = s_->lex->NextItem();
    }
    return token_[peek_count_];
  }
  void Backup() { ++peek_count_; }
  void Backup2(Item t1) {
    token_[1] = std::move(t1);
    peek_count_ = 2;
  }
  void Backup3(Item t2, Item t1) {
    token_[1] = std::move(t1);
    token_[2] = std::move(t2);
    peek_count_ = 3;
  }
  Item Peek() {
    if (peek_count_ > 0) return token_[peek_count_ - 1];
    peek_count_ = 1;
    token_[0] = s_->lex->NextItem();
    return token_[0];
  }
  Item NextNonSpace() {
    Item t;
    do {
      t = NextToken();
    } while (t.type == ItemType::kSpace);
    return t;
  }
  Item PeekNonSpace() {
    Item t = NextNonSpace();
    Backup();
    return t;
  }

  // --- errors -------------------------------------------------------------
  std::nullptr_t Errorf(const std::string& msg) {
    if (!s_->failed) {
      s_->failed = true;
      s_->error =
          "template: " + s_->prog->parse_name + ":" + std::to_string(token_[0].line) + ": " + msg;
    }
    return nullptr;
  }
  std::nullptr_t Unexpected(const Item& token, std::string_view context) {
    if (token.type == ItemType::kError) {
      std::string extra;
      if (action_line_ != 0 && action_line_ != token.line) {
        extra =
            " in action started at " + s_->prog->parse_name + ":" + std::to_string(action_line_);
        if (token.val.size() >= 7 && token.val.compare(token.val.size() - 7, 7, " action") == 0) {
          extra = extra.substr(std::strlen(" in action"));
        }
      }
      return Errorf(token.ToString() + extra);
    }
    return Errorf("unexpected " + token.ToString() + " in " + std::string(context));
  }
  Item Expect(ItemType expected, std::string_view context) {
    Item t = NextNonSpace();
    if (t.type != expected) Unexpected(t, context);
    return t;
  }

  // --- structure ----------------------------------------------------------
  void Add() {
    auto& trees = s_->prog->trees;
    auto it = trees.find(name_);
    if (it == trees.end() || IsEmptyTree(it->second->root.get())) {
      auto tree = std::make_unique<ast::Tree>();
      tree->name = name_;
      tree->root = std::move(root_);
      trees[name_] = std::move(tree);
      return;
    }
    if (!IsEmptyTree(root_.get())) {
      Errorf("template: multiple definition of template " + Quote(name_));
    }
  }

  void ParseDefinition() {
    constexpr std::string_view kContext = "define clause";
    Item name = NextNonSpace();
    if (name.type != ItemType::kString && name.type != ItemType::kRawString) {
      Unexpected(name, kContext);
      return;
    }
    if (!Unquote(name.val, &name_)) {
      Errorf("invalid syntax");
      return;
    }
    Expect(ItemType::kRightDelim, kContext);
    if (Failed()) return;
    NodePtr end;
    root_ = ItemList(&end);
    if (Failed()) return;
    if (end->type != NodeType::kEnd) {
      Errorf("unexpected " + end->String() + " in " + std::string(kContext));
      return;
    }
    Add();
  }

  // textOrAction* up to {{end}} or {{else}}, returned in *end.
  std::unique_ptr<ast::ListNode> ItemList(NodePtr* end) {
    auto list = std::make_unique<ast::ListNode>(PeekNonSpace().pos);
    while (!Failed() && PeekNonSpace().type != ItemType::kEOF) {
      NodePtr n = TextOrAction();
      if (Failed()) return nullptr;
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        *end = std::move(n);
        return list;
      }
      list->nodes.push_back(std::move(n));
    }
    return Errorf("unexpected EOF");
  }

  NodePtr TextOrAction() {
    Item token = NextNonSpace();
    switch (token.type) {
      case ItemType::kText:
        return std::make_unique<ast::TextNode>(token.pos, std::move(token.val));
      case ItemType::kLeftDelim: {
        action_line_ = token.line;
        NodePtr n = Action();
        action_line_ = 0;
        return n;
      }
      case ItemType::kComment:
        return std::make_unique<ast::CommentNode>(token.pos, std::move(token.val));
      default:
        return Unexpected(token, "input");
    }
  }

  NodePtr Action() {
    if (++stack_depth_ > kMaxStackDepth) return Errorf("max expression depth exceeded");
    NodePtr n = ActionInner();
    --stack_depth_;
    return n;
  }

  NodePtr ActionInner() {
    Item token = NextNonSpace();
    switch (token.type) {
      case ItemType::kBlock:
        return BlockControl();
      case ItemType::kBreak:
        return LoopControl(token, NodeType::kBreak);
      case ItemType::kContinue:
        return LoopControl(token, NodeType::kContinue);
      case ItemType::kElse:
        return ElseControl();
      case ItemType::kEnd: {
        Item t = Expect(ItemType::kRightDelim, "end");
        if (Failed()) return nullptr;
        return std::make_unique<ast::SimpleNode>(NodeType::kEnd, t.pos);
      }
      case ItemType::kIf:
        return Control(NodeType::kIf);
      case ItemType::kRange:
        return Control(NodeType::kRange);
      case ItemType::kTemplate:
        return TemplateControl();
      case ItemType::kWith:
        return Control(NodeType::kWith);
      default:
        break;
    }
    Backup();
    Item t = Peek();
    auto pipe = Pipeline("command", ItemType::kRightDelim);
    if (Failed()) return nullptr;
    return std::make_unique<ast::ActionNode>(t.pos, t.line, std::move(pipe));
  }

  NodePtr LoopControl(const Item& keyword, NodeType type) {
    const char* what = type == NodeType::kBreak ? "{{break}}" : "{{continue}}";
    Item t = NextNonSpace();
    if (t.type != ItemType::kRightDelim) return Unexpected(t, what);
    if (range_depth_ == 0) return Errorf(std::string(what) + " outside {{range}}");
    return std::make_unique<ast::SimpleNode>(type, keyword.pos);
  }

  NodePtr ElseControl() {
    Item peek = PeekNonSpace();
    // "{{else if ..." and "{{else with ..." leave the keyword pending for the caller.
    if (peek.type == ItemType::kIf || peek.type == ItemType::kWith) {
      return std::make_unique<ast::SimpleNode>(NodeType::kElse, peek.pos);
    }
    Item t = Expect(ItemType::kRightDelim, "else");
    if (Failed()) return nullptr;
    return std::make_unique<ast::SimpleNode>(NodeType::kElse, t.pos);
  }

  std::unique_ptr<ast::PipeNode> Pipeline(std::string_view context, ItemType end) {
    Item token = PeekNonSpace();
    auto pipe = std::make_unique<ast::PipeNode>(token.pos, token.line);
    for (bool again = true; again && !Failed();) {
      again = false;
      Item v = PeekNonSpace();
      if (v.type != ItemType::kVariable) break;
      NextToken();
      // "$x foo" needs three tokens of look-ahead to see that $x is an argument.
      Item after_var = Peek();
      Item next = PeekNonSpace();
      if (next.type == ItemType::kAssign || next.type == ItemType::kDeclare) {
        pipe->is_assign = next.type == ItemType::kAssign;
        NextNonSpace();
        pipe->decl.push_back(
            std::make_unique<ast::VariableNode>(v.pos, std::vector<std::string>{v.val}));
        vars_.push_back(v.val);
      } else if (next.type == ItemType::kChar && next.val == ",") {
        NextNonSpace();
        pipe->decl.push_back(
            std::make_unique<ast::VariableNode>(v.pos, std::vector<std::string>{v.val}));
        vars_.push_back(v.val);
        if (context == "range" && pipe->decl.size() < 2) {
          const ItemType t = PeekNonSpace().type;
          if (t == ItemType::kVariable || t == ItemType::kRightDelim ||
              t == ItemType::kRightParen) {
            again = true;  // the second variable of a range
            continue;
          }
          return Errorf("range can only initialize variables");
        }
        return Errorf("too many declarations in " + std::string(context));
      } else if (after_var.type == ItemType::kSpace) {
        Backup3(std::move(v), std::move(after_var));
      } else {
        Backup2(std::move(v));
      }
    }
    if (Failed()) return nullptr;
    while (true) {
      Item t = NextNonSpace();
      if (t.type == end) {
        if (!CheckPipeline(*pipe, context)) return nullptr;
        return pipe;
      }
      switch (t.type) {
        case ItemType::kBool:
        case ItemType::kCharConstant:
        case ItemType::kComplex:
        case ItemType::kDot:
        case ItemType::kField:
        case ItemType::kIdentifier:
        case ItemType::kNumber:
        case ItemType::kNil:
        case ItemType::kRawString:
        case ItemType::kString:
        case ItemType::kVariable:
        case ItemType::kLeftParen: {
          Backup();
          auto cmd = Command();
          if (Failed()) return nullptr;
          pipe->cmds.push_back(std::move(cmd));
          if (pipe->cmds.size() > kMaxPipelineCmds) return Errorf("pipeline too long");
          break;
        }
        default:
          return Unexpected(t, context);
      }
    }
  }

  bool CheckPipeline(const ast::PipeNode& pipe, std::string_view context) {
    if (pipe.cmds.empty()) {
      Errorf("missing value for " + std::string(context));
      return false;
    }
    for (std::size_t i = 1; i < pipe.cmds.size(); ++i) {
      switch (pipe.cmds[i]->args[0]->type) {
        case NodeType::kBool:
        case NodeType::kDot:
        case NodeType::kNil:
        case NodeType::kNumber:
        case NodeType::kString:
          Errorf("non executable command in pipeline stage " + std::to_string(i + 1));
          return false;
        default:
          break;
      }
    }
    return true;
  }

  NodePtr Control(NodeType type) {
    if (++stack_depth_ > kMaxStackDepth) return Errorf("max expression depth exceeded");
    NodePtr n = ControlInner(type);
    --stack_depth_;
    return n;
  }

  NodePtr ControlInner(NodeType type) {
    const std::string context = type == NodeType::kIf      ? "if"
                                : type == NodeType::kRange ? "range"
                                                           : "with";
    const std::size_t vars_mark = vars_.size();
    auto pipe = Pipeline(context, ItemType::kRightDelim);
    if (Failed()) return nullptr;
    if (type == NodeType::kRange) ++range_depth_;
    NodePtr next;
    auto list = ItemList(&next);
    if (type == NodeType::kRange) --range_depth_;
    if (Failed()) return nullptr;
    std::unique_ptr<ast::ListNode> else_list;
    if (next->type == NodeType::kElse) {
      const ItemType pending = Peek().type;
      if ((type == NodeType::kIf && pending == ItemType::kIf) ||
          (type == NodeType::kWith && pending == ItemType::kWith)) {
        // {{else if b}} is {{else}}{{if b}}...{{end}}{{end}} with one {{end}} shared.
        NextToken();
        else_list = std::make_unique<ast::ListNode>(next->pos);
        NodePtr inner = Control(type);
        if (Failed()) return nullptr;
        else_list->nodes.push_back(std::move(inner));
      } else {
        else_list = ItemList(&next);
        if (Failed()) return nullptr;
        if (next->type != NodeType::kEnd) return Errorf("expected end; found " + next->String());
      }
    }
    vars_.resize(vars_mark);
    auto node = std::make_unique<ast::BranchNode>(type, pipe->pos, pipe->line);
    node->pipe = std::move(pipe);
    node->list = std::move(list);
    node->else_list = std::move(else_list);
    return node;
  }

  bool TemplateName(const Item& token, std::string_view context, std::string* name) {
    if (token.type != ItemType::kString && token.type != ItemType::kRawString) {
      Unexpected(token, context);
      return false;
    }
    if (!Unquote(token.val, name)) {
      Errorf("invalid syntax");
      return false;
    }
    return true;
  }

  NodePtr BlockControl() {
    constexpr std::string_view kContext = "block clause";
    Item token = NextNonSpace();
    std::string name;
    if (!TemplateName(token, kContext, &name)) return nullptr;
    auto pipe = Pipeline(kContext, ItemType::kRightDelim);
    if (Failed()) return nullptr;
    Parser block(s_, name);
    NodePtr end;
    block.root_ = block.ItemList(&end);
    if (Failed()) return nullptr;
    if (end->type != NodeType::kEnd) {
      return Errorf("unexpected " + end->String() + " in " + std::string(kContext));
    }
    block.Add();
    if (Failed()) return nullptr;
    return std::make_unique<ast::TemplateCallNode>(token.pos, token.line, name, std::move(pipe));
  }

  NodePtr TemplateControl() {
    constexpr std::string_view kContext = "template clause";
    Item token = NextNonSpace();
    std::string name;
    if (!TemplateName(token, kContext, &name)) return nullptr;
    std::unique_ptr<ast::PipeNode> pipe;
    if (NextNonSpace().type != ItemType::kRightDelim) {
      Backup();
      pipe = Pipeline(kContext, ItemType::kRightDelim);
      if (Failed()) return nullptr;
    }
    return std::make_unique<ast::TemplateCallNode>(token.pos, token.line, name, std::move(pipe));
  }

  std::unique_ptr<ast::CommandNode> Command() {
    auto cmd = std::make_unique<ast::CommandNode>(PeekNonSpace().pos);
    while (true) {
      PeekNonSpace();  // skip leading spaces
      NodePtr operand = Operand();
      if (Failed()) return nullptr;
      if (operand) cmd->args.push_back(std::move(operand));
      Item t = NextToken();
      if (t.type == ItemType::kSpace) continue;
      if (t.type == ItemType::kRightDelim || t.type == ItemType::kRightParen) {
        Backup();
      } else if (t.type != ItemType::kPipe) {
        return Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->args.empty()) return Errorf("empty command");
    return cmd;
  }

  static std::vector<std::string> SplitDots(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = s.find('.', start);
      out.emplace_back(s.substr(start, dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    return out;
  }

  NodePtr Operand() {
    NodePtr node = Term();
    if (!node) return nullptr;
    if (Peek().type == ItemType::kField) {
      auto chain = std::make_unique<ast::ChainNode>(Peek().pos, nullptr);
      while (Peek().type == ItemType::kField) chain->field.push_back(NextToken().val.substr(1));
      switch (node->type) {
        case NodeType::kField: {
          // .X.Y: keep one field node, positioned at the chained field.
          auto* f = static_cast<ast::FieldNode*>(node.get());
          std::vector<std::string> ident = f->ident;
          ident.insert(ident.end(), chain->field.begin(), chain->field.end());
          return std::make_unique<ast::FieldNode>(chain->pos, std::move(ident));
        }
        case NodeType::kVariable: {
          auto* v = static_cast<ast::VariableNode*>(node.get());
          std::vector<std::string> ident = v->ident;
          ident.insert(ident.end(), chain->field.begin(), chain->field.end());
          return std::make_unique<ast::VariableNode>(chain->pos, std::move(ident));
        }
        case NodeType::kBool:
        case NodeType::kString:
        case NodeType::kNumber:
        case NodeType::kNil:
        case NodeType::kDot:
          return Errorf("unexpected . after term " + Quote(node->String()));
        default:
          chain->node = std::move(node);
          return chain;
      }
    }
    return node;
  }

  NodePtr Term() {
    Item token = NextNonSpace();
    switch (token.type) {
      case ItemType::kIdentifier:
        if (!s_->prog->funcs->Has(token.val)) {
          return Errorf("function " + Quote(token.val) + " not defined");
        }
        s_->prog->called.insert(token.val);
        return std::make_unique<ast::IdentifierNode>(token.pos, token.val);
      case ItemType::kDot:
        return std::make_unique<ast::DotNode>(token.pos);
      case ItemType::kNil:
        return std::make_unique<ast::NilNode>(token.pos);
      case ItemType::kVariable: {
        if (std::find(vars_.begin(), vars_.end(), token.val) == vars_.end()) {
          return Errorf("undefined variable " + Quote(token.val));
        }
        return std::make_unique<ast::VariableNode>(token.pos, std::vector<std::string>{token.val});
      }
      case ItemType::kField:
        return std::make_unique<ast::FieldNode>(token.pos,
                                                SplitDots(std::string_view(token.val).substr(1)));
      case ItemType::kBool:
        return std::make_unique<ast::BoolNode>(token.pos, token.val == "true");
      case ItemType::kCharConstant:
      case ItemType::kComplex:
      case ItemType::kNumber:
        return NewNumber(token);
      case ItemType::kLeftParen: {
        if (stack_depth_ >= kMaxStackDepth) return Errorf("max expression depth exceeded");
        ++stack_depth_;
        auto pipe = Pipeline("parenthesized pipeline", ItemType::kRightParen);
        --stack_depth_;
        return pipe;
      }
      case ItemType::kString:
      case ItemType::kRawString: {
        std::string text;
        if (!Unquote(token.val, &text)) return Errorf("invalid syntax");
        return std::make_unique<ast::StringNode>(token.pos, token.val, std::move(text));
      }
      default:
        Backup();
        return nullptr;
    }
  }

  NodePtr NewNumber(const Item& token) {
    const std::string& text = token.val;
    auto n = std::make_unique<ast::NumberNode>(token.pos, text);
    if (token.type == ItemType::kCharConstant) {
      std::string_view rest = std::string_view(text).substr(1);
      std::int32_t r = 0;
      if (!UnquoteChar(&rest, '\'', &r)) return Errorf("invalid syntax");
      if (rest != "'") return Errorf("malformed character constant: " + text);
      if (r < 0) r = -1 - r;  // \x and octal escapes
      n->int64 = r;
      n->is_int = true;
      n->uint64 = static_cast<std::uint64_t>(r);
      n->is_uint = true;
      n->float64 = r;
      n->is_float = true;
      return n;
    }
    if (token.type == ItemType::kComplex) {
      // real+imagi: split at the sign that starts the imaginary part.
      std::size_t split = std::string::npos;
      for (std::size_t i = text.size() - 1; i > 0; --i) {
        const char prev = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i - 1])));
        if ((text[i] == '+' || text[i] == '-') && prev != 'e' && prev != 'p') {
          split = i;
          break;
        }
      }
      auto re = split == std::string::npos ? Result<double>(Status::InvalidArgument(""))
                                           : ParseFloat(text.substr(0, split));
      auto im =
          split == std::string::npos ? re : ParseFloat(text.substr(split, text.size() - split - 1));
      if (!re.ok() || !im.ok()) return Errorf("expected integer");
      n->is_complex = true;
      n->complex128 = {*re, *im};
      return n;
    }
    if (!text.empty() && text.back() == 'i') {
      auto im = ParseFloat(text.substr(0, text.size() - 1));
      if (im.ok()) {
        n->is_complex = true;
        n->complex128 = {0, *im};
        return n;
      }
    }
    std::uint64_t u = 0;
    if (ParseUintBase0(text, &u)) {
      n->is_uint = true;
      n->uint64 = u;
    }
    std::int64_t i = 0;
    if (ParseIntBase0(text, &i)) {
      n->is_int = true;
      n->int64 = i;
      if (i == 0) {
        n->is_uint = true;  // -0
        n->uint64 = u;
      }
    }
    if (n->is_int) {
      n->is_float = true;
      n->float64 = static_cast<double>(n->int64);
    } else if (n->is_uint) {
      n->is_float = true;
      n->float64 = static_cast<double>(n->uint64);
    } else {
      auto f = ParseFloat(text);
      if (f.ok()) {
        if (text.find_first_of(".eEpP") == std::string::npos) {
          return Errorf("integer overflow: " + Quote(text));
        }
        n->is_float = true;
        n->float64 = *f;
        const double v = *f;
        if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
            static_cast<double>(static_cast<std::int64_t>(v)) == v) {
          n->is_int = true;
          n->int64 = static_cast<std::int64_t>(v);
        }
        if (v >= 0 && v < 18446744073709551616.0 &&
            static_cast<double>(static_cast<std::uint64_t>(v)) == v) {
          n->is_uint = true;
          n->uint64 = static_cast<std::uint64_t>(v);
        }
      }
    }
    if (!n->is_int && !n->is_uint && !n->is_float) {
      return Errorf("illegal number syntax: " + Quote(text));
    }
    return n;
  }

  ParseShared* s_;
  std::string name_;
  std::unique_ptr<ast::ListNode> root_;
  Item token_[3];
  int peek_count_ = 0;
  std::vector<std::string> vars_;
  int action_line_ = 0;
  int range_depth_ = 0;
  int stack_depth_ = 0;
};

}  // namespace

namespace ast {

void TemplateCallNode::WriteTo(std::string* out) const {
  out->append("{{template ");
  out->append(Quote(name));
  if (pipe) {
    out->push_back(' ');
    pipe->WriteTo(out);
  }
  out->append("}}");
}

}  // namespace ast

const ast::Tree* TemplateProgram::Impl::main() const {
  auto it = trees.find(parse_name);
  return it == trees.end() ? nullptr : it->second.get();
}

std::string TemplateProgram::Impl::Location(const ast::Node& node) const {
  const auto pos = static_cast<std::size_t>(std::max(node.pos, 0));
  const std::string_view before = std::string_view(text).substr(0, std::min(pos, text.size()));
  const std::size_t nl = before.rfind('\n');
  const std::size_t col = nl == std::string_view::npos ? pos : pos - (nl + 1);
  const int line = 1 + CountNewlines(before);
  return parse_name + ":" + std::to_string(line) + ":" + std::to_string(col);
}

TemplateProgram::TemplateProgram(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

bool TemplateProgram::Calls(std::string_view function) const {
  return impl_->called.find(function) != impl_->called.end();
}
TemplateProgram::~TemplateProgram() = default;

Result<std::shared_ptr<const TemplateProgram>> TemplateProgram::Parse(std::string_view name,
                                                                      std::string text,
                                                                      const FuncTable* funcs) {
  auto impl = std::make_unique<Impl>();
  impl->text = std::move(text);
  impl->parse_name = std::string(name);
  impl->funcs = funcs;
  Lexer lex(impl->text);
  // Like Go, break/continue are keywords unless a function has that name.
  lex.set_keywords_ok(!funcs->Has("break"), !funcs->Has("continue"));
  ParseShared shared{impl.get(), &lex, {}, false};
  Parser parser(&shared, impl->parse_name);
  parser.ParseMain();
  if (shared.failed) return Status::ParseError(std::move(shared.error));
  return std::shared_ptr<const TemplateProgram>(new TemplateProgram(std::move(impl)));
}

}  // namespace nimify::tmpl
