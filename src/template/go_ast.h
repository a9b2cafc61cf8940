// Parse tree of a Go text/template (internal to src/template). Node kinds and
// their String() forms follow text/template/parse, because execution errors
// quote them ("executing \"x\" at <$labels.job>").
#ifndef NIMIFY_TEMPLATE_GO_AST_H_
#define NIMIFY_TEMPLATE_GO_AST_H_

#include <complex>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "template/go_template.h"

namespace nimify::tmpl::ast {

enum class NodeType : std::uint8_t {
  kText,
  kAction,
  kBool,
  kChain,
  kCommand,
  kDot,
  kField,
  kIdentifier,
  kIf,
  kList,
  kNil,
  kNumber,
  kPipe,
  kRange,
  kString,
  kTemplate,
  kVariable,
  kWith,
  kComment,
  kBreak,
  kContinue,
  kElse,
  kEnd,
};

struct Node {
  Node(NodeType t, int p) : type(t), pos(p) {}
  virtual ~Node() = default;
  virtual void WriteTo(std::string* out) const = 0;
  std::string String() const {
    std::string s;
    WriteTo(&s);
    return s;
  }

  NodeType type;
  int pos;  // byte offset in the template text
};

using NodePtr = std::unique_ptr<Node>;

struct ListNode : Node {
  explicit ListNode(int p) : Node(NodeType::kList, p) {}
  void WriteTo(std::string* out) const override {
    for (const auto& n : nodes) n->WriteTo(out);
  }
  std::vector<NodePtr> nodes;
};

struct TextNode : Node {
  TextNode(int p, std::string t) : Node(NodeType::kText, p), text(std::move(t)) {}
  void WriteTo(std::string* out) const override { out->append(text); }
  std::string text;
};

struct CommentNode : Node {
  CommentNode(int p, std::string t) : Node(NodeType::kComment, p), text(std::move(t)) {}
  void WriteTo(std::string* out) const override { out->append("{{" + text + "}}"); }
  std::string text;
};

struct IdentifierNode : Node {
  IdentifierNode(int p, std::string i) : Node(NodeType::kIdentifier, p), ident(std::move(i)) {}
  void WriteTo(std::string* out) const override { out->append(ident); }
  std::string ident;
};

// $x, or $x.Field1.Field2: ident[0] is the variable name with its '$'.
struct VariableNode : Node {
  VariableNode(int p, std::vector<std::string> i)
      : Node(NodeType::kVariable, p), ident(std::move(i)) {}
  void WriteTo(std::string* out) const override {
    for (std::size_t i = 0; i < ident.size(); ++i) {
      if (i > 0) out->push_back('.');
      out->append(ident[i]);
    }
  }
  std::vector<std::string> ident;
};

struct DotNode : Node {
  explicit DotNode(int p) : Node(NodeType::kDot, p) {}
  void WriteTo(std::string* out) const override { out->push_back('.'); }
};

struct NilNode : Node {
  explicit NilNode(int p) : Node(NodeType::kNil, p) {}
  void WriteTo(std::string* out) const override { out->append("nil"); }
};

// .Field1.Field2 (names without dots).
struct FieldNode : Node {
  FieldNode(int p, std::vector<std::string> i) : Node(NodeType::kField, p), ident(std::move(i)) {}
  void WriteTo(std::string* out) const override {
    for (const auto& id : ident) {
      out->push_back('.');
      out->append(id);
    }
  }
  std::vector<std::string> ident;
};

struct PipeNode;

// (pipeline).Field1.Field2, or another term followed by fields.
struct ChainNode : Node {
  ChainNode(int p, NodePtr n) : Node(NodeType::kChain, p), node(std::move(n)) {}
  void WriteTo(std::string* out) const override {
    if (node->type == NodeType::kPipe) {
      out->push_back('(');
      node->WriteTo(out);
      out->push_back(')');
    } else {
      node->WriteTo(out);
    }
    for (const auto& f : field) {
      out->push_back('.');
      out->append(f);
    }
  }
  NodePtr node;
  std::vector<std::string> field;
};

struct BoolNode : Node {
  BoolNode(int p, bool v) : Node(NodeType::kBool, p), value(v) {}
  void WriteTo(std::string* out) const override { out->append(value ? "true" : "false"); }
  bool value;
};

struct NumberNode : Node {
  NumberNode(int p, std::string t) : Node(NodeType::kNumber, p), text(std::move(t)) {}
  void WriteTo(std::string* out) const override { out->append(text); }
  bool is_int = false, is_uint = false, is_float = false, is_complex = false;
  std::int64_t int64 = 0;
  std::uint64_t uint64 = 0;
  double float64 = 0;
  std::complex<double> complex128;
  std::string text;
};

struct StringNode : Node {
  StringNode(int p, std::string q, std::string t)
      : Node(NodeType::kString, p), quoted(std::move(q)), text(std::move(t)) {}
  void WriteTo(std::string* out) const override { out->append(quoted); }
  std::string quoted;  // as written, quotes included
  std::string text;
};

struct CommandNode : Node {
  explicit CommandNode(int p) : Node(NodeType::kCommand, p) {}
  void WriteTo(std::string* out) const override {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (i > 0) out->push_back(' ');
      if (args[i]->type == NodeType::kPipe) {
        out->push_back('(');
        args[i]->WriteTo(out);
        out->push_back(')');
      } else {
        args[i]->WriteTo(out);
      }
    }
  }
  std::vector<NodePtr> args;
};

