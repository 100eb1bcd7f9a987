//! Parser entry points and the helpers the LALRPOP grammar's actions call.
//!
//! `parse_module` lexes the file, splits the token stream into independent top-level statements
//! (so one syntax error per statement can be reported), parses each with the generated LALRPOP
//! parser and turns LALRPOP's errors into readable diagnostics (never internal token names).
//!
//! Depth bound: every expression/statement the grammar builds carries its tree depth ([`Ex`],
//! [`St`]). A node deeper than [`MAX_DEPTH`] is replaced by a placeholder and reported, so no
//! deep `Box` chain is ever built — neither the compiler's recursive passes nor the recursive
//! `Drop` of the tree can overflow the Rust stack, whatever the input (`1+1+…`, `- - - x`,
//! `a**a**…`, long `elif` chains). The LR parser itself keeps its stack on the heap.

use crate::ast::*;
use crate::diagnostic::{line_col, Diagnostic};
use crate::lexer::{Lexed, Lexer, Spanned};
use crate::token::{FRaw, Token};
use lalrpop_util::ParseError;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, unused_parens, unused_imports, dead_code, non_snake_case, unused_mut)]
    grammar,
    "/grammar.rs"
);

/// Maximum depth of any syntax tree (expressions and statements together). Compile-time passes
/// may recurse this deep (they run on the compile thread's large stack). 1,000 like CPython's
/// recursion limit: CPython compiles `1+1+…` chains of ~2,000 terms, and a limit of 200 turned
/// away real generated code; bracket nesting stays at 200 (the lexer), as in CPython.
pub const MAX_DEPTH: u32 = 1000;
/// At most this many diagnostics are returned for one file.
const MAX_REPORTED: usize = 50;
/// Maximum nesting of f-strings inside f-string replacement fields.
const MAX_FSTRING_NESTING: u32 = 8;

/// Parse one file. `file` is the display path used in diagnostics.
pub fn parse_module(src: &str, file: &str) -> Result<Module, Vec<Diagnostic>> {
    let (lexed, lex_errors) = Lexer::new(src, file).run();
    if !lex_errors.is_empty() {
        // Also report syntax errors of the statements the lexer found nothing wrong with.
        let mut errors = parse_chunks(src, file, lexed, &lex_errors);
        errors.extend(lex_errors);
        return Err(sorted(errors));
    }
    // Fast path: the whole token stream in one parse. Only when that fails is the file
    // re-parsed statement by statement to report one error per top-level statement.
    let mut cx = Ctx::new(src, file);
    let Lexed { tokens, comments, comment_lines, .. } = lexed;
    if let Ok(stmts) = grammar::ModuleParser::new().parse(&mut cx, tokens.into_iter().map(Ok::<Spanned, ()>)) {
        if cx.errors.is_empty() {
            let mut body: Vec<Stmt> = stmts.into_iter().map(|s| *s.s).collect();
            attach_docs(&mut body, &crate::diagnostic::LineIndex::new(src), &comments, &comment_lines);
            return Ok(Module { body, comments });
        }
    }
    let (lexed, _) = Lexer::new(src, file).run();
    let mut errors = parse_chunks(src, file, lexed, &[]);
    if errors.is_empty() {
        // Cannot happen (the whole-file parse failed), but never fail without a message.
        errors.push(Diagnostic::error(file, Span::new(0, 0), "invalid syntax"));
    }
    Err(sorted(errors))
}

/// The slow path: parse each top-level statement on its own and collect all errors. Statements
/// that contain a lexer error (`lex_errors`) are skipped: their tokens are not trustworthy.
fn parse_chunks(src: &str, file: &str, lexed: Lexed, lex_errors: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut cx = Ctx::new(src, file);
    let mut tokens = lexed.tokens;
    let mut chunks = lexed.chunks;
    chunks.push(tokens.len());
    let mut parse_errors = Vec::new();
    for w in chunks.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a >= b {
            continue;
        }
        let eof_pos = tokens.get(b).map(|t| t.0).unwrap_or(src.len());
        let start = tokens[a].0;
        if lex_errors.iter().any(|d| (d.span.lo as usize) >= start && (d.span.lo as usize) < eof_pos.max(start + 1)) {
            continue;
        }
        let chunk: Vec<Spanned> = tokens[a..b]
            .iter_mut()
            .map(|t| {
                let keep = lite(&t.1);
                (t.0, std::mem::replace(&mut t.1, keep), t.2)
            })
            .collect();
        if let Err(e) = grammar::ModuleParser::new().parse(&mut cx, chunk.into_iter().map(Ok::<Spanned, ()>)) {
            parse_errors.push(cx.map_error(e, &tokens[a..b], eof_pos, false));
        }
    }
    let mut errors = std::mem::take(&mut cx.errors);
    errors.extend(parse_errors);
    errors
}

/// Tokenize a whole file (for golden tests and debugging).
pub fn tokenize(src: &str, file: &str) -> Result<Vec<(usize, Token, usize)>, Vec<Diagnostic>> {
    let (lexed, errors) = Lexer::new(src, file).run();
    if errors.is_empty() {
        Ok(lexed.tokens)
    } else {
        Err(sorted(errors))
    }
}

/// One token per line, `line:col-line:col TOKEN`, or the rendered diagnostics.
pub fn dump_tokens(src: &str, file: &str) -> String {
    match tokenize(src, file) {
        Ok(toks) => {
            let mut out = String::new();
            for (lo, t, hi) in toks {
                let (l1, c1) = line_col(src, lo);
                let (l2, c2) = line_col(src, hi);
                out.push_str(&format!("{}:{}-{}:{} {}\n", l1, c1, l2, c2, t));
            }
            out
        }
        Err(errs) => errs.iter().map(|d| crate::diagnostic::render(d, src)).collect(),
    }
}

fn sorted(mut v: Vec<Diagnostic>) -> Vec<Diagnostic> {
    v.sort_by_key(|d| (d.span.lo, d.span.hi));
    v.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    // Nobody reads past the first screenful; a flood of errors only costs time.
    v.truncate(MAX_REPORTED);
    v
}

/// A payload-free copy of a token kept for error messages (the real one goes to the parser).
fn lite(t: &Token) -> Token {
    match t {
        Token::Name(n) if n == "print" => Token::Name(n.clone()),
        Token::Name(_) => Token::Name(String::new()),
        Token::Str(_) => Token::Str(String::new()),
        Token::Bytes(_) => Token::Bytes(Vec::new()),
        Token::FStr(_) => Token::FStr(Vec::new()),
        Token::BigInt(_) => Token::Int(0),
        other => other.clone(),
    }
}

