//! A short round of the mutation fuzzer (`tests/common/fuzz.rs`; the long run is
//! `cargo run --release --example fuzz`): every reader of user input, fed mutated NIfTI, gzip,
//! JSON, TOML, store and DICOM inputs, never panics, never hangs, and names the file it refuses.

mod common;
use common::seg;
#[path = "common/fuzz.rs"]
mod fuzz;

#[test]
fn mutated_inputs_never_panic_hang_or_refuse_without_naming_the_file() {
    let dir = common::tempdir();
    let real = common::real_data();
    let mut fuzzer = fuzz::Fuzzer::new(dir.path(), real.as_deref(), 2026);
    let counts = fuzzer.run(10_000, |_| {});
    let failures: Vec<String> = counts
        .failures
        .iter()
        .take(10)
        .map(|(t, why, _)| format!("{t}: {why}"))
        .collect();
    assert!(counts.failures.is_empty(), "{counts:?}\n{failures:#?}");
    assert_eq!(counts.tried, 10_000);
    // The mutations reach past the first check: some inputs are read, many refused.
    assert!(counts.accepted > 500 && counts.refused > 3000, "{counts:?}");
}