struct PipeNode : Node {
  PipeNode(int p, int l) : Node(NodeType::kPipe, p), line(l) {}
  void WriteTo(std::string* out) const override {
    if (!decl.empty()) {
      for (std::size_t i = 0; i < decl.size(); ++i) {
        if (i > 0) out->append(", ");
        decl[i]->WriteTo(out);
      }
      out->append(is_assign ? " = " : " := ");
    }
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      if (i > 0) out->append(" | ");
      cmds[i]->WriteTo(out);
    }
  }
  int line;
  bool is_assign = false;
  std::vector<std::unique_ptr<VariableNode>> decl;
  std::vector<std::unique_ptr<CommandNode>> cmds;
};

struct ActionNode : Node {
  ActionNode(int p, int l, std::unique_ptr<PipeNode> pp)
      : Node(NodeType::kAction, p), line(l), pipe(std::move(pp)) {}
  void WriteTo(std::string* out) const override {
    out->append("{{");
    pipe->WriteTo(out);
    out->append("}}");
  }
  int line;
  std::unique_ptr<PipeNode> pipe;
};

// if, range and with.
struct BranchNode : Node {
  BranchNode(NodeType t, int p, int l) : Node(t, p), line(l) {}
  void WriteTo(std::string* out) const override {
    const char* name = type == NodeType::kIf ? "if" : type == NodeType::kRange ? "range" : "with";
    out->append("{{");
    out->append(name);
    out->push_back(' ');
    pipe->WriteTo(out);
    out->append("}}");
    list->WriteTo(out);
    if (else_list) {
      out->append("{{else}}");
      else_list->WriteTo(out);
    }
    out->append("{{end}}");
  }
  int line;
  std::unique_ptr<PipeNode> pipe;
  std::unique_ptr<ListNode> list;
  std::unique_ptr<ListNode> else_list;  // may be null
};

struct SimpleNode : Node {
  SimpleNode(NodeType t, int p) : Node(t, p) {}
  void WriteTo(std::string* out) const override {
    switch (type) {
      case NodeType::kBreak:
        out->append("{{break}}");
        break;
      case NodeType::kContinue:
        out->append("{{continue}}");
        break;
      case NodeType::kElse:
        out->append("{{else}}");
        break;
      default:
        out->append("{{end}}");
        break;
    }
  }
};

struct TemplateCallNode : Node {
  TemplateCallNode(int p, int l, std::string n, std::unique_ptr<PipeNode> pp)
      : Node(NodeType::kTemplate, p), line(l), name(std::move(n)), pipe(std::move(pp)) {}
  void WriteTo(std::string* out) const override;  // {{template "name" pipeline}}
  int line;
  std::string name;
  std::unique_ptr<PipeNode> pipe;  // may be null
};

// One named template: the main one or a {{define}}/{{block}}.
struct Tree {
  std::string name;
  std::unique_ptr<ListNode> root;
};

}  // namespace nimify::tmpl::ast

namespace nimify::tmpl {

struct TemplateProgram::Impl {
  std::string text;        // the whole source; node positions index into it
  std::string parse_name;  // the top-level template's name, used in locations
  std::map<std::string, std::unique_ptr<ast::Tree>, std::less<>> trees;
  const FuncTable* funcs = nullptr;
  // The functions the templates name (an identifier is the only way to call one).
  std::set<std::string, std::less<>> called;

  const ast::Tree* main() const;
  // "name:line:col" of a node, as text/template's ErrorContext.
  std::string Location(const ast::Node& node) const;
};

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_GO_AST_H_
