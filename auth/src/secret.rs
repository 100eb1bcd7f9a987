//! The signing secret: where it comes from (`auth.secret_key`, else `ASK_SECRET`, else
//! `[auth] secret`, else a generated one), whether it is strong enough for `ask start`, and the file in `.ask/` that
//! keeps `ask dev`'s generated secret across reloads and restarts.
//!
//! The secret is held in [`Secret`], whose `Debug` never shows the bytes, so it cannot reach a log
//! by accident. Messages name the *source* of a secret, never its value.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Minimum length `ask start` accepts (HS256's key should be at least the hash size, RFC 7518
/// §3.2: 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// Name of the file, inside the `.ask/` directory, that keeps `ask dev`'s generated secret.
pub const DEV_SECRET_FILE: &str = "secret";

/// Secret bytes. `Debug` is redacted; there is deliberately no `Display`. Overwritten with zeros
/// when dropped (best effort: copies made by callers are theirs to handle).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Where the secret came from (for messages: "the secret from ASK_SECRET is 12 bytes …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `auth.secret_key = …` in the program.
    Program,
    /// The `ASK_SECRET` environment variable.
    Env,
    /// `[auth] secret` in `Askfile.toml`.
    Askfile,
    /// `ask dev`'s generated secret kept in this file.
    DevFile(PathBuf),
    /// Generated for this process only (`ask start` without a configured secret).
    Generated,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Program => f.write_str("auth.secret_key in the program"),
            SecretSource::Env => f.write_str("the ASK_SECRET environment variable"),
            SecretSource::Askfile => f.write_str("[auth] secret in Askfile.toml"),
            SecretSource::DevFile(p) => {
                write!(f, "the generated development secret in {}", p.display())
            }
            SecretSource::Generated => f.write_str("a secret generated for this process"),
        }
    }
}

/// Picks the configured secret in priority order: the program's `auth.secret_key`, then
/// `ASK_SECRET`, then `[auth] secret`. An empty value counts as unset (an empty `ASK_SECRET=` in a
/// shell or `.env` is far more likely a mistake than a choice). `None`: nothing configured; the
/// caller then uses [`load_or_create_dev_secret`] (`ask dev`) or [`generate`] (`ask start`).
///
/// The text is used as its UTF-8 bytes, as PyJWT did, so tokens that 1.5.0 signed with the same
/// secret stay valid.
pub fn resolve_secret(
    program_value: Option<&str>,
    env_ask_secret: Option<&str>,
    askfile_secret: Option<&str>,
) -> Option<(Secret, SecretSource)> {
    [
        (program_value, SecretSource::Program),
        (env_ask_secret, SecretSource::Env),
        (askfile_secret, SecretSource::Askfile),
    ]
    .into_iter()
    .find_map(|(v, src)| match v {
        Some(v) if !v.is_empty() => Some((Secret::new(v.as_bytes().to_vec()), src)),
        _ => None,
    })
}

/// Which command is running: `ask start` refuses weak secrets, `ask dev` only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Dev,
    Start,
}

/// `ask start` with a secret shorter than [`MIN_SECRET_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakSecretError {
    pub source: SecretSource,
    pub len: usize,
}

impl fmt::Display for WeakSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the secret from {} is {} bytes long; `ask start` needs at least {} bytes (for example \
             the output of `openssl rand -hex 32`)",
            self.source, self.len, MIN_SECRET_BYTES
        )
    }
}

impl std::error::Error for WeakSecretError {}

/// Checks the secret's length. `Start`: shorter than 32 bytes → error naming the source. `Dev`:
/// the same condition gives a warning text (`Ok(Some(..))`). A generated secret also warns in
/// `Start` mode, because tokens will not survive a restart and differ between processes.
pub fn check_strength(
    secret: &Secret,
    source: &SecretSource,
    mode: Mode,
) -> Result<Option<String>, WeakSecretError> {
    if secret.len() < MIN_SECRET_BYTES {
        return match mode {
            Mode::Start => Err(WeakSecretError { source: source.clone(), len: secret.len() }),
            Mode::Dev => Ok(Some(format!(
                "warning: the secret from {} is only {} bytes long; `ask start` will refuse secrets \
                 shorter than {} bytes",
                source,
                secret.len(),
                MIN_SECRET_BYTES
            ))),
        };
    }
    if mode == Mode::Start && *source == SecretSource::Generated {
        return Ok(Some(
            "warning: no secret configured (auth.secret_key, ASK_SECRET or [auth] secret); using a \
             random one for this process: tokens will not survive a restart and are not shared \
             between processes"
                .to_owned(),
        ));
    }
    Ok(None)
}

/// 32 random bytes from the operating system's CSPRNG.
pub fn generate() -> io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| io::Error::other(format!("OS randomness unavailable: {e}")))?;
    Ok(b)
}

/// A fresh random secret for this process (`ask start` without a configured secret; pass the
/// result to [`check_strength`] to get the warning to print).
pub fn generated() -> io::Result<(Secret, SecretSource)> {
    Ok((Secret::new(generate()?.to_vec()), SecretSource::Generated))
}

/// What [`load_or_create_dev_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevSecretStatus {
    /// An existing secret was read.
    Loaded,
    /// There was none: a new one was generated and stored.
    Created,
    /// The file was unreadable as a secret (not 64+ hex digits): a new one replaced it.
    Replaced,
}