/// Fill each route's `doc` with the comment-only lines directly above it.
fn attach_docs(body: &mut [Stmt], lines: &crate::diagnostic::LineIndex<'_>, comments: &[(u32, String)], comment_lines: &[u32]) {
    for s in body.iter_mut() {
        match &mut s.kind {
            StmtKind::Route(r) => {
                let (line, _) = lines.line_col(r.span.lo as usize);
                let mut l = line as u32;
                let mut doc = Vec::new();
                while l > 1 && comment_lines.binary_search(&(l - 1)).is_ok() {
                    l -= 1;
                    if let Ok(i) = comments.binary_search_by_key(&l, |c| c.0) {
                        doc.push(comments[i].1.clone());
                    }
                }
                doc.reverse();
                r.doc = doc;
            }
            StmtKind::If { body, orelse, .. } => {
                attach_docs(body, lines, comments, comment_lines);
                attach_docs(orelse, lines, comments, comment_lines);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values the grammar passes around.

/// An expression with the depth of its tree.
pub struct Ex {
    pub e: Expr,
    pub d: u32,
}

/// A statement with the depth of its tree.
pub struct St {
    /// Boxed to keep the LR parser's symbols small (they are moved on every reduction).
    pub s: Box<Stmt>,
    pub d: u32,
}

/// A suite (block) with its depth and the end of its last statement.
pub struct Suite {
    pub body: Vec<Stmt>,
    pub d: u32,
    pub hi: usize,
}

/// One piece of an adjacent-string-literal sequence.
pub enum Piece {
    S(String),
    B(Vec<u8>),
    F(Vec<FRaw>),
}

/// `( … )` / `[ … ]` contents.
pub enum Tlc {
    Comp(Ex, Vec<Comprehension>, u32),
    List(Vec<Ex>, bool),
}

/// `{ … }` contents.
pub enum Dso {
    DictComp(Ex, Ex, Vec<Comprehension>, u32),
    Dict(Vec<DI>),
    SetComp(Ex, Vec<Comprehension>, u32),
    Set(Vec<Ex>),
}

pub enum DI {
    Pair(Box<Ex>, Ex),
    Splat(Ex),
}

/// A call argument as parsed.
pub enum ArgX {
    Pos(Ex),
    Gen(Ex),
    Kw(Box<Ex>, Ex),
    Star(Ex),
    StarStar(Ex),
}

/// A parameter as parsed (order is validated afterwards).
pub enum PI {
    Plain(Ident, Option<Box<Ex>>),
    Star(Option<Ident>, usize, usize),
    Kw(Ident),
    Slash(usize, usize),
}

/// One `for … in … if …` clause with its depth.
pub struct CompX {
    pub c: Box<Comprehension>,
    pub d: u32,
}

pub struct DecoX {
    pub deco: Decorator,
    pub d: u32,
}

pub struct Handler {
    pub h: Box<ExceptHandler>,
    pub d: u32,
}

// ---------------------------------------------------------------------------------------------
// The parse context: source, file name, collected errors.

pub struct Ctx<'s> {
    pub src: &'s str,
    pub file: &'s str,
    pub errors: Vec<Diagnostic>,
    too_deep: bool,
    fdepth: u32,
}

fn sp(l: usize, r: usize) -> Span {
    Span::new(l, r)
}

fn maxd<'a>(it: impl IntoIterator<Item = &'a Ex>) -> u32 {
    it.into_iter().map(|e| e.d).max().unwrap_or(0)
}

fn kind_name(e: &Expr) -> &'static str {
    match &e.kind {
        ExprKind::None => "None",
        ExprKind::True => "True",
        ExprKind::False => "False",
        ExprKind::Int(_) | ExprKind::BigInt(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bytes(_) => "literal",
        ExprKind::FString(_) => "f-string expression",
        ExprKind::Call { .. } => "function call",
        ExprKind::Compare(..) => "comparison",
        ExprKind::Lambda(..) => "lambda",
        ExprKind::IfExp { .. } => "conditional expression",
        ExprKind::ListComp(..) => "list comprehension",
        ExprKind::SetComp(..) => "set comprehension",
        ExprKind::DictComp(..) => "dict comprehension",
        ExprKind::GenExp(..) => "generator expression",
        ExprKind::Dict(_) => "dict literal",
        ExprKind::Set(_) => "set display",
        ExprKind::Tuple(_) => "tuple",
        ExprKind::List(_) => "list",
        ExprKind::Starred(_) => "starred",
        ExprKind::Name(_) => "name",
        ExprKind::Attr(..) => "attribute",
        ExprKind::Subscript(..) => "subscript",
        ExprKind::Slice { .. } => "slice",
        _ => "expression",
    }
}

impl<'s> Ctx<'s> {
    pub fn new(src: &'s str, file: &'s str) -> Ctx<'s> {
        Ctx { src, file, errors: Vec::new(), too_deep: false, fdepth: 0 }
    }

    pub fn err(&mut self, lo: usize, hi: usize, msg: impl Into<String>) {
        self.errors.push(Diagnostic::error(self.file, sp(lo, hi), msg));
    }

    fn err_span(&mut self, s: Span, msg: impl Into<String>) {
        self.errors.push(Diagnostic::error(self.file, s, msg));
    }

    pub fn leaf(&mut self, kind: ExprKind, l: usize, r: usize) -> Ex {
        Ex { e: Expr::new(kind, sp(l, r)), d: 1 }
    }

    /// Build a node of depth `d`, or a placeholder (and one error) when it is too deep.
    pub fn mk(&mut self, kind: ExprKind, l: usize, r: usize, d: u32) -> Ex {
        if d > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.err(l, r, format!("expression too deeply nested (more than {} levels)", MAX_DEPTH));
            }
            // `kind`'s children are at most MAX_DEPTH deep: dropping them is safe.
            drop(kind);
            return Ex { e: Expr::new(ExprKind::None, sp(l, r)), d: 1 };
        }
        Ex { e: Expr::new(kind, sp(l, r)), d }
    }

    fn st(&mut self, kind: StmtKind, l: usize, r: usize, d: u32) -> St {
        if d > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.err(l, l + 1, format!("code too deeply nested (more than {} levels)", MAX_DEPTH));
            }
            drop(kind);
            return St { s: Box::new(Stmt { kind: StmtKind::Pass, span: sp(l, r) }), d: 1 };
        }
        St { s: Box::new(Stmt { kind, span: sp(l, r) }), d }
    }

    // ----- expressions -----

    pub fn int(&mut self, v: i64, l: usize, r: usize) -> Ex {
        self.leaf(ExprKind::Int(v), l, r)
    }

    pub fn bin(&mut self, op: BinOp, a: Ex, b: Ex, l: usize, r: usize) -> Ex {
        let d = a.d.max(b.d) + 1;
        self.mk(ExprKind::Binary(op, Box::new(a.e), Box::new(b.e)), l, r, d)
    }

    /// Group a flat `a op b op c …` sequence by Python's precedence (all left-associative),
    /// without recursion (shunting-yard).
    pub fn climb(&mut self, first: Ex, rest: Vec<(BinOp, Ex)>) -> Ex {
        fn prec(op: BinOp) -> u8 {
            match op {
                BinOp::BitOr => 1,
                BinOp::BitXor => 2,
                BinOp::BitAnd => 3,
                BinOp::LShift | BinOp::RShift => 4,
                BinOp::Add | BinOp::Sub => 5,
                BinOp::Pow => 7,
                _ => 6,
            }
        }
        let mut operands: Vec<Ex> = Vec::with_capacity(rest.len() + 1);
        let mut ops: Vec<BinOp> = Vec::with_capacity(rest.len());
        operands.push(first);
        for (op, e) in rest {
            while let Some(&top) = ops.last() {
                if prec(top) < prec(op) {
                    break;
                }
                ops.pop();
                self.reduce_top(top, &mut operands);
            }
            ops.push(op);
            operands.push(e);
        }
        while let Some(top) = ops.pop() {
            self.reduce_top(top, &mut operands);
        }
        match operands.pop() {
            Some(e) => e,
            None => self.leaf(ExprKind::None, 0, 0),
        }
    }

    fn reduce_top(&mut self, op: BinOp, operands: &mut Vec<Ex>) {
        let (Some(b), Some(a)) = (operands.pop(), operands.pop()) else { return };
        let (l, r) = (a.e.span.lo as usize, b.e.span.hi as usize);
        let e = self.bin(op, a, b, l, r);
        operands.push(e);
    }

    /// Group a flat `a and b or c …` sequence (`and` binds tighter; both left-associative).
    pub fn climb_bool(&mut self, first: Ex, rest: Vec<(BoolOp, Ex)>) -> Ex {
        let mut or_terms: Vec<Ex> = Vec::new();
        let mut cur = first;
        for (op, e) in rest {
            match op {
                BoolOp::And => {
                    let (l, r) = (cur.e.span.lo as usize, e.e.span.hi as usize);
                    cur = self.boolop(BoolOp::And, cur, e, l, r);
                }
                BoolOp::Or => {
                    or_terms.push(cur);
                    cur = e;
                }
            }
        }
        let mut it = or_terms.into_iter();
        let Some(mut acc) = it.next() else { return cur };
        for t in it.chain(std::iter::once(cur)) {
            let (l, r) = (acc.e.span.lo as usize, t.e.span.hi as usize);
            acc = self.boolop(BoolOp::Or, acc, t, l, r);
        }
        acc
    }

    pub fn boolop(&mut self, op: BoolOp, a: Ex, b: Ex, l: usize, r: usize) -> Ex {
        let d = a.d.max(b.d) + 1;
        self.mk(ExprKind::BoolOp(op, Box::new(a.e), Box::new(b.e)), l, r, d)
    }

    pub fn unary(&mut self, op: UnaryOp, e: Ex, l: usize, r: usize) -> Ex {
        let d = e.d + 1;
        self.mk(ExprKind::Unary(op, Box::new(e.e)), l, r, d)
    }

    pub fn compare(&mut self, a: Ex, rest: Vec<(CmpOp, Ex)>, l: usize, r: usize) -> Ex {
        let d = a.d.max(rest.iter().map(|x| x.1.d).max().unwrap_or(0)) + 1;
        let rest = rest.into_iter().map(|(op, e)| (op, e.e)).collect();
        self.mk(ExprKind::Compare(Box::new(a.e), rest), l, r, d)
    }

    pub fn ifexp(&mut self, body: Ex, test: Ex, orelse: Ex, l: usize, r: usize) -> Ex {
        let d = body.d.max(test.d).max(orelse.d) + 1;
        self.mk(
            ExprKind::IfExp { test: Box::new(test.e), body: Box::new(body.e), orelse: Box::new(orelse.e) },
            l,
            r,
            d,
        )
    }

    pub fn lambda(&mut self, params: Vec<PI>, body: Ex, l: usize, r: usize) -> Ex {
        let (p, pd) = self.params(params, true);
        let d = pd.max(body.d) + 1;
        self.mk(ExprKind::Lambda(Box::new(p), Box::new(body.e)), l, r, d)
    }

    pub fn starred(&mut self, e: Ex, l: usize, r: usize) -> Ex {
        let d = e.d + 1;
        self.mk(ExprKind::Starred(Box::new(e.e)), l, r, d)
    }

    /// `a` or `a, b` (a tuple when there is a comma).
    pub fn tuple_or_single(&mut self, v: (Vec<Ex>, bool), l: usize, r: usize) -> Ex {
        let (mut v, trailing) = v;
        if v.len() == 1 && !trailing {
            return v.pop().unwrap_or_else(|| self.leaf(ExprKind::None, l, r));
        }
        let d = maxd(&v) + 1;
        let items = v.into_iter().map(|x| x.e).collect();
        self.mk(ExprKind::Tuple(items), l, r, d)
    }

    pub fn attr(&mut self, v: Ex, name: Ident, l: usize, r: usize) -> Ex {
        let d = v.d + 1;
        self.mk(ExprKind::Attr(Box::new(v.e), name), l, r, d)
    }

    pub fn subscript(&mut self, v: Ex, i: Ex, l: usize, r: usize) -> Ex {
        let d = v.d.max(i.d) + 1;
        self.mk(ExprKind::Subscript(Box::new(v.e), Box::new(i.e)), l, r, d)
    }

    pub fn slice(&mut self, a: Option<Ex>, b: Option<Ex>, c: Option<Ex>, l: usize, r: usize) -> Ex {
        let d = [&a, &b, &c].iter().filter_map(|x| x.as_ref().map(|e| e.d)).max().unwrap_or(0) + 1;
        self.mk(
            ExprKind::Slice {
                lower: a.map(|e| Box::new(e.e)),
                upper: b.map(|e| Box::new(e.e)),
                step: c.map(|e| Box::new(e.e)),
            },
            l,
            r,
            d,
        )
    }

    pub fn call(&mut self, f: Ex, args: Vec<ArgX>, l: usize, r: usize) -> Ex {
        let n = args.len();
        let mut d = f.d;
        let mut out = Vec::with_capacity(n);
        let mut seen_kw = false;
        let mut seen_kwsplat = false;
        for a in args {
            match a {
                ArgX::Pos(e) => {
                    d = d.max(e.d);
                    if seen_kwsplat {
                        self.err_span(e.e.span, "positional argument follows keyword argument unpacking");
                    } else if seen_kw {
                        self.err_span(e.e.span, "positional argument follows keyword argument");
                    }
                    out.push(Arg::Pos(e.e));
                }
                ArgX::Gen(e) => {
                    d = d.max(e.d);
                    if n > 1 {
                        self.err_span(e.e.span, "Generator expression must be parenthesized");
                    }
                    out.push(Arg::Pos(e.e));
                }
                ArgX::Star(e) => {
                    d = d.max(e.d);
                    if seen_kwsplat {
                        self.err_span(e.e.span, "iterable argument unpacking follows keyword argument unpacking");
                    }
                    out.push(Arg::Star(e.e));
                }
                ArgX::Kw(k, v) => {
                    d = d.max(v.d);
                    seen_kw = true;
                    match k.e.kind {
                        ExprKind::Name(n) if (k.e.span.hi - k.e.span.lo) as usize == n.len() => {
                            out.push(Arg::Kw(Ident { name: n, span: k.e.span }, v.e));
                        }
                        _ => {
                            self.err_span(
                                k.e.span,
                                "expression cannot contain assignment, perhaps you meant \"==\"?",
                            );
                        }
                    }
                }
                ArgX::StarStar(e) => {
                    d = d.max(e.d);
                    seen_kwsplat = true;
                    out.push(Arg::StarStar(e.e));
                }
            }
        }
        self.mk(ExprKind::Call { func: Box::new(f.e), args: out }, l, r, d + 1)
    }

    pub fn comp_for(&mut self, target: Ex, iter: Ex, ifs: Vec<Ex>) -> CompX {
        let d = target.d.max(iter.d).max(maxd(&ifs));
        let target = self.target(target.e, TargetCtx::For);
        CompX { c: Box::new(Comprehension { target, iter: iter.e, ifs: ifs.into_iter().map(|e| e.e).collect() }), d }
    }

    pub fn comps(v: Vec<CompX>) -> (Vec<Comprehension>, u32) {
        let d = v.iter().map(|c| c.d).max().unwrap_or(0);
        (v.into_iter().map(|c| *c.c).collect(), d)
    }

    fn no_star(&mut self, e: &Ex) {
        if let ExprKind::Starred(_) = e.e.kind {
            self.err_span(e.e.span, "cannot use starred expression here");
        }
    }

    pub fn paren(&mut self, t: Box<Tlc>, l: usize, r: usize) -> Ex {
        match *t {
            Tlc::Comp(e, c, cd) => {
                self.no_star(&e);
                let d = e.d.max(cd) + 1;
                self.mk(ExprKind::GenExp(Box::new(e.e), c), l, r, d)
            }
            Tlc::List(mut v, trailing) => {
                if v.len() == 1 && !trailing {
                    let mut e = v.pop().unwrap_or_else(|| self.leaf(ExprKind::None, l, r));
                    self.no_star(&e);
                    // The span includes the parentheses: this is how `{(name): 1}` is told apart
                    // from a bare-word key `{name: 1}`.
                    e.e.span = sp(l, r);
                    return e;
                }
                let d = maxd(&v) + 1;
                self.mk(ExprKind::Tuple(v.into_iter().map(|x| x.e).collect()), l, r, d)
            }
        }
    }

    pub fn list(&mut self, t: Box<Tlc>, l: usize, r: usize) -> Ex {
        match *t {
            Tlc::Comp(e, c, cd) => {
                self.no_star(&e);
                let d = e.d.max(cd) + 1;
                self.mk(ExprKind::ListComp(Box::new(e.e), c), l, r, d)
            }
            Tlc::List(v, _) => {
                let d = maxd(&v) + 1;
                self.mk(ExprKind::List(v.into_iter().map(|x| x.e).collect()), l, r, d)
            }
        }
    }

    pub fn dictset(&mut self, x: Box<Dso>, l: usize, r: usize) -> Ex {
        match *x {
            Dso::DictComp(k, v, c, cd) => {
                let d = k.d.max(v.d).max(cd) + 1;
                self.mk(ExprKind::DictComp(Box::new(k.e), Box::new(v.e), c), l, r, d)
            }
            Dso::SetComp(e, c, cd) => {
                self.no_star(&e);
                let d = e.d.max(cd) + 1;
                self.mk(ExprKind::SetComp(Box::new(e.e), c), l, r, d)
            }
            Dso::Set(v) => {
                let d = maxd(&v) + 1;
                self.mk(ExprKind::Set(v.into_iter().map(|x| x.e).collect()), l, r, d)
            }
            Dso::Dict(items) => {
                let mut d = 0;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        DI::Pair(k, v) => {
                            d = d.max(k.d).max(v.d);
                            out.push(DictItem::Pair(bare_key(k.e), v.e));
                        }
                        DI::Splat(e) => {
                            d = d.max(e.d);
                            out.push(DictItem::Splat(e.e));
                        }
                    }
                }
                self.mk(ExprKind::Dict(out), l, r, d + 1)
            }
        }
    }

    /// Adjacent string literals: concatenate (f-strings become one `FString`).
    pub fn strings(&mut self, pieces: Vec<(usize, Piece, usize)>, l: usize, r: usize) -> Ex {
        let any_bytes = pieces.iter().any(|p| matches!(p.1, Piece::B(_)));
        let all_bytes = pieces.iter().all(|p| matches!(p.1, Piece::B(_)));
        if any_bytes && !all_bytes {
            self.err(l, r, "cannot mix bytes and nonbytes literals");
            return self.leaf(ExprKind::None, l, r);
        }
        if all_bytes {
            let mut out = Vec::new();
            for p in pieces {
                if let Piece::B(b) = p.1 {
                    out.extend(b);
                }
            }
            return self.leaf(ExprKind::Bytes(out), l, r);
        }
        if !pieces.iter().any(|p| matches!(p.1, Piece::F(_))) {
            let mut s = String::new();
            for p in pieces {
                if let Piece::S(x) = p.1 {
                    if s.is_empty() {
                        s = x;
                    } else {
                        s.push_str(&x);
                    }
                }
            }
            return self.leaf(ExprKind::Str(s), l, r);
        }
        let mut parts: Vec<FPart> = Vec::new();
        let mut d = 0;
        for p in pieces {
            match p.1 {
                Piece::S(s) => push_lit(&mut parts, s),
                Piece::F(raw) => {
                    let (conv, pd) = self.fparts(raw);
                    d = d.max(pd);
                    for part in conv {
                        match part {
                            FPart::Lit(s) => push_lit(&mut parts, s),
                            other => parts.push(other),
                        }
                    }
                }
                Piece::B(_) => {}
            }
        }
        self.mk(ExprKind::FString(parts), l, r, d + 1)
    }

    fn fparts(&mut self, raw: Vec<FRaw>) -> (Vec<FPart>, u32) {
        let mut out = Vec::with_capacity(raw.len());
        let mut d = 0;
        for p in raw {
            match p {
                FRaw::Lit(s) => push_lit(&mut out, s),
                FRaw::Expr { lo, hi, conv, spec, debug } => {
                    let value = self.parse_fexpr(lo, hi);
                    let (spec, sd) = self.fparts(spec);
                    d = d.max(value.d).max(sd);
                    out.push(FPart::Expr { value: Box::new(value.e), conv, spec, debug });
                }
            }
        }
        (out, d)
    }

    /// Parse the expression text `src[lo..hi]` of an f-string replacement field.
    fn parse_fexpr(&mut self, lo: usize, hi: usize) -> Ex {
        if self.fdepth >= MAX_FSTRING_NESTING {
            self.err(lo, hi, "f-string: expressions nested too deeply");
            return self.leaf(ExprKind::None, lo, hi);
        }
        let (lexed, errs) = Lexer::for_expr(self.src, lo, hi, self.file).run();
        if !errs.is_empty() {
            self.errors.extend(errs);
            return self.leaf(ExprKind::None, lo, hi);
        }
        if lexed.tokens.is_empty() {
            self.err(lo, hi, "f-string: empty expression not allowed");
            return self.leaf(ExprKind::None, lo, hi);
        }
        let toks = lexed.tokens;
        let kept: Vec<Spanned> = toks.iter().map(|t| (t.0, lite(&t.1), t.2)).collect();
        self.fdepth += 1;
        let res = grammar::FExprParser::new().parse(self, toks.into_iter().map(Ok::<Spanned, ()>));
        self.fdepth -= 1;
        match res {
            Ok(e) => e,
            Err(e) => {
                let d = self.map_error(e, &kept, hi, true);
                self.errors.push(d);
                self.leaf(ExprKind::None, lo, hi)
            }
        }
    }

    // ----- targets -----

    pub fn target(&mut self, e: Expr, ctx: TargetCtx) -> Expr {
        let mut starred = 0;
        self.check_target(&e, ctx, true, &mut starred);
        e
    }

    fn check_target(&mut self, e: &Expr, ctx: TargetCtx, top: bool, starred: &mut u32) {
        match &e.kind {
            ExprKind::Name(_) | ExprKind::Attr(..) | ExprKind::Subscript(..) => {}
            ExprKind::Tuple(items) | ExprKind::List(items) if ctx != TargetCtx::Aug => {
                let mut n = 0;
                for it in items {
                    if let ExprKind::Starred(inner) = &it.kind {
                        n += 1;
                        if ctx == TargetCtx::Del {
                            self.err_span(it.span, "cannot delete starred");
                        } else {
                            self.check_target(inner, ctx, false, starred);
                        }
                        if n == 2 {
                            self.err_span(it.span, "multiple starred expressions in assignment");
                        }
                    } else {
                        self.check_target(it, ctx, false, starred);
                    }
                }
            }
            ExprKind::Starred(_) if top && ctx != TargetCtx::Aug && ctx != TargetCtx::Del => {
                self.err_span(e.span, "starred assignment target must be in a list or tuple");
            }
            _ => {
                let what = kind_name(e);
                let msg = match ctx {
                    TargetCtx::Assign => {
                        if matches!(e.kind, ExprKind::None | ExprKind::True | ExprKind::False) {
                            format!("cannot assign to {}", what)
                        } else {
                            format!("cannot assign to {} here. Maybe you meant '==' instead of '='?", what)
                        }
                    }
                    TargetCtx::For => format!("cannot assign to {}", what),
                    TargetCtx::Del => format!("cannot delete {}", what),
                    TargetCtx::Aug => format!("'{}' is an illegal expression for augmented assignment", what),
                };
                self.err_span(e.span, msg);
            }
        }
    }

    // ----- parameters -----

    pub fn params(&mut self, items: Vec<PI>, lambda: bool) -> (Params, u32) {
        let mut p = Params::default();
        let mut d = 0;
        let mut after_star = false;
        let mut seen_default = false;
        let mut names: Vec<String> = Vec::new();
        let mut check_dup = |cx: &mut Ctx, id: &Ident| {
            if names.iter().any(|n| *n == id.name) {
                cx.err_span(id.span, format!("duplicate argument '{}' in function definition", id.name));
            } else {
                names.push(id.name.clone());
            }
        };
        let mut ended = false;
        for it in items {
            if ended {
                let span = match &it {
                    PI::Plain(n, _) | PI::Kw(n) => n.span,
                    PI::Star(_, l, r) | PI::Slash(l, r) => sp(*l, *r),
                };
                self.err_span(span, "arguments cannot follow var-keyword argument");
                continue;
            }
            match it {
                PI::Plain(name, default) => {
                    check_dup(self, &name);
                    if let Some(x) = &default {
                        d = d.max(x.d);
                    }
                    if after_star {
                        p.kwonly.push(Param { name, default: default.map(|x| x.e) });
                    } else {
                        if default.is_some() {
                            seen_default = true;
                        } else if seen_default {
                            self.err_span(name.span, "non-default argument follows default argument");
                        }
                        p.args.push(Param { name, default: default.map(|x| x.e) });
                    }
                }
                PI::Star(name, l, r) => {
                    if after_star {
                        self.err(l, r, "* argument may appear only once");
                    }
                    after_star = true;
                    if let Some(n) = &name {
                        check_dup(self, n);
                    }
                    p.vararg = name;
                }
                PI::Kw(name) => {
                    check_dup(self, &name);
                    p.kwarg = Some(name);
                    ended = true;
                }
                PI::Slash(l, r) => {
                    let _ = lambda;
                    self.err(l, r, "positional-only parameters ('/') are not supported in Ask");
                }
            }
        }
        if after_star && p.vararg.is_none() && p.kwonly.is_empty() {
            self.err(0, 0, "named arguments must follow bare *");
            // Point at something useful: the last error is re-spanned below if possible.
            if let Some(last) = self.errors.last_mut() {
                last.span = p.kwarg.as_ref().map(|k| k.span).unwrap_or(last.span);
            }
        }
        (p, d)
    }

    // ----- statements -----

    pub fn suite(&mut self, stmts: Vec<St>) -> Suite {
        let d = stmts.iter().map(|s| s.d).max().unwrap_or(0);
        let hi = stmts.last().map(|s| s.s.span.hi as usize).unwrap_or(0);
        Suite { body: stmts.into_iter().map(|s| *s.s).collect(), d, hi }
    }

    pub fn expr_stmt(&mut self, e: Ex, l: usize, r: usize) -> St {
        self.st(StmtKind::Expr(e.e), l, r, e.d + 1)
    }

    pub fn assign(&mut self, first: Ex, rest: Vec<Ex>, l: usize, r: usize) -> St {
        let mut all = Vec::with_capacity(rest.len() + 1);
        all.push(first);
        all.extend(rest);
        let value = all.pop();
        let Some(value) = value else {
            return self.st(StmtKind::Pass, l, r, 1);
        };
        let d = maxd(&all).max(value.d) + 1;
        let targets = all.into_iter().map(|t| self.target(t.e, TargetCtx::Assign)).collect();
        self.st(StmtKind::Assign { targets, value: value.e }, l, r, d)
    }

    pub fn annassign(&mut self, target: Ex, ann: Ex, value: Option<Ex>, l: usize, r: usize) -> St {
        drop(ann);
        match &target.e.kind {
            ExprKind::Name(_) | ExprKind::Attr(..) | ExprKind::Subscript(..) => {}
            ExprKind::Tuple(_) => self.err_span(target.e.span, "only single target (not tuple) can be annotated"),
            _ => self.err_span(target.e.span, "illegal target for annotation"),
        }
        match value {
            Some(v) => {
                let d = target.d.max(v.d) + 1;
                self.st(StmtKind::Assign { targets: vec![target.e], value: v.e }, l, r, d)
            }
            None => self.st(StmtKind::Pass, l, r, 1),
        }
    }

    pub fn augassign(&mut self, target: Ex, op: &str, value: Ex, l: usize, r: usize) -> St {
        let op = match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "//" => BinOp::FloorDiv,
            "%" => BinOp::Mod,
            "**" => BinOp::Pow,
            "<<" => BinOp::LShift,
            ">>" => BinOp::RShift,
            "&" => BinOp::BitAnd,
            "|" => BinOp::BitOr,
            "^" => BinOp::BitXor,
            _ => BinOp::MatMul,
        };
        let d = target.d.max(value.d) + 1;
        let t = self.target(target.e, TargetCtx::Aug);
        self.st(StmtKind::AugAssign { target: t, op, value: value.e }, l, r, d)
    }

    pub fn simple(&mut self, kind: StmtKind, l: usize, r: usize, d: u32) -> St {
        self.st(kind, l, r, d + 1)
    }

    pub fn del(&mut self, t: Ex, l: usize, r: usize) -> St {
        let d = t.d + 1;
        let targets = match t.e.kind {
            // `del a, b` deletes each; a parenthesised tuple means the same in Python.
            ExprKind::Tuple(items) => items,
            other => vec![Expr::new(other, t.e.span)],
        };
        let targets = targets.into_iter().map(|e| self.target(e, TargetCtx::Del)).collect();
        self.st(StmtKind::Del(targets), l, r, d)
    }

    pub fn if_stmt(
        &mut self,
        l: usize,
        test: Ex,
        body: Suite,
        elifs: Vec<Box<(usize, Ex, Suite)>>,
        orelse: Option<Suite>,
    ) -> St {
        // Build the elif chain from the end: each `elif` is an `If` in the previous `orelse`.
        let mut tail: Option<(Vec<Stmt>, u32, usize)> = orelse.map(|s| (s.body, s.d, s.hi));
        for b in elifs.into_iter().rev() {
            let (el, t, s) = *b;
            let (ob, od, ohi) = tail.take().unwrap_or((Vec::new(), 0, s.hi));
            let hi = ohi.max(s.hi);
            let d = t.d.max(s.d).max(od) + 1;
            let st = self.st(StmtKind::If { test: t.e, body: s.body, orelse: ob }, el, hi, d);
            tail = Some((vec![*st.s], st.d, hi));
        }
        let (ob, od, ohi) = tail.unwrap_or((Vec::new(), 0, body.hi));
        let hi = ohi.max(body.hi);
        let d = test.d.max(body.d).max(od) + 1;
        self.st(StmtKind::If { test: test.e, body: body.body, orelse: ob }, l, hi, d)
    }

    pub fn while_stmt(&mut self, l: usize, test: Ex, body: Suite, orelse: Option<Suite>) -> St {
        let (ob, od, ohi) = orelse.map(|s| (s.body, s.d, s.hi)).unwrap_or((Vec::new(), 0, 0));
        let d = test.d.max(body.d).max(od) + 1;
        let hi = body.hi.max(ohi);
        self.st(StmtKind::While { test: test.e, body: body.body, orelse: ob }, l, hi, d)
    }

    pub fn for_stmt(&mut self, l: usize, target: Ex, iter: Ex, body: Suite, orelse: Option<Suite>) -> St {
        let (ob, od, ohi) = orelse.map(|s| (s.body, s.d, s.hi)).unwrap_or((Vec::new(), 0, 0));
        let d = target.d.max(iter.d).max(body.d).max(od) + 1;
        let hi = body.hi.max(ohi);
        let t = self.target(target.e, TargetCtx::For);
        self.st(StmtKind::For { target: t, iter: iter.e, body: body.body, orelse: ob }, l, hi, d)
    }

    pub fn handler(&mut self, l: usize, r: usize, typ: Option<(Ex, Option<Ident>)>, body: Suite) -> Handler {
        let (typ, name, td) = match typ {
            Some((t, n)) => (Some(t.e), n, t.d),
            None => (None, None, 0),
        };
        let d = td.max(body.d);
        let hi = body.hi.max(r);
        Handler { h: Box::new(ExceptHandler { typ, name, body: body.body, span: sp(l, hi) }), d }
    }

    pub fn try_stmt(
        &mut self,
        l: usize,
        body: Suite,
        handlers: Vec<Handler>,
        orelse: Option<Suite>,
        finalbody: Option<Suite>,
    ) -> St {
        let n = handlers.len();
        for (i, h) in handlers.iter().enumerate() {
            if h.h.typ.is_none() && i + 1 < n {
                let s = h.h.span;
                self.err(s.lo as usize, s.lo as usize + 6, "default 'except:' must be last");
            }
        }
        let mut d = body.d;
        let mut hi = body.hi;
        for h in &handlers {
            d = d.max(h.d);
            hi = hi.max(h.h.span.hi as usize);
        }
        let (ob, od, ohi) = orelse.map(|s| (s.body, s.d, s.hi)).unwrap_or((Vec::new(), 0, 0));
        let (fb, fd, fhi) = finalbody.map(|s| (s.body, s.d, s.hi)).unwrap_or((Vec::new(), 0, 0));
        let d = d.max(od).max(fd) + 1;
        let hi = hi.max(ohi).max(fhi);
        let handlers = handlers.into_iter().map(|h| *h.h).collect();
        self.st(StmtKind::Try { body: body.body, handlers, orelse: ob, finalbody: fb }, l, hi, d)
    }

    pub fn deco(&mut self, e: Ex, l: usize, r: usize) -> DecoX {
        DecoX { deco: Decorator { expr: e.e, span: sp(l, r) }, d: e.d }
    }

    fn decos(v: Vec<DecoX>) -> (Vec<Decorator>, u32, Option<usize>) {
        let d = v.iter().map(|x| x.d).max().unwrap_or(0);
        let lo = v.first().map(|x| x.deco.span.lo as usize);
        (v.into_iter().map(|x| x.deco).collect(), d, lo)
    }

    pub fn funcdef(&mut self, decos: Vec<DecoX>, l: usize, name: Ident, params: Vec<PI>, body: Suite) -> St {
        let (decorators, dd, dlo) = Ctx::decos(decos);
        let (params, pd) = self.params(params, false);
        let d = dd.max(pd).max(body.d) + 1;
        let lo = dlo.unwrap_or(l);
        let span = sp(lo, body.hi);
        let f = FuncDef { name, params, body: body.body, decorators, span };
        self.st(StmtKind::FuncDef(Box::new(f)), lo, body.hi, d)
    }

    pub fn classdef(&mut self, decos: Vec<DecoX>, l: usize, name: Ident, bases: Option<Vec<ArgX>>, body: Suite) -> St {
        let (decorators, dd, dlo) = Ctx::decos(decos);
        let mut bd = 0;
        let mut out = Vec::new();
        for a in bases.unwrap_or_default() {
            match a {
                ArgX::Pos(e) => {
                    bd = bd.max(e.d);
                    out.push(e.e);
                }
                ArgX::Gen(e) | ArgX::Star(e) | ArgX::StarStar(e) | ArgX::Kw(_, e) => {
                    self.err_span(e.e.span, "only plain base classes are supported in a class definition");
                }
            }
        }
        let d = dd.max(bd).max(body.d) + 1;
        let lo = dlo.unwrap_or(l);
        let mut body_stmts = body.body;
        // ASK.md §1.3: `def init`/`def _init` in a class body is the constructor `__init__`.
        for s in body_stmts.iter_mut() {
            if let StmtKind::FuncDef(f) = &mut s.kind {
                if f.name.name == "init" || f.name.name == "_init" {
                    f.name.name = "__init__".to_string();
                }
            }
        }
        let c = ClassDef { name, bases: out, body: body_stmts, decorators, span: sp(lo, body.hi) };
        self.st(StmtKind::ClassDef(Box::new(c)), lo, body.hi, d)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn route(
        &mut self,
        decos: Vec<DecoX>,
        l: usize,
        method: String,
        ml: usize,
        mr: usize,
        path: Vec<(usize, Piece, usize)>,
        body: Suite,
    ) -> St {
        let (decorators, dd, dlo) = Ctx::decos(decos);
        let m = match HttpMethod::from_name(&method) {
            Some(m) => m,
            None => {
                self.err(
                    ml,
                    mr,
                    format!(
                        "unknown HTTP method '{}' in route (expected one of get, post, put, patch, delete, head, options)",
                        method
                    ),
                );
                HttpMethod::Get
            }
        };
        let pl = path.first().map(|p| p.0).unwrap_or(mr);
        let pr = path.last().map(|p| p.2).unwrap_or(mr);
        let mut s = String::new();
        for p in path {
            match p.1 {
                Piece::S(x) => s.push_str(&x),
                _ => self.err(p.0, p.2, "a route path must be a plain string literal"),
            }
        }
        let lo = dlo.unwrap_or(l);
        let d = dd.max(body.d) + 1;
        let r = RouteDef {
            method: m,
            method_span: sp(ml, mr),
            path: s,
            path_span: sp(pl, pr),
            decorators,
            body: body.body,
            doc: Vec::new(),
            span: sp(lo, body.hi),
        };
        self.st(StmtKind::Route(Box::new(r)), lo, body.hi, d)
    }

    pub fn decorator_def(&mut self, l: usize, name: Ident, body: Suite) -> St {
        let d = body.d + 1;
        let x = DecoratorDef { name, body: body.body, span: sp(l, body.hi) };
        self.st(StmtKind::DecoratorDef(Box::new(x)), l, body.hi, d)
    }

    pub fn model(&mut self, decos: Vec<DecoX>, l: usize, name: Ident, body: Suite) -> St {
        let (decorators, dd, dlo) = Ctx::decos(decos);
        let lo = dlo.unwrap_or(l);
        let d = dd.max(body.d) + 1;
        let m = ModelDef { name, body: body.body, decorators, span: sp(lo, body.hi) };
        self.st(StmtKind::Model(Box::new(m)), lo, body.hi, d)
    }

    // ----- errors -----

    /// Turn a LALRPOP error into a readable diagnostic. `toks` are (payload-free copies of) the
    /// tokens that were parsed, `eof_pos` is where "end of input" is for this parse.
    fn map_error(&self, e: ParseError<usize, Token, ()>, toks: &[Spanned], eof_pos: usize, fstring: bool) -> Diagnostic {
        let prefix = if fstring { "f-string: " } else { "" };
        let (lo, hi, msg) = match e {
            ParseError::UnrecognizedToken { token: (l, t, r), expected } => {
                let idx = toks.iter().position(|x| x.0 == l && x.1 == lite(&t)).unwrap_or(toks.len());
                let msg = self.unexpected(&t, &expected, toks, idx);
                let (l, r) = if r <= l { (l, l + 1) } else { (l, r) };
                (l, r, msg)
            }
            ParseError::UnrecognizedEof { location, expected } => {
                let idx = toks.len();
                let has = |s: &str| expected.iter().any(|x| x.trim_matches('"') == s);
                if has("INDENT") {
                    (eof_pos, eof_pos + 1, self.expected_block(toks, idx))
                } else if has("def") && has("@route") && !has("if") {
                    let at = toks.iter().rev().find(|t| t.1 == Token::DecoAmp).map(|t| t.0).unwrap_or(location);
                    (
                        at,
                        at + 1,
                        "a decorator line must be followed by a route, function, class or model definition"
                            .to_string(),
                    )
                } else if fstring {
                    (location, location + 1, "expecting '}'".to_string())
                } else {
                    let _ = location;
                    (eof_pos, eof_pos + 1, "unexpected end of file".to_string())
                }
            }
            ParseError::ExtraToken { token: (l, _, r) } => (l, r.max(l + 1), "invalid syntax".to_string()),
            ParseError::InvalidToken { location } => (location, location + 1, "invalid token".to_string()),
            ParseError::User { .. } => (eof_pos, eof_pos + 1, "invalid syntax".to_string()),
        };
        Diagnostic::error(self.file, sp(lo, hi), format!("{}{}", prefix, msg))
    }

    fn unexpected(&self, t: &Token, expected: &[String], toks: &[Spanned], idx: usize) -> String {
        let has = |s: &str| expected.iter().any(|x| x.trim_matches('"') == s);
        if let Token::Reserved(w) = t {
            return match *w {
                "with" => "'with' statements are not supported in Ask".to_string(),
                other => format!("'{}' is not supported in Ask", other),
            };
        }
        if *t == Token::Indent {
            return "unexpected indent".to_string();
        }
        if has("INDENT") {
            return self.expected_block(toks, idx);
        }
        if has("def") && has("@route") && !has("if") {
            return "a decorator line must be followed by a route, function, class or model definition".to_string();
        }
        if *t == Token::Newline && has(":") {
            return "expected ':'".to_string();
        }
        if *t == Token::Equal {
            return "invalid syntax. Maybe you meant '==' or ':=' instead of '='?".to_string();
        }
        if idx > 0 {
            if let Token::Name(n) = &toks[idx - 1].1 {
                if n == "print" && matches!(t, Token::Str(_) | Token::Name(_) | Token::Int(_) | Token::FStr(_)) {
                    return "Missing parentheses in call to 'print'. Did you mean print(...)?".to_string();
                }
            }
        }
        let atom_start = |t: &Token| {
            matches!(
                t,
                Token::Name(_)
                    | Token::Int(_)
                    | Token::BigInt(_)
                    | Token::Float(_)
                    | Token::Str(_)
                    | Token::Bytes(_)
                    | Token::FStr(_)
                    | Token::None
                    | Token::True
                    | Token::False
            )
        };
        if idx > 0 && idx <= toks.len() && atom_start(t) && (atom_start(&toks[idx - 1].1) || matches!(toks[idx - 1].1, Token::RPar | Token::RSqb | Token::RBrace)) {
            // Inside brackets two adjacent operands are most likely a missing comma.
            let mut depth = 0i32;
            for (_, tk, _) in toks[..idx].iter().rev() {
                match tk {
                    Token::RPar | Token::RSqb | Token::RBrace => depth -= 1,
                    Token::LPar | Token::LSqb | Token::LBrace => depth += 1,
                    Token::Newline | Token::Indent | Token::Dedent => break,
                    _ => {}
                }
            }
            if depth > 0 {
                return "invalid syntax. Perhaps you forgot a comma?".to_string();
            }
        }
        if idx >= 3 && toks[idx - 1].1 == Token::LPar && toks[idx - 3].1 == Token::RouteAt {
            return "a route path must be a string literal, as in @get('/path'):".to_string();
        }
        match t {
            Token::RPar | Token::RSqb | Token::RBrace => format!("unmatched '{}'", t.text()),
            Token::Dedent => "invalid syntax (unexpected end of block)".to_string(),
            _ => "invalid syntax".to_string(),
        }
    }

    /// "expected an indented block after 'if' statement on line N".
    fn expected_block(&self, toks: &[Spanned], idx: usize) -> String {
        // Walk back to the header: the token after the previous line break before the `:`.
        let mut i = idx.min(toks.len());
        // Skip the NEWLINE and the ':' that ended the header.
        i = i.saturating_sub(2);
        while i > 0 && !matches!(toks[i - 1].1, Token::Newline | Token::Indent | Token::Dedent) {
            i -= 1;
        }
        let Some((lo, t, _)) = toks.get(i) else {
            return "expected an indented block".to_string();
        };
        let what = match t {
            Token::If => "'if' statement",
            Token::Elif => "'elif' statement",
            Token::Else => "'else' statement",
            Token::While => "'while' statement",
            Token::For => "'for' statement",
            Token::Try => "'try' statement",
            Token::Except => "'except' statement",
            Token::Finally => "'finally' statement",
            Token::Def => "function definition",
            Token::Class => "class definition",
            Token::RouteAt => "route",
            Token::DecoratorKw => "decorator definition",
            Token::DbModel | Token::DbClass => "model definition",
            _ => return "expected an indented block".to_string(),
        };
        // An `elif`/`else` header may follow a block: the scan above stops at the dedent.
        let (line, _) = line_col(self.src, *lo);
        format!("expected an indented block after {} on line {}", what, line)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TargetCtx {
    Assign,
    For,
    Del,
    Aug,
}

/// A bare identifier key of a dict display is a string (ASK.md §1.2). A parenthesised name has
/// a span wider than the name, so `{(k): v}` stays a variable.
fn bare_key(k: Expr) -> Expr {
    match k.kind {
        ExprKind::Name(n) if (k.span.hi - k.span.lo) as usize == n.len() => Expr::new(ExprKind::Str(n), k.span),
        kind => Expr::new(kind, k.span),
    }
}

fn push_lit(parts: &mut Vec<FPart>, s: String) {
    if s.is_empty() {
        return;
    }
    if let Some(FPart::Lit(prev)) = parts.last_mut() {
        prev.push_str(&s);
    } else {
        parts.push(FPart::Lit(s));
    }
}

// ---------------------------------------------------------------------------------------------
// A compact S-expression dump of the tree, for golden tests and debugging.

/// Render a module as one S-expression per statement (spans omitted).
pub fn dump_ast(m: &Module) -> String {
    let mut out = String::new();
    for s in &m.body {
        dump_stmt(s, 0, &mut out);
    }
    out
}

fn ind(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push_str("  ");
    }
}

fn dump_body(name: &str, b: &[Stmt], n: usize, out: &mut String) {
    if b.is_empty() {
        return;
    }
    ind(n, out);
    out.push_str(name);
    out.push_str(":\n");
    for s in b {
        dump_stmt(s, n + 1, out);
    }
}

fn dump_params(p: &Params) -> String {
    let mut v = Vec::new();
    for a in &p.args {
        v.push(match &a.default {
            Some(d) => format!("{}={}", a.name.name, dump_expr(d)),
            None => a.name.name.clone(),
        });
    }
    if let Some(a) = &p.vararg {
        v.push(format!("*{}", a.name));
    } else if !p.kwonly.is_empty() {
        v.push("*".into());
    }
    for a in &p.kwonly {
        v.push(match &a.default {
            Some(d) => format!("{}={}", a.name.name, dump_expr(d)),
            None => a.name.name.clone(),
        });
    }
    if let Some(a) = &p.kwarg {
        v.push(format!("**{}", a.name));
    }
    format!("({})", v.join(" "))
}

fn dump_decos(d: &[Decorator]) -> String {
    d.iter().map(|d| format!("&{} ", dump_expr(&d.expr))).collect()
}

fn dump_stmt(s: &Stmt, n: usize, out: &mut String) {
    ind(n, out);
    let line = match &s.kind {
        StmtKind::Expr(e) => dump_expr(e),
        StmtKind::Assign { targets, value } => {
            let t: Vec<String> = targets.iter().map(dump_expr).collect();
            format!("(= {} {})", t.join(" "), dump_expr(value))
        }
        StmtKind::AugAssign { target, op, value } => {
            format!("({}= {} {})", op.symbol(), dump_expr(target), dump_expr(value))
        }
        StmtKind::If { test, body, orelse } => {
            out.push_str(&format!("(if {})\n", dump_expr(test)));
            dump_body("then", body, n + 1, out);
            dump_body("else", orelse, n + 1, out);
            return;
        }
        StmtKind::While { test, body, orelse } => {
            out.push_str(&format!("(while {})\n", dump_expr(test)));
            dump_body("do", body, n + 1, out);
            dump_body("else", orelse, n + 1, out);
            return;
        }
        StmtKind::For { target, iter, body, orelse } => {
            out.push_str(&format!("(for {} {})\n", dump_expr(target), dump_expr(iter)));
            dump_body("do", body, n + 1, out);
            dump_body("else", orelse, n + 1, out);
            return;
        }
        StmtKind::Break => "(break)".into(),
        StmtKind::Continue => "(continue)".into(),
        StmtKind::Pass => "(pass)".into(),
        StmtKind::Return(e) => match e {
            Some(e) => format!("(return {})", dump_expr(e)),
            None => "(return)".into(),
        },
        StmtKind::FuncDef(f) => {
            out.push_str(&format!("{}(def {} {})\n", dump_decos(&f.decorators), f.name.name, dump_params(&f.params)));
            dump_body("body", &f.body, n + 1, out);
            return;
        }
        StmtKind::ClassDef(c) => {
            let b: Vec<String> = c.bases.iter().map(dump_expr).collect();
            out.push_str(&format!("{}(class {} ({}))\n", dump_decos(&c.decorators), c.name.name, b.join(" ")));
            dump_body("body", &c.body, n + 1, out);
            return;
        }
        StmtKind::Try { body, handlers, orelse, finalbody } => {
            out.push_str("(try)\n");
            dump_body("body", body, n + 1, out);
            for h in handlers {
                ind(n + 1, out);
                out.push_str(&format!(
                    "(except {} {})\n",
                    h.typ.as_ref().map(dump_expr).unwrap_or_else(|| "_".into()),
                    h.name.as_ref().map(|i| i.name.as_str()).unwrap_or("_")
                ));
                dump_body("body", &h.body, n + 2, out);
            }
            dump_body("else", orelse, n + 1, out);
            dump_body("finally", finalbody, n + 1, out);
            return;
        }
        StmtKind::Raise { exc, cause } => format!(
            "(raise {} {})",
            exc.as_ref().map(dump_expr).unwrap_or_else(|| "_".into()),
            cause.as_ref().map(dump_expr).unwrap_or_else(|| "_".into())
        ),
        StmtKind::Assert { test, msg } => {
            format!("(assert {} {})", dump_expr(test), msg.as_ref().map(dump_expr).unwrap_or_else(|| "_".into()))
        }
        StmtKind::Del(v) => format!("(del {})", v.iter().map(dump_expr).collect::<Vec<_>>().join(" ")),
        StmtKind::Global(v) => format!("(global {})", v.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" ")),
        StmtKind::Nonlocal(v) => {
            format!("(nonlocal {})", v.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" "))
        }
        StmtKind::Import { module, alias } => format!(
            "(import {} {})",
            module.joined(),
            alias.as_ref().map(|a| a.name.as_str()).unwrap_or("_")
        ),
        StmtKind::ImportFrom { module, names } => {
            let v: Vec<String> = names
                .iter()
                .map(|(a, b)| match b {
                    Some(b) => format!("{} as {}", a.name, b.name),
                    None => a.name.clone(),
                })
                .collect();
            format!("(from {} import {})", module.joined(), v.join(", "))
        }
        StmtKind::Include(m) => format!("(include {})", m.joined()),
        StmtKind::Extend { module, alias } => format!(
            "(extend {} {})",
            module.joined(),
            alias.as_ref().map(|a| a.name.as_str()).unwrap_or("_")
        ),
        StmtKind::Route(r) => {
            out.push_str(&format!("{}(route {} {:?} doc={:?})\n", dump_decos(&r.decorators), r.method.as_str(), r.path, r.doc));
            dump_body("body", &r.body, n + 1, out);
            return;
        }
        StmtKind::DecoratorDef(d) => {
            out.push_str(&format!("(decorator {})\n", d.name.name));
            dump_body("body", &d.body, n + 1, out);
            return;
        }
        StmtKind::Model(m) => {
            out.push_str(&format!("{}(model {})\n", dump_decos(&m.decorators), m.name.name));
            dump_body("body", &m.body, n + 1, out);
            return;
        }
    };
    out.push_str(&line);
    out.push('\n');
}

