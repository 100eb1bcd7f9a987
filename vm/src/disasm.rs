//! Human-readable listing of compiled programs (`ask disasm`, golden tests, debugging the
//! compiler). One block per proto (depth first), one instruction per line:
//! `index  line  OPCODE  operands  ; comment` where the comment resolves constants, global
//! names, upvalue names and jump targets.

use std::fmt::Write;

use crate::code::{Const, FuncProto, Program};
use crate::opcode::{Format, Instr, Op, K_EXTRA};

/// Every proto of the program, one instruction per line.
pub fn disassemble(program: &Program) -> String {
    let mut out = String::new();
    for (mi, m) in program.modules.iter().enumerate() {
        let file = program.files.get(m.file as usize).map(|f| f.0.as_str()).unwrap_or("?");
        let _ = writeln!(out, "module {mi} {} ({file}), {} globals", m.name, m.globals.len());
        proto(&mut out, &m.main, program, "");
    }
    if !program.routes.is_empty() {
        let _ = writeln!(out, "routes:");
        for (i, r) in program.routes.iter().enumerate() {
            let _ = writeln!(out, "  {i}: {} {}", r.method, r.path);
        }
    }
    out
}

fn const_text(c: &Const) -> String {
    match c {
        Const::None => "None".into(),
        Const::Bool(b) => if *b { "True" } else { "False" }.into(),
        Const::Int(i) => i.to_string(),
        Const::BigInt(b) => b.to_string(),
        Const::Float(f) => format!("{f:?}"),
        Const::Str(s) => format!("{s:?}"),
        Const::Bytes(b) => format!("b{:?}", String::from_utf8_lossy(b)),
        Const::Names(n) => format!("names{n:?}"),
    }
}

fn proto(out: &mut String, p: &FuncProto, program: &Program, path: &str) {
    let globals = program.modules.get(p.module as usize).map(|m| &m.globals[..]).unwrap_or(&[]);
    let _ = writeln!(
        out,
        "\nfunction {}{} (line {}): params={:?} vararg={} kwonly={} kwarg={} defaults={} nregs={} upvals={:?}{}",
        path,
        p.name,
        p.line,
        p.params.names,
        p.params.vararg,
        p.params.nkwonly,
        p.params.kwarg,
        p.params.ndefault_values(),
        p.nregs,
        p.upval_names,
        if p.is_generator { " generator" } else { "" }
    );
    let kname = |i: usize| p.consts.get(i).map(const_text).unwrap_or_else(|| "?".into());
    let mut pc = 0;
    while pc < p.code.len() {
        let ins: Instr = p.code[pc];
        let line = p.locs.get(pc).map(|l| l.line).unwrap_or(0);
        let Some(op) = ins.op() else {
            let _ = writeln!(out, "{pc:5} {line:5}  <invalid {:#010x}>", ins.0);
            pc += 1;
            continue;
        };
        let operands = match op.format() {
            Format::ABC => format!("{} {} {}", ins.a(), ins.b(), ins.c()),
            Format::ABx => format!("{} {}", ins.a(), ins.bx()),
            Format::AsBx => format!("{} {}", ins.a(), ins.sbx()),
            Format::SJ => format!("{}", ins.sj_off()),
            Format::Ax => format!("{}", ins.ax()),
        };
        // Resolve an 8-bit constant operand (possibly extended).
        let k8 = |v: usize| -> usize {
            if v == K_EXTRA as usize {
                p.code.get(pc + 1).map(|x| x.ax()).unwrap_or(v)
            } else {
                v
            }
        };
        let comment = match op {
            Op::LoadK | Op::GetBuiltin | Op::Import => kname(ins.bx()),
            Op::GetGlobal | Op::SetGlobal | Op::DelGlobal => {
                globals.get(ins.bx()).cloned().unwrap_or_else(|| "?".into())
            }
            Op::CallGlobal => globals.get(ins.c()).cloned().unwrap_or_else(|| "?".into()),
            Op::GetUpval | Op::SetUpval => p.upval_names.get(ins.b()).cloned().unwrap_or_default(),
            Op::Closure => p.protos.get(ins.bx()).map(|c| c.name.clone()).unwrap_or_default(),
            Op::Jmp | Op::SetupExcept | Op::SetupFinally | Op::SetupRespond => {
                format!("to {}", pc as isize + 1 + ins.sj_off())
            }
            Op::CallMethodR => p.code.get(pc + 1).map(|x| kname(x.ax())).unwrap_or_default(),
            Op::AddI | Op::SubI => format!("imm {}", ins.sc()),
            Op::Aug => format!("{:?}", Op::arith_op_from_code(ins.c() as u8)),
            Op::TestLtI | Op::TestLeI | Op::TestGtI | Op::TestGeI | Op::TestEqI | Op::TestNeI => {
                format!("imm {}", ins.sb())
            }
            Op::LoadModule => program.modules.get(ins.bx()).map(|m| m.name.clone()).unwrap_or_default(),
            Op::RegisterRoute => program
                .routes
                .get(ins.bx())
                .map(|r| format!("{} {}", r.method, r.path))
                .unwrap_or_default(),
            _ => match op.k8_operand() {
                Some('B') => kname(k8(ins.b())),
                Some(_) => kname(k8(ins.c())),
                None => String::new(),
            },
        };
        if comment.is_empty() {
            let _ = writeln!(out, "{pc:5} {line:5}  {:<14}{operands}", op.name());
        } else {
            let _ = writeln!(out, "{pc:5} {line:5}  {:<14}{operands:<14}; {comment}", op.name());
        }
        pc += 1;
    }
    let child_path = format!("{path}{}.", p.name);
    for c in &p.protos {
        proto(out, c, program, &child_path);
    }
}
