//! Tokens produced by the hand-written lexer (`lexer.rs`) and consumed by the LALRPOP grammar
//! (`grammar.lalrpop`, through its `extern` block).
//!
//! Literal tokens carry their decoded values (escapes resolved, numbers converted) so the grammar
//! never re-scans text. An f-string is one token whose parts keep the byte range of each embedded
//! expression; the parser parses those ranges recursively so spans stay file offsets.

use num_bigint::BigInt;
use std::fmt;

/// One piece of an f-string as found by the lexer.
#[derive(Clone, Debug, PartialEq)]
pub enum FRaw {
    /// Literal text (escapes and `{{`/`}}` already resolved).
    Lit(String),
    /// `{expr!conv:spec}`: `lo..hi` is the byte range of the expression text in the file.
    Expr { lo: usize, hi: usize, conv: Option<char>, spec: Vec<FRaw>, debug: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Name(String),
    Int(i64),
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    FStr(Vec<FRaw>),

    Newline,
    Indent,
    Dedent,

    // Python keywords.
    False,
    None,
    True,
    And,
    As,
    Assert,
    Break,
    Class,
    Continue,
    Def,
    Del,
    Elif,
    Else,
    Except,
    Finally,
    For,
    From,
    Global,
    If,
    Import,
    In,
    Is,
    Lambda,
    Nonlocal,
    Not,
    Or,
    Pass,
    Raise,
    Return,
    Try,
    While,
    /// A Python keyword Ask does not support (`with`, `yield`, `async`, `await`); the grammar
    /// never accepts it, so it surfaces as a readable "not supported" error.
    Reserved(&'static str),

    // Ask contextual keywords (only at the start of a logical line, see the lexer).
    DecoratorKw,
    DbModel,
    DbClass,
    Include,
    Extend,
    /// `&` at the start of a logical line: a decorator line.
    DecoAmp,
    /// `@` at the start of a logical line: a route.
    RouteAt,

    // Operators and delimiters.
    LPar,
    RPar,
    LSqb,
    RSqb,
    LBrace,
    RBrace,
    Colon,
    Comma,
    Semi,
    Plus,
    Minus,
    Star,
    Slash,
    VBar,
    Amper,
    Less,
    Greater,
    Equal,
    Dot,
    Percent,
    EqEqual,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Tilde,
    Circumflex,
    LeftShift,
    RightShift,
    DoubleStar,
    DoubleSlash,
    At,
    Arrow,
    Ellipsis,
    /// Augmented assignment; the payload is the operator symbol without `=` (`+`, `//`, `**` …).
    AugAssign(&'static str),
}

impl Token {
    /// How the token is shown to users in error messages.
    pub fn describe(&self) -> String {
        match self {
            Token::Name(n) => format!("name '{}'", n),
            Token::Int(_) | Token::BigInt(_) | Token::Float(_) => "number".into(),
            Token::Str(_) | Token::Bytes(_) | Token::FStr(_) => "string".into(),
            Token::Newline => "end of line".into(),
            Token::Indent => "indent".into(),
            Token::Dedent => "dedent".into(),
            other => format!("'{}'", other.text()),
        }
    }

    /// The source spelling of keyword and operator tokens.
    pub fn text(&self) -> &'static str {
        match self {
            Token::False => "False",
            Token::None => "None",
            Token::True => "True",
            Token::And => "and",
            Token::As => "as",
            Token::Assert => "assert",
            Token::Break => "break",
            Token::Class => "class",
            Token::Continue => "continue",
            Token::Def => "def",
            Token::Del => "del",
            Token::Elif => "elif",
            Token::Else => "else",
            Token::Except => "except",
            Token::Finally => "finally",
            Token::For => "for",
            Token::From => "from",
            Token::Global => "global",
            Token::If => "if",
            Token::Import => "import",
            Token::In => "in",
            Token::Is => "is",
            Token::Lambda => "lambda",
            Token::Nonlocal => "nonlocal",
            Token::Not => "not",
            Token::Or => "or",
            Token::Pass => "pass",
            Token::Raise => "raise",
            Token::Return => "return",
            Token::Try => "try",
            Token::While => "while",
            Token::Reserved(s) => s,
            Token::DecoratorKw => "decorator",
            Token::DbModel => "db_model",
            Token::DbClass => "db_class",
            Token::Include => "include",
            Token::Extend => "extend",
            Token::DecoAmp => "&",
            Token::RouteAt => "@",
            Token::LPar => "(",
            Token::RPar => ")",
            Token::LSqb => "[",
            Token::RSqb => "]",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::Colon => ":",
            Token::Comma => ",",
            Token::Semi => ";",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Star => "*",
            Token::Slash => "/",
            Token::VBar => "|",
            Token::Amper => "&",
            Token::Less => "<",
            Token::Greater => ">",
            Token::Equal => "=",
            Token::Dot => ".",
            Token::Percent => "%",
            Token::EqEqual => "==",
            Token::NotEqual => "!=",
            Token::LessEqual => "<=",
            Token::GreaterEqual => ">=",
            Token::Tilde => "~",
            Token::Circumflex => "^",
            Token::LeftShift => "<<",
            Token::RightShift => ">>",
            Token::DoubleStar => "**",
            Token::DoubleSlash => "//",
            Token::At => "@",
            Token::Arrow => "->",
            Token::Ellipsis => "...",
            Token::AugAssign(op) => match *op {
                "+" => "+=",
                "-" => "-=",
                "*" => "*=",
                "/" => "/=",
                "//" => "//=",
                "%" => "%=",
                "**" => "**=",
                "<<" => "<<=",
                ">>" => ">>=",
                "&" => "&=",
                "|" => "|=",
                "^" => "^=",
                _ => "@=",
            },
            Token::Name(_) => "name",
            Token::Int(_) | Token::BigInt(_) | Token::Float(_) => "number",
            Token::Str(_) | Token::Bytes(_) | Token::FStr(_) => "string",
            Token::Newline => "NEWLINE",
            Token::Indent => "INDENT",
            Token::Dedent => "DEDENT",
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Name(n) => write!(f, "Name({})", n),
            Token::Int(i) => write!(f, "Int({})", i),
            Token::BigInt(i) => write!(f, "BigInt({})", i),
            Token::Float(x) => write!(f, "Float({:?})", x),
            Token::Str(s) => write!(f, "Str({:?})", s),
            Token::Bytes(b) => write!(f, "Bytes({:?})", String::from_utf8_lossy(b)),
            Token::FStr(parts) => {
                write!(f, "FStr[")?;
                fmt_fparts(f, parts)?;
                write!(f, "]")
            }
            Token::Newline => write!(f, "NEWLINE"),
            Token::Indent => write!(f, "INDENT"),
            Token::Dedent => write!(f, "DEDENT"),
            Token::DecoAmp => write!(f, "DECO(&)"),
            Token::RouteAt => write!(f, "ROUTE(@)"),
            Token::DecoratorKw | Token::DbModel | Token::DbClass | Token::Include | Token::Extend => {
                write!(f, "KW({})", self.text())
            }
            other => write!(f, "'{}'", other.text()),
        }
    }
}

fn fmt_fparts(f: &mut fmt::Formatter<'_>, parts: &[FRaw]) -> fmt::Result {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            write!(f, " ")?;
        }
        match p {
            FRaw::Lit(s) => write!(f, "{:?}", s)?,
            FRaw::Expr { lo, hi, conv, spec, debug } => {
                write!(f, "{{@{}..{}", lo, hi)?;
                if let Some(d) = debug {
                    write!(f, " debug={:?}", d)?;
                }
                if let Some(c) = conv {
                    write!(f, " !{}", c)?;
                }
                if !spec.is_empty() {
                    write!(f, " :")?;
                    fmt_fparts(f, spec)?;
                }
                write!(f, "}}")?;
            }
        }
    }
    Ok(())
}