/// `ask dev`'s secret: reads `<ask_dir>/secret` (64 hex digits), or generates 32 random bytes and
/// stores them there, creating `ask_dir` if needed. The file is created with mode 0600 (and an
/// existing file readable by others is tightened to 0600). Creation is atomic: the content is
/// written to a temporary file which is then hard-linked into place, so two processes starting at
/// once end up with the same secret and nobody reads a half-written file.
pub fn load_or_create_dev_secret(
    ask_dir: &Path,
) -> io::Result<(Secret, SecretSource, DevSecretStatus)> {
    let path = ask_dir.join(DEV_SECRET_FILE);
    let source = SecretSource::DevFile(path.clone());
    let mut status = DevSecretStatus::Created;
    match fs::read_to_string(&path) {
        Ok(text) => {
            if let Some(bytes) = parse_hex(text.trim()).filter(|b| b.len() >= MIN_SECRET_BYTES) {
                tighten_permissions(&path)?;
                return Ok((Secret::new(bytes), source, DevSecretStatus::Loaded));
            }
            status = DevSecretStatus::Replaced;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(ask_dir)?;
    let secret = Secret::new(generate()?.to_vec());
    let tmp = ask_dir.join(format!(".{DEV_SECRET_FILE}.{}.tmp", std::process::id()));
    {
        let mut f = create_private(&tmp)?;
        f.write_all(to_hex(secret.as_bytes()).as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    let result = if status == DevSecretStatus::Replaced {
        fs::rename(&tmp, &path)
    } else {
        match fs::hard_link(&tmp, &path) {
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(&tmp);
                let text = fs::read_to_string(&path)?;
                let bytes = parse_hex(text.trim())
                    .filter(|b| b.len() >= MIN_SECRET_BYTES)
                    .ok_or_else(|| {
                        io::Error::other(format!("{} is not a valid secret file", path.display()))
                    })?;
                return Ok((Secret::new(bytes), source, DevSecretStatus::Loaded));
            }
            r => {
                let _ = fs::remove_file(&tmp);
                r
            }
        }
    };
    result?;
    Ok((secret, source, status))
}

#[cfg(unix)]
fn create_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(unix)]
fn tighten_permissions(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_permissions(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes of an even-length hex string (either case), `None` if it is not one.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() & 1 == 1 {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            Some((h * 16 + l) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_order() {
        let (s, src) = resolve_secret(Some("prog"), Some("env"), Some("file")).unwrap();
        assert_eq!((s.as_bytes(), src), (&b"prog"[..], SecretSource::Program));
        let (s, src) = resolve_secret(None, Some("env"), Some("file")).unwrap();
        assert_eq!((s.as_bytes(), src), (&b"env"[..], SecretSource::Env));
        let (s, src) = resolve_secret(Some(""), Some(""), Some("file")).unwrap();
        assert_eq!((s.as_bytes(), src), (&b"file"[..], SecretSource::Askfile));
        assert!(resolve_secret(None, None, None).is_none());
        assert!(resolve_secret(Some(""), None, Some("")).is_none());
        // UTF-8 bytes of the text.
        let (s, _) = resolve_secret(Some("café"), None, None).unwrap();
        assert_eq!(s.as_bytes(), "café".as_bytes());
    }

    #[test]
    fn strength_rules() {
        let short = Secret::new(b"short-secret".to_vec());
        let long = Secret::new(vec![b'x'; 32]);
        let e = check_strength(&short, &SecretSource::Env, Mode::Start).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("ASK_SECRET") && msg.contains("12 bytes") && msg.contains("32"),
            "{msg}"
        );
        assert!(!msg.contains("short-secret"));
        let e = check_strength(&short, &SecretSource::Askfile, Mode::Start).unwrap_err();
        assert!(e.to_string().contains("Askfile.toml"));
        let e = check_strength(&short, &SecretSource::Program, Mode::Start).unwrap_err();
        assert!(e.to_string().contains("auth.secret_key"));
        let w = check_strength(&short, &SecretSource::Env, Mode::Dev)
            .unwrap()
            .unwrap();
        assert!(w.contains("ASK_SECRET") && !w.contains("short-secret"));
        assert_eq!(
            check_strength(&long, &SecretSource::Env, Mode::Start),
            Ok(None)
        );
        assert_eq!(
            check_strength(&long, &SecretSource::Env, Mode::Dev),
            Ok(None)
        );
        assert!(check_strength(&long, &SecretSource::Generated, Mode::Start)
            .unwrap()
            .is_some());
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new(b"super-secret-value".to_vec());
        let d = format!("{s:?}");
        assert!(!d.contains("super") && d.contains("18 bytes"), "{d}");
    }

    #[test]
    fn generate_is_random() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn hex_roundtrip() {
        assert_eq!(to_hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(parse_hex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("zz"), None);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ask-auth-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn dev_secret_file_lifecycle() {
        let root = temp_dir("dev");
        let dir = root.join(".ask");
        let (s1, src, st) = load_or_create_dev_secret(&dir).unwrap();
        assert_eq!(st, DevSecretStatus::Created);
        assert_eq!(s1.len(), 32);
        assert_eq!(src, SecretSource::DevFile(dir.join("secret")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join("secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Survives a restart.
        let (s2, _, st) = load_or_create_dev_secret(&dir).unwrap();
        assert_eq!(st, DevSecretStatus::Loaded);
        assert_eq!(s1, s2);
        // A broken file is replaced.
        fs::write(dir.join("secret"), "not hex").unwrap();
        let (s3, _, st) = load_or_create_dev_secret(&dir).unwrap();
        assert_eq!(st, DevSecretStatus::Replaced);
        assert_ne!(s3, s1);
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(dir.join("secret"), fs::Permissions::from_mode(0o644)).unwrap();
            load_or_create_dev_secret(&dir).unwrap();
            let mode = fs::metadata(dir.join("secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&root).unwrap();
    }
}
