//! The typed syntax tree of an Ask source file, produced by the parser and consumed by the
//! scope resolver and code generator.
//!
//! Every node carries a [`Span`] (byte offsets into its file) so that compile errors, runtime
//! tracebacks and API docs can point at source. The tree is plain data: no behaviour lives here
//! beyond small helpers, which keeps the parser→compiler boundary narrow and easy to golden-test.
//!
//! Desugarings that need no type or scope information are done by the parser (bare-word dict
//! keys become string literals, `respond(x), 201` stays a tuple expression and is recognised by
//! the code generator), so the compiler sees one canonical form for each construct.

use num_bigint::BigInt;

/// A byte range `[lo, hi)` in one source file. The file is implied by the [`Module`] that owns
/// the node; compiled code records it per function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub lo: u32,
    pub hi: u32,
}

impl Span {
    pub fn new(lo: usize, hi: usize) -> Span {
        Span { lo: lo as u32, hi: hi as u32 }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { lo: self.lo.min(other.lo), hi: self.hi.max(other.hi) }
    }
}

/// One parsed file.
#[derive(Clone, Debug)]
pub struct Module {
    pub body: Vec<Stmt>,
    /// Every `#` comment of the file as `(line (1-based), text after '#', trimmed)`, in order.
    /// Used to attach the comment block directly above a route to its API documentation.
    pub comments: Vec<(u32, String)>,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    /// An expression evaluated for its effect.
    Expr(Expr),
    /// `a = b = value`: `targets` holds `[a, b]` (assigned left to right).
    /// Targets are `Name`, `Attr`, `Subscript`, `Tuple`/`List` (possibly with one `Starred`).
    Assign { targets: Vec<Expr>, value: Expr },
    /// `target op= value`; `target` is `Name`, `Attr` or `Subscript`.
    AugAssign { target: Expr, op: BinOp, value: Expr },
    If { test: Expr, body: Vec<Stmt>, orelse: Vec<Stmt> },
    While { test: Expr, body: Vec<Stmt>, orelse: Vec<Stmt> },
    For { target: Expr, iter: Expr, body: Vec<Stmt>, orelse: Vec<Stmt> },
    Break,
    Continue,
    Pass,
    Return(Option<Expr>),
    FuncDef(Box<FuncDef>),
    ClassDef(Box<ClassDef>),
    Try { body: Vec<Stmt>, handlers: Vec<ExceptHandler>, orelse: Vec<Stmt>, finalbody: Vec<Stmt> },
    /// `raise`, `raise E`, `raise E from C`.
    Raise { exc: Option<Expr>, cause: Option<Expr> },
    Assert { test: Expr, msg: Option<Expr> },
    Del(Vec<Expr>),
    Global(Vec<Ident>),
    Nonlocal(Vec<Ident>),
    /// `import a.b as c`: one statement per imported module (`import a, b` yields two).
    Import { module: DottedName, alias: Option<Ident> },
    /// `from a.b import x as y, z`.
    ImportFrom { module: DottedName, names: Vec<(Ident, Option<Ident>)> },
    /// `include a.b`: inline `a/b.ask` here.
    Include(DottedName),
    /// `extend a.b` (optionally `as m`): load `a/b.ask` as a module object.
    Extend { module: DottedName, alias: Option<Ident> },
    /// `@get('/path'):` with its `&decorator` lines.
    Route(Box<RouteDef>),
    /// `decorator name:` block (its body may call `inner()`).
    DecoratorDef(Box<DecoratorDef>),
    /// `db_model Name:` / `db_class Name:`.
    Model(Box<ModelDef>),
}

/// An identifier with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `a.b.c` as written in `import`/`include`/`extend`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DottedName {
    pub parts: Vec<String>,
    pub span: Span,
}

impl DottedName {
    pub fn joined(&self) -> String {
        self.parts.join(".")
    }
}

