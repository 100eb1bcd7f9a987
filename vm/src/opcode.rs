//! The Ask instruction set: the single source of truth for the bytecode the compiler emits and
//! the interpreter executes.
//!
//! # Encoding
//!
//! Every instruction is one `u32` word. The opcode is always the low byte; the other 24 bits hold
//! operands in one of four layouts (Lua 5.4 style, chosen because decoding is a shift and a mask):
//!
//! ```text
//!  31        24 23        16 15         8 7          0
//! +------------+------------+------------+------------+
//! |     C:8    |     B:8    |     A:8    |    op:8    |   iABC
//! +------------+------------+------------+------------+
//! |         Bx:16 (unsigned)|     A:8    |    op:8    |   iABx   (constant / global / proto index)
//! +------------+------------+------------+------------+
//! |        sBx:16 (signed)  |     A:8    |    op:8    |   iAsBx  (small int immediate)
//! +------------+------------+------------+------------+
//! |           sJ:24 (signed)             |    op:8    |   isJ    (jump offset)
//! +------------+------------+------------+------------+
//! |           Ax:24 (unsigned)           |    op:8    |   iAx    (`ExtraArg` payload)
//! +------------+------------+------------+------------+
//! ```
//!
//! # Conventions (the compiler relies on these)
//!
//! - `R[X]` is register X of the current frame (0..=255). Parameters occupy R[0..nparams] in
//!   order: positional params, then `*args` (a tuple), then keyword-only params, then `**kwargs`
//!   (a dict). Registers above them are locals and temporaries; all start as `None`.
//! - **Unbound locals**: a local that may be read before it has a value starts as the unbound
//!   marker (`Unbind` at frame entry), and every such read is preceded by `CheckBound`
//!   (→ `UnboundLocalError`). The compiler proves all other reads safe (`compiler/src/flow.rs`),
//!   so the marker never reaches any other instruction.
//! - `K[X]` is constant X of the current proto (`FuncProto::consts`).
//! - `G[X]` is global slot X of the proto's module (`ModuleInfo::globals` names the slots).
//!   Reading an unset global falls back to the built-ins by name (the current task's locals
//!   first, then `Vm::builtins`), then raises `NameError: name 'x' is not defined`.
//! - **8-bit constant operands** (written `kB`/`kC` below): a value of 255 means "the real
//!   index is the `Ax` field of the `ExtraArg` word that immediately follows this instruction".
//!   Use [`Instr::k8`] to encode: if the index is < 255 put it in the operand, otherwise put 255
//!   and emit `ExtraArg(index)` right after.
//! - **Jumps**: `pc` points at the *next* instruction when the offset is applied, so
//!   `Jmp sJ` continues at `index_of_jmp + 1 + sJ`.
//! - **Tests**: every `Test*` instruction (and `ForNext`, `ExcMatch`-style tests) is
//!   immediately followed by a `Jmp`. When the tested condition is FALSE, the `Jmp` is taken;
//!   when it is TRUE, the `Jmp` is skipped. E.g. `if a < b: body` compiles to
//!   `TestLt a b; Jmp else; body...`. (The interpreter decodes the `Jmp` in place, so a test
//!   plus its jump costs one dispatch.)
//! - **Calls**: the callee is in `R[A]`, positional arguments in `R[A+1..=A+B]`, and the single
//!   result is written back to `R[A]`. Arguments are consumed (their registers may be left
//!   `None` after the call): never rely on their contents afterwards.
//! - **Range/iterator loops** use three consecutive registers `R[A], R[A+1], R[A+2]` as loop
//!   state: `ForPrep A` (iterable in `R[A]`), `Jmp foot`, body, then at the foot
//!   `ForLoop A B; Jmp body` (next item into `R[B]`, `B` outside `A..=A+2`; the `Jmp` is taken
//!   while there are items, so an iteration costs one loop dispatch). `continue` jumps to the
//!   foot. (`ForNext A B; Jmp exit` at the head with `Jmp head` at the end is the older, still
//!   valid layout.) The compiler must not touch `R[A..=A+2]` inside the loop body.
//! - **Exceptions**: `SetupExcept sJ` / `SetupFinally sJ` push a handler for the current frame;
//!   `PopHandler` pops it when the protected body completes normally. When an exception unwinds to
//!   a handler, the VM pops that handler, pushes the exception on the *caught* stack and jumps to
//!   the handler target. Handler code uses `ExcMatch`, `GetExc`, and ends with `EndExcept`
//!   (handled: pops the caught stack) or `Reraise` (re-raise caught with its traceback). A
//!   `SetupFinally` handler also receives `respond()`/`status()` unwinding (to run `finally`);
//!   its handler code must end with `Reraise`. `SetupExcept` handlers never see signals.
//!   `SetupRespond` handlers see nothing but that signal; `GetExc` gives its payload, a
//!   `(kind, value, status, headers)` tuple (how `inner()` runs the wrapped handler as a plain
//!   call in the same task, so a host call in it can suspend).
//!   `break`/`continue`/`return` leaving a protected region must first emit `PopHandler` for
//!   each handler they leave (and `EndExcept` for each except-block they leave), inlining
//!   `finally` bodies as needed.
//! - **Classes**: `NewClass` creates the class object; the compiler runs the class body inline
//!   in the enclosing function, storing each class-level definition with `SetAttr cls, name, v`
//!   (so `def init`/`_init` are stored as `__init__`). Methods that use zero-argument `super()`
//!   capture the class through a cell named `__class__`; `super().m` is `GetSuper`.
//!   Calling a user class creates an instance and calls `__init__` (if any) with it.
//! - **Generator expressions** are protos with `FuncProto::is_generator`: calling the closure
//!   returns a lazy iterator; `Yield A` produces `R[A]`; `ReturnNone`/`Return` ends it. Pass the
//!   first iterable (already `iter()`-ed or not) as the generator's first argument, as CPython.
//!
//! Stability: opcodes are only ever added at the end; existing numbers and semantics stay.

