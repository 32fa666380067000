//! Embeds an rpath to libtorch's `lib/` folder in every binary, test, example and bench of this
//! package, so the built `weaksup` finds libtorch without LD_LIBRARY_PATH (an LD_LIBRARY_PATH
//! set by the user, e.g. on a GPU machine, still takes precedence).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let path = std::fs::canonicalize(&libtorch).unwrap_or_else(|_| libtorch.into());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", path.join("lib").display());
    }
}