fn list(v: &[Expr]) -> String {
    v.iter().map(dump_expr).collect::<Vec<_>>().join(" ")
}

fn dump_comps(c: &[Comprehension]) -> String {
    c.iter()
        .map(|c| {
            let ifs: String = c.ifs.iter().map(|i| format!(" (if {})", dump_expr(i))).collect();
            format!(" (for {} {}{})", dump_expr(&c.target), dump_expr(&c.iter), ifs)
        })
        .collect()
}

fn dump_fparts(parts: &[FPart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            FPart::Lit(s) => format!("{:?}", s),
            FPart::Expr { value, conv, spec, debug } => {
                let mut s = format!("{{{}", dump_expr(value));
                if let Some(d) = debug {
                    s.push_str(&format!(" ={:?}", d));
                }
                if let Some(c) = conv {
                    s.push_str(&format!(" !{}", c));
                }
                if !spec.is_empty() {
                    s.push_str(&format!(" :{}", dump_fparts(spec)));
                }
                s.push('}');
                s
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One expression as an S-expression.
pub fn dump_expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::None => "None".into(),
        ExprKind::True => "True".into(),
        ExprKind::False => "False".into(),
        ExprKind::Int(i) => i.to_string(),
        ExprKind::BigInt(i) => format!("{}n", i),
        ExprKind::Float(f) => format!("{:?}", f),
        ExprKind::Str(s) => format!("{:?}", s),
        ExprKind::Bytes(b) => format!("b{:?}", String::from_utf8_lossy(b)),
        ExprKind::FString(p) => format!("(f {})", dump_fparts(p)),
        ExprKind::Name(n) => n.clone(),
        ExprKind::List(v) => format!("[{}]", list(v)),
        ExprKind::Tuple(v) => format!("(tuple {})", list(v)),
        ExprKind::Set(v) => format!("(set {})", list(v)),
        ExprKind::Dict(items) => {
            let v: Vec<String> = items
                .iter()
                .map(|i| match i {
                    DictItem::Pair(k, v) => format!("{}: {}", dump_expr(k), dump_expr(v)),
                    DictItem::Splat(e) => format!("**{}", dump_expr(e)),
                })
                .collect();
            format!("{{{}}}", v.join(", "))
        }
        ExprKind::Starred(x) => format!("*{}", dump_expr(x)),
        ExprKind::Attr(x, n) => format!("(. {} {})", dump_expr(x), n.name),
        ExprKind::Subscript(x, i) => format!("(index {} {})", dump_expr(x), dump_expr(i)),
        ExprKind::Slice { lower, upper, step } => {
            let f = |x: &Option<Box<Expr>>| x.as_ref().map(|e| dump_expr(e)).unwrap_or_else(|| "_".into());
            format!("(slice {} {} {})", f(lower), f(upper), f(step))
        }
        ExprKind::Call { func, args } => {
            let mut s = format!("(call {}", dump_expr(func));
            for a in args {
                s.push(' ');
                match a {
                    Arg::Pos(e) => s.push_str(&dump_expr(e)),
                    Arg::Star(e) => s.push_str(&format!("*{}", dump_expr(e))),
                    Arg::Kw(k, e) => s.push_str(&format!("{}={}", k.name, dump_expr(e))),
                    Arg::StarStar(e) => s.push_str(&format!("**{}", dump_expr(e))),
                }
            }
            s.push(')');
            s
        }
        ExprKind::Unary(op, x) => {
            let o = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Pos => "+",
                UnaryOp::Invert => "~",
                UnaryOp::Not => "not",
            };
            format!("({} {})", o, dump_expr(x))
        }
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), dump_expr(a), dump_expr(b)),
        ExprKind::BoolOp(op, a, b) => {
            format!("({} {} {})", if *op == BoolOp::And { "and" } else { "or" }, dump_expr(a), dump_expr(b))
        }
        ExprKind::Compare(a, rest) => {
            let mut s = format!("(cmp {}", dump_expr(a));
            for (op, x) in rest {
                s.push_str(&format!(" {:?} {}", op, dump_expr(x)));
            }
            s.push(')');
            s
        }
        ExprKind::IfExp { test, body, orelse } => {
            format!("(ifexp {} {} {})", dump_expr(test), dump_expr(body), dump_expr(orelse))
        }
        ExprKind::Lambda(p, b) => format!("(lambda {} {})", dump_params(p), dump_expr(b)),
        ExprKind::ListComp(x, c) => format!("(listcomp {}{})", dump_expr(x), dump_comps(c)),
        ExprKind::SetComp(x, c) => format!("(setcomp {}{})", dump_expr(x), dump_comps(c)),
        ExprKind::DictComp(k, v, c) => format!("(dictcomp {} {}{})", dump_expr(k), dump_expr(v), dump_comps(c)),
        ExprKind::GenExp(x, c) => format!("(genexp {}{})", dump_expr(x), dump_comps(c)),
    }
}