/// One encoded instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Instr(pub u32);

pub const MAX_A: u32 = 255;
pub const MAX_BX: u32 = u16::MAX as u32;
pub const MAX_SBX: i32 = i16::MAX as i32;
pub const MIN_SBX: i32 = i16::MIN as i32;
pub const MAX_SJ: i32 = (1 << 23) - 1;
pub const MIN_SJ: i32 = -(1 << 23);
/// The value of an 8-bit constant operand meaning "index in the following `ExtraArg`".
pub const K_EXTRA: u8 = 255;

impl Instr {
    #[inline(always)]
    pub fn abc(op: Op, a: u8, b: u8, c: u8) -> Instr {
        Instr(op as u32 | (a as u32) << 8 | (b as u32) << 16 | (c as u32) << 24)
    }
    #[inline(always)]
    pub fn abx(op: Op, a: u8, bx: u16) -> Instr {
        Instr(op as u32 | (a as u32) << 8 | (bx as u32) << 16)
    }
    #[inline(always)]
    pub fn asbx(op: Op, a: u8, sbx: i16) -> Instr {
        Instr(op as u32 | (a as u32) << 8 | ((sbx as u16) as u32) << 16)
    }
    /// A jump-format instruction; `sj` must be within `MIN_SJ..=MAX_SJ`.
    #[inline(always)]
    pub fn sj(op: Op, sj: i32) -> Instr {
        debug_assert!((MIN_SJ..=MAX_SJ).contains(&sj));
        Instr(op as u32 | ((sj as u32) & 0x00ff_ffff) << 8)
    }
    /// `Jmp sJ`.
    #[inline(always)]
    pub fn jmp(sj: i32) -> Instr {
        Instr::sj(Op::Jmp, sj)
    }
    /// `ExtraArg Ax` (24-bit payload).
    #[inline(always)]
    pub fn extra(ax: u32) -> Instr {
        debug_assert!(ax <= 0x00ff_ffff);
        Instr(Op::ExtraArg as u32 | (ax & 0x00ff_ffff) << 8)
    }
    /// Encode an 8-bit constant operand: `(operand, Some(extra_word))` when `idx >= 255`.
    pub fn k8(idx: u32) -> (u8, Option<Instr>) {
        if idx < K_EXTRA as u32 {
            (idx as u8, None)
        } else {
            (K_EXTRA, Some(Instr::extra(idx)))
        }
    }
    /// The opcode, or `None` for an invalid byte.
    #[inline(always)]
    pub fn op(self) -> Option<Op> {
        Op::from_u8(self.0 as u8)
    }
    #[inline(always)]
    pub fn op_byte(self) -> u8 {
        self.0 as u8
    }
    #[inline(always)]
    pub fn a(self) -> usize {
        ((self.0 >> 8) & 0xff) as usize
    }
    #[inline(always)]
    pub fn b(self) -> usize {
        ((self.0 >> 16) & 0xff) as usize
    }
    #[inline(always)]
    pub fn c(self) -> usize {
        (self.0 >> 24) as usize
    }
    /// B as a signed 8-bit immediate (`TestLtI` and friends).
    #[inline(always)]
    pub fn sb(self) -> i64 {
        ((self.0 >> 16) as u8) as i8 as i64
    }
    /// C as a signed 8-bit immediate (`AddI`, `SubI`).
    #[inline(always)]
    pub fn sc(self) -> i64 {
        ((self.0 >> 24) as u8) as i8 as i64
    }
    #[inline(always)]
    pub fn bx(self) -> usize {
        (self.0 >> 16) as usize
    }
    #[inline(always)]
    pub fn sbx(self) -> i64 {
        ((self.0 >> 16) as u16) as i16 as i64
    }
    #[inline(always)]
    pub fn sj_off(self) -> isize {
        ((self.0 as i32) >> 8) as isize
    }
    #[inline(always)]
    pub fn ax(self) -> usize {
        (self.0 >> 8) as usize
    }
    /// Rewrite the offset of a jump-format instruction (for back-patching).
    pub fn with_sj(self, sj: i32) -> Instr {
        Instr((self.0 & 0xff) | ((sj as u32) & 0x00ff_ffff) << 8)
    }
}

