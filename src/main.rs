//! The `weaksup` binary: a thin shell over the library's CLI.
fn main() -> std::process::ExitCode {
    weaksup::cli::main()
}
