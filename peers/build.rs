//! Links libspandsp when it is installed (Debian: libspandsp-dev) and sets
//! `cfg(spandsp)`; without it the bridge's checks are skipped. CI sets
//! MODEMFLOW_REQUIRE_SPANDSP=1 so that a missing library fails instead.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(spandsp)");
    println!("cargo::rerun-if-env-changed=MODEMFLOW_REQUIRE_SPANDSP");
    let found = Command::new("pkg-config")
        .args(["--exists", "spandsp"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if found {
        println!("cargo::rustc-link-lib=spandsp");
        println!("cargo::rustc-cfg=spandsp");
    } else if std::env::var_os("MODEMFLOW_REQUIRE_SPANDSP").is_some() {
        panic!("libspandsp not found (pkg-config spandsp); install it with `apt-get install libspandsp-dev pkg-config`");
    } else {
        println!("cargo::warning=libspandsp not found: the spandsp cross-checks will be skipped");
    }
}