impl std::fmt::Debug for Instr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.op() {
            Some(op) => write!(f, "{:?}(a={} b={} c={})", op, self.a(), self.b(), self.c()),
            None => write!(f, "Invalid({:#010x})", self.0),
        }
    }
}

/// Operand layout of an opcode (for the disassembler and encoders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    ABC,
    ABx,
    AsBx,
    SJ,
    Ax,
}

macro_rules! ops {
    ($( $(#[doc = $doc:expr])* $name:ident = $fmt:ident, )*) => {
        /// Opcodes. See the module docs for notation and conventions.
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op {
            $( $(#[doc = $doc])* $name, )*
        }
        const ALL_OPS: &[Op] = &[ $( Op::$name, )* ];
        impl Op {
            pub const COUNT: usize = ALL_OPS.len();
            #[inline(always)]
            pub fn from_u8(b: u8) -> Option<Op> {
                ALL_OPS.get(b as usize).copied()
            }
            pub fn name(self) -> &'static str {
                match self { $( Op::$name => stringify!($name), )* }
            }
            pub fn format(self) -> Format {
                match self { $( Op::$name => Format::$fmt, )* }
            }
        }
    };
}

ops! {
    // ---- loads and moves ----
    /// `R[A] := R[B]`
    Move = ABC,
    /// `R[A] := K[Bx]`
    LoadK = ABx,
    /// `R[A] := sBx` (int immediate)
    LoadInt = AsBx,
    /// `R[A..=A+B] := None`
    LoadNone = ABC,
    /// `R[A] := True`
    LoadTrue = ABC,
    /// `R[A] := False`
    LoadFalse = ABC,
    /// Payload word for the previous instruction (never executed on its own).
    ExtraArg = Ax,

    // ---- globals, cells, closures ----
    /// `R[A] := G[Bx]` (falls back to task locals, then built-ins, then NameError)
    GetGlobal = ABx,
    /// `G[Bx] := R[A]`
    SetGlobal = ABx,
    /// `del G[Bx]` (NameError if unset)
    DelGlobal = ABx,
    /// `R[A] := builtin named K[Bx]` (task locals first, then `Vm::builtins`; ignores globals)
    GetBuiltin = ABx,
    /// `R[A] := Cell(R[A])` (box a local that closures capture; params are boxed at entry)
    MakeCell = ABC,
    /// `R[A] := R[B].cell_contents` (R[B] holds a cell)
    GetCell = ABC,
    /// `R[A].cell_contents := R[B]` (R[A] holds a cell)
    SetCell = ABC,
    /// `R[A] := upvalue[B].cell_contents` (a captured variable of the running closure)
    GetUpval = ABC,
    /// `upvalue[B].cell_contents := R[A]`
    SetUpval = ABC,
    /// `R[A] := closure(protos[Bx])` with defaults taken from `R[A+1..]` (positional defaults
    /// then keyword-only defaults, `FuncProto::params` says how many) and captures per
    /// `FuncProto::captures`.
    Closure = ABx,

    // ---- arithmetic ----
    /// `R[A] := R[B] + R[C]`
    Add = ABC,
    /// `R[A] := R[B] - R[C]`
    Sub = ABC,
    /// `R[A] := R[B] * R[C]`
    Mul = ABC,
    /// `R[A] := R[B] / R[C]`
    Div = ABC,
    /// `R[A] := R[B] // R[C]`
    FloorDiv = ABC,
    /// `R[A] := R[B] % R[C]`
    Mod = ABC,
    /// `R[A] := R[B] ** R[C]`
    Pow = ABC,
    /// `R[A] := R[B] << R[C]`
    LShift = ABC,
    /// `R[A] := R[B] >> R[C]`
    RShift = ABC,
    /// `R[A] := R[B] & R[C]`
    BitAnd = ABC,
    /// `R[A] := R[B] | R[C]`
    BitOr = ABC,
    /// `R[A] := R[B] ^ R[C]`
    BitXor = ABC,
    /// `R[A] := R[B] @ R[C]`
    MatMul = ABC,
    /// `R[A] := R[B] + sC` (sC: signed 8-bit immediate)
    AddI = ABC,
    /// `R[A] := R[B] - sC`
    SubI = ABC,
    /// `R[A] := R[A] (op C)= R[B]`: augmented assignment; C is the `ArithOp` number
    /// (`Op::arith_op_code`). Moves R[A] out first so a unique string/list is updated in place.
    Aug = ABC,
    /// `R[A] := -R[B]`
    Neg = ABC,
    /// `R[A] := +R[B]`
    Pos = ABC,
    /// `R[A] := ~R[B]`
    Invert = ABC,
    /// `R[A] := not R[B]`
    Not = ABC,

    // ---- comparisons producing values ----
    /// `R[A] := R[B] == R[C]`
    Eq = ABC,
    /// `R[A] := R[B] != R[C]`
    Ne = ABC,
    /// `R[A] := R[B] < R[C]`
    Lt = ABC,
    /// `R[A] := R[B] <= R[C]`
    Le = ABC,
    /// `R[A] := R[B] > R[C]`
    Gt = ABC,
    /// `R[A] := R[B] >= R[C]`
    Ge = ABC,
    /// `R[A] := R[B] is R[C]`
    Is = ABC,
    /// `R[A] := R[B] is not R[C]`
    IsNot = ABC,
    /// `R[A] := R[B] in R[C]`
    In = ABC,
    /// `R[A] := R[B] not in R[C]`
    NotIn = ABC,

    // ---- jumps and tests (a test is followed by a Jmp taken when the condition is false) ----
    /// `pc += sJ` (backward jumps count against the instruction budget)
    Jmp = SJ,
    /// test `R[A]` is truthy
    Test = ABC,
    /// test `R[A]` is falsy
    TestNot = ABC,
    /// test `R[A] < R[B]`
    TestLt = ABC,
    /// test `R[A] <= R[B]`
    TestLe = ABC,
    /// test `R[A] > R[B]`
    TestGt = ABC,
    /// test `R[A] >= R[B]`
    TestGe = ABC,
    /// test `R[A] == R[B]`
    TestEq = ABC,
    /// test `R[A] != R[B]`
    TestNe = ABC,
    /// test `R[A] < sB` (sB: signed 8-bit immediate)
    TestLtI = ABC,
    /// test `R[A] <= sB`
    TestLeI = ABC,
    /// test `R[A] > sB`
    TestGtI = ABC,
    /// test `R[A] >= sB`
    TestGeI = ABC,
    /// test `R[A] == sB`
    TestEqI = ABC,
    /// test `R[A] != sB`
    TestNeI = ABC,
    /// test `R[A] is None`
    TestNone = ABC,

    // ---- loops ----
    /// Loop setup: `R[A]` holds the iterable; turns `R[A..=A+2]` into loop state (a `range`
    /// runs without allocation, a list is indexed live, anything else goes through `iter()`).
    ForPrep = ABC,
    /// Loop step (a test): `R[B] := next item`; condition false (→ take following `Jmp`, the
    /// loop exit) when exhausted. Counts against the instruction budget.
    ForNext = ABC,
    /// `R[A] := iter(R[B])`
    GetIter = ABC,
    /// Test: `R[B] := next(R[A])`; false when the iterator is exhausted.
    IterNext = ABC,

    // ---- calls ----
    /// `R[A] := R[A](R[A+1], ..., R[A+B])`
    Call = ABC,
    /// `R[A] := G[C](R[A+1], ..., R[A+B])`: `GetGlobal` + `Call` in one dispatch (only for
    /// arguments whose evaluation cannot rebind globals: the compiler checks).
    CallGlobal = ABC,
    /// `R[A] := R[A](R[A+1..=A+B], **{K[C][i]: R[A+B+1+i]})`: keyword call; `K[C]` is a
    /// `Const::Names` of the keyword names (C is an 8-bit constant operand).
    CallKw = ABC,
    /// `R[A] := R[A](*R[A+1], **R[A+2])`: R[A+1] a list/tuple of positional args, R[A+2] a dict
    /// or None (for `f(*xs, **kw)`).
    CallEx = ABC,
    /// `R[A] := R[A].K[C](R[A+1], ..., R[A+B])` without creating a bound method.
    CallMethod = ABC,
    /// `return R[A]`
    Return = ABC,
    /// `return None`
    ReturnNone = ABC,
    /// Generator: produce `R[A]` and pause.
    Yield = ABC,

    // ---- attributes and items ----
    /// `R[A] := R[B].K[C]`
    GetAttr = ABC,
    /// `R[A].K[B] := R[C]`
    SetAttr = ABC,
    /// `del R[A].K[B]`
    DelAttr = ABC,
    /// `R[A] := R[B][R[C]]`
    GetItem = ABC,
    /// `R[A][R[B]] := R[C]`
    SetItem = ABC,
    /// `del R[A][R[B]]`
    DelItem = ABC,
    /// `R[A] := slice(R[B], R[B+1], R[B+2])`
    BuildSlice = ABC,
    /// `R[A] := super(R[B], R[B+1]).K[C]` (R[B] the class from `__class__`, R[B+1] `self`)
    GetSuper = ABC,

    // ---- containers ----
    /// `R[A] := [R[B], ..., R[B+C-1]]`
    BuildList = ABC,
    /// `R[A] := (R[B], ..., R[B+C-1])`
    BuildTuple = ABC,
    /// `R[A] := {R[B], ..., R[B+C-1]}`
    BuildSet = ABC,
    /// `R[A] := {R[B]: R[B+1], ..., }` with C pairs
    BuildDict = ABC,
    /// `R[A].append(R[B])` (R[A] a list)
    ListAppend = ABC,
    /// `R[A].extend(R[B])` (R[A] a list; `[*xs]`, `f(*xs)`)
    ListExtend = ABC,
    /// `R[A] := tuple(R[B])` (R[B] a list)
    ListToTuple = ABC,
    /// `R[A].add(R[B])` (R[A] a set)
    SetAdd = ABC,
    /// `R[A][R[B]] := R[C]` (R[A] a dict)
    DictSet = ABC,
    /// `R[A].update(R[B])` (R[A] a dict; `{**d}`, `f(**kw)`; TypeError if R[B] is no mapping)
    DictUpdate = ABC,
    /// `R[A], ..., R[A+C-1] := R[B]` (exactly C items, else ValueError with Python's wording)
    Unpack = ABC,
    /// `R[A..] := R[B]` with a starred target: `C & 15` targets before the star, `C >> 4` after;
    /// the starred list goes to `R[A + (C & 15)]`.
    UnpackStar = ABC,

    // ---- strings ----
    /// `R[A] := format(R[B])`: `C & 3` is the conversion (0 none, 1 `!s`, 2 `!r`, 3 `!a`);
    /// `C & 4` set means the format spec string is in `R[B+1]`.
    FormatValue = ABC,
    /// `R[A] := R[B] + ... + R[B+C-1]` (all strings; f-string assembly)
    BuildString = ABC,

    // ---- exceptions ----
    /// Push an `except` handler at `pc + sJ`.
    SetupExcept = SJ,
    /// Push a `finally` handler at `pc + sJ` (also runs for `respond()` unwinding).
    SetupFinally = SJ,
    /// Pop the innermost handler of this frame (the protected body completed).
    PopHandler = ABC,
    /// `R[A] := (the caught exception matches R[B])`; R[B] a class or a tuple of classes.
    ExcMatch = ABC,
    /// `R[A] := the caught exception's value (instance)`
    GetExc = ABC,
    /// The except block completed: pop the caught stack.
    EndExcept = ABC,
    /// `raise R[A]` (a class is instantiated without arguments)
    Raise = ABC,
    /// `raise R[A] from R[B]`
    RaiseFrom = ABC,
    /// Re-raise the caught exception (pops it), traceback kept. Outside a handler:
    /// `RuntimeError: No active exception to reraise`.
    Reraise = ABC,
    /// `raise AssertionError` (B = 0) or `raise AssertionError(R[A])` (B = 1)
    RaiseAssert = ABC,

    // ---- classes, modules, routes ----
    /// `R[A] := new class named K[B]` with base `R[C]` (None: no base)
    NewClass = ABC,
    /// `R[A] := import native module named K[Bx]`
    Import = ABx,
    /// `R[A] := R[B].K[C]` for `from m import name` (ImportError when missing)
    ImportFrom = ABC,
    /// `R[A] := module object of `Program::modules[Bx]` (runs its top-level code once; `extend`)
    LoadModule = ABx,
    /// `route_handlers[Bx] := R[A]` (index into `Program::routes`)
    RegisterRoute = ABx,
    /// Do nothing.
    Nop = ABC,
    /// `R[A] := R[B] + R[C]` where `R[B]` is a dead temporary (the compiler never reads it
    /// again): a uniquely referenced string in `R[B]` is extended in place, so
    /// `"a" + str(i) + ";"` allocates once.
    AddTmp = ABC,
    /// `G[X] := R[A] (op C)= R[B]` where `R[A]` holds the value just read from `G[X]` and X is
    /// the `Ax` of the `ExtraArg` word that always follows. When `R[A]` is still the slot's
    /// object, the register's reference is dropped first so a unique string is extended in
    /// place (`s += x` on a module-level name). `R[A]` is left undefined.
    AugGlobal = ABC,
    /// `R[A] := R[B] + R[C]` where `R[C]` is a dead temporary: a uniquely referenced string in
    /// `R[C]` gets `R[B]` inserted in front in place (`"k" + str(i)` allocates once).
    AddTmpR = ABC,
    /// Raise unless a local has a value. `C & 3` says where it lives: 0 `R[A]`, 1 the cell in
    /// `R[A]`, 2 `upvalue[A]`; `K[B]` names it (kB); `C & 4` raises CPython's free-variable
    /// `NameError` instead of `UnboundLocalError`. Emitted only on possibly-unbound reads.
    CheckBound = ABC,
    /// Make a local unbound (`del x`, the end of `except E as x`, the start of a local that has
    /// checked reads): `C` as in `CheckBound` (0 `R[A]`, 1 the cell in `R[A]`, 2 `upvalue[A]`).
    Unbind = ABC,
    /// Push a handler at `pc + sJ` that catches only the `respond()`/`status()` signal (the
    /// `inner()` of a `decorator` block): its code reads the payload with `GetExc`.
    SetupRespond = SJ,
    /// Loop step at the loop's foot (a test with the sense of `ForNext` reversed): `R[B] :=
    /// next item` and take the following `Jmp` back to the body; when exhausted, skip it and fall
    /// out of the loop. One dispatch per iteration instead of `ForNext` + a back `Jmp`.
    ForLoop = ABC,
    /// `R[A] := R[B].name(R[C])`, `name` being `K[Ax]` of the `ExtraArg` word that always
    /// follows. `R[B]` and `R[C]` are only read (no moves into a call window); `R[A]` and
    /// `R[A+1]` are scratch. `list.append` runs in place, anything else as `CallMethod`.
    CallMethodR = ABC,
}

impl Op {
    /// The `C` operand of `Aug` for each `ops::ArithOp`.
    pub const fn arith_op_code(op: crate::ops::ArithOp) -> u8 {
        use crate::ops::ArithOp::*;
        match op {
            Add => 0,
            Sub => 1,
            Mul => 2,
            Div => 3,
            FloorDiv => 4,
            Mod => 5,
            Pow => 6,
            LShift => 7,
            RShift => 8,
            BitAnd => 9,
            BitOr => 10,
            BitXor => 11,
            MatMul => 12,
        }
    }
    /// Inverse of [`Op::arith_op_code`].
    pub fn arith_op_from_code(c: u8) -> Option<crate::ops::ArithOp> {
        use crate::ops::ArithOp::*;
        Some(match c {
            0 => Add,
            1 => Sub,
            2 => Mul,
            3 => Div,
            4 => FloorDiv,
            5 => Mod,
            6 => Pow,
            7 => LShift,
            8 => RShift,
            9 => BitAnd,
            10 => BitOr,
            11 => BitXor,
            12 => MatMul,
            _ => return None,
        })
    }
    /// True for instructions whose following word is a `Jmp` they may take.
    pub fn is_test(self) -> bool {
        matches!(
            self,
            Op::Test
                | Op::TestNot
                | Op::TestLt
                | Op::TestLe
                | Op::TestGt
                | Op::TestGe
                | Op::TestEq
                | Op::TestNe
                | Op::TestLtI
                | Op::TestLeI
                | Op::TestGtI
                | Op::TestGeI
                | Op::TestEqI
                | Op::TestNeI
                | Op::TestNone
                | Op::ForNext
                | Op::ForLoop
                | Op::IterNext
        )
    }
    /// True for instructions with an 8-bit constant operand (which may be followed by an
    /// `ExtraArg`), and which operand it is (`'B'` or `'C'`).
    pub fn k8_operand(self) -> Option<char> {
        match self {
            Op::CallKw | Op::CallMethod | Op::GetAttr | Op::GetSuper | Op::ImportFrom => Some('C'),
            Op::SetAttr | Op::DelAttr | Op::NewClass | Op::CheckBound => Some('B'),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let i = Instr::abc(Op::Add, 1, 2, 3);
        assert_eq!((i.op(), i.a(), i.b(), i.c()), (Some(Op::Add), 1, 2, 3));
        let i = Instr::asbx(Op::LoadInt, 7, -5);
        assert_eq!((i.a(), i.sbx()), (7, -5));
        let i = Instr::abx(Op::LoadK, 9, 65535);
        assert_eq!((i.a(), i.bx()), (9, 65535));
        let i = Instr::jmp(-3);
        assert_eq!(i.sj_off(), -3);
        assert_eq!(Instr::jmp(MAX_SJ).sj_off(), MAX_SJ as isize);
        assert_eq!(Instr::jmp(MIN_SJ).sj_off(), MIN_SJ as isize);
        let i = Instr::abc(Op::AddI, 0, 1, (-2i8) as u8);
        assert_eq!(i.sc(), -2);
        assert_eq!(Instr::extra(70000).ax(), 70000);
        assert!(Op::COUNT < 256);
    }
}