/// A `&name` or `&name(args)` line above a route, function, class or model.
/// `expr` is the expression after `&` (a `Name`, `Attr` or `Call`).
#[derive(Clone, Debug)]
pub struct Decorator {
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct FuncDef {
    pub name: Ident,
    pub params: Params,
    pub body: Vec<Stmt>,
    /// Outermost first (the order written).
    pub decorators: Vec<Decorator>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Positional-or-keyword parameters, in order.
    pub args: Vec<Param>,
    /// `*name`.
    pub vararg: Option<Ident>,
    /// Keyword-only parameters (after `*` or `*args`).
    pub kwonly: Vec<Param>,
    /// `**name`.
    pub kwarg: Option<Ident>,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct ClassDef {
    pub name: Ident,
    pub bases: Vec<Expr>,
    pub body: Vec<Stmt>,
    pub decorators: Vec<Decorator>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ExceptHandler {
    /// `None` for a bare `except:`. May be a `Tuple` of classes.
    pub typ: Option<Expr>,
    pub name: Option<Ident>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// HTTP methods a route can declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl HttpMethod {
    pub fn from_name(s: &str) -> Option<HttpMethod> {
        Some(match s {
            "get" => HttpMethod::Get,
            "post" => HttpMethod::Post,
            "put" => HttpMethod::Put,
            "patch" => HttpMethod::Patch,
            "delete" => HttpMethod::Delete,
            "head" => HttpMethod::Head,
            "options" => HttpMethod::Options,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
            HttpMethod::Options => "OPTIONS",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RouteDef {
    pub method: HttpMethod,
    pub method_span: Span,
    /// The path string exactly as written, e.g. `/notes/<int:id>`.
    pub path: String,
    pub path_span: Span,
    pub decorators: Vec<Decorator>,
    pub body: Vec<Stmt>,
    /// The `#` comment block directly above the route (and its decorators), one entry per line.
    pub doc: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct DecoratorDef {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ModelDef {
    pub name: Ident,
    /// Ordinary class-body statements (column declarations are assignments `x = db.col(...)`).
    pub body: Vec<Stmt>,
    pub decorators: Vec<Decorator>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    None,
    True,
    False,
    /// An integer literal that fits in i64.
    Int(i64),
    /// An integer literal that does not fit in i64.
    BigInt(BigInt),
    Float(f64),
    /// A string literal (adjacent literals already concatenated, escapes resolved).
    Str(String),
    Bytes(Vec<u8>),
    /// An f-string (adjacent plain literals merged into `Lit` parts).
    FString(Vec<FPart>),
    Name(String),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<DictItem>),
    /// `*x` inside a display, a call's positional arguments or an assignment target.
    Starred(Box<Expr>),
    Attr(Box<Expr>, Ident),
    /// `value[index]`; `index` may be a `Slice` or a `Tuple`.
    Subscript(Box<Expr>, Box<Expr>),
    Slice { lower: Option<Box<Expr>>, upper: Option<Box<Expr>>, step: Option<Box<Expr>> },
    Call { func: Box<Expr>, args: Vec<Arg> },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a and b` / `a or b` (returning an operand).
    BoolOp(BoolOp, Box<Expr>, Box<Expr>),
    /// `a < b <= c`: the first operand and each (operator, operand) that follows.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    IfExp { test: Box<Expr>, body: Box<Expr>, orelse: Box<Expr> },
    Lambda(Box<Params>, Box<Expr>),
    ListComp(Box<Expr>, Vec<Comprehension>),
    SetComp(Box<Expr>, Vec<Comprehension>),
    DictComp(Box<Expr>, Box<Expr>, Vec<Comprehension>),
    GenExp(Box<Expr>, Vec<Comprehension>),
}

#[derive(Clone, Debug)]
pub enum FPart {
    Lit(String),
    /// `{value!conv:spec}`; `spec` may itself contain replacement fields.
    /// `debug` holds the source text for `{x=}` (printed before the value).
    Expr { value: Box<Expr>, conv: Option<char>, spec: Vec<FPart>, debug: Option<String> },
}

#[derive(Clone, Debug)]
pub enum DictItem {
    Pair(Expr, Expr),
    /// `**mapping`.
    Splat(Expr),
}

#[derive(Clone, Debug)]
pub enum Arg {
    Pos(Expr),
    /// `*iterable`.
    Star(Expr),
    Kw(Ident, Expr),
    /// `**mapping`.
    StarStar(Expr),
}

#[derive(Clone, Debug)]
pub struct Comprehension {
    pub target: Expr,
    pub iter: Expr,
    pub ifs: Vec<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Pos,
    Invert,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
    MatMul,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::MatMul => "@",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
    In,
    NotIn,
    Is,
    IsNot,
}

impl ExprKind {
    /// Call `f` on each sub-expression evaluated where this expression is, in evaluation order:
    /// the default recursion of the tree walkers (scopes, definite assignment), which handle
    /// names, lambdas and comprehensions themselves (those are not visited here: lambda bodies
    /// and comprehension clauses run in scopes of their own).
    pub fn for_each_operand<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        match self {
            ExprKind::None
            | ExprKind::True
            | ExprKind::False
            | ExprKind::Int(_)
            | ExprKind::BigInt(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bytes(_)
            | ExprKind::Name(_)
            | ExprKind::Lambda(..)
            | ExprKind::ListComp(..)
            | ExprKind::SetComp(..)
            | ExprKind::DictComp(..)
            | ExprKind::GenExp(..) => {}
            ExprKind::FString(parts) => fstring_operands(parts, f),
            ExprKind::List(xs) | ExprKind::Tuple(xs) | ExprKind::Set(xs) => xs.iter().for_each(f),
            ExprKind::Dict(items) => {
                for it in items {
                    match it {
                        DictItem::Pair(k, v) => {
                            f(k);
                            f(v);
                        }
                        DictItem::Splat(m) => f(m),
                    }
                }
            }
            ExprKind::Starred(x) | ExprKind::Attr(x, _) | ExprKind::Unary(_, x) => f(x),
            ExprKind::Subscript(x, i) | ExprKind::Binary(_, x, i) | ExprKind::BoolOp(_, x, i) => {
                f(x);
                f(i);
            }
            ExprKind::Slice { lower, upper, step } => [lower, upper, step].into_iter().flatten().for_each(|x| f(x)),
            ExprKind::Call { func, args } => {
                f(func);
                for a in args {
                    match a {
                        Arg::Pos(x) | Arg::Star(x) | Arg::Kw(_, x) | Arg::StarStar(x) => f(x),
                    }
                }
            }
            ExprKind::Compare(first, rest) => {
                f(first);
                rest.iter().for_each(|(_, x)| f(x));
            }
            ExprKind::IfExp { test, body, orelse } => {
                f(test);
                f(body);
                f(orelse);
            }
        }
    }
}

/// The replacement-field expressions of f-string parts, nested specs included.
fn fstring_operands<'a>(parts: &'a [FPart], f: &mut dyn FnMut(&'a Expr)) {
    for p in parts {
        if let FPart::Expr { value, spec, .. } = p {
            f(value);
            fstring_operands(spec, f);
        }
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}
