//! The name normaliser and its components on arbitrary text: never
//! panics; normalising is idempotent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::normalise::name;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let n = name::normalise(s);
    assert_eq!(name::normalise(&n), n, "name normaliser not idempotent");
    let _ = name::phonetic(&n);
    let c = name::canonical(&n);
    assert_eq!(
        name::normalise(&c),
        c.as_ref(),
        "canonical form not normalised"
    );
    let _ = name::initial(&n);
    let _ = name::parts(&n).count();
});
