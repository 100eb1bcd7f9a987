//! Build script: generates the LALRPOP parser from `src/grammar.lalrpop` (when present).
fn main() {
    println!("cargo:rerun-if-changed=src/grammar.lalrpop");
    if std::path::Path::new("src/grammar.lalrpop").exists() {
        lalrpop::Configuration::new()
            .use_cargo_dir_conventions()
            .process()
            .expect("LALRPOP grammar failed to generate");
    }
}
